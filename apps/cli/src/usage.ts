// Pieces every command shares: output, exit codes, usage errors, number parsing and printing.

/** Where the CLI writes; tests pass buffers. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Whether stderr is a terminal: then long commands draw a progress line there. */
  readonly interactive?: boolean;
}

/** Exit codes (documented in every --help). */
export const EXIT_OK: number = 0;
export const EXIT_ERROR: number = 1;
export const EXIT_USAGE: number = 2;

export const EXIT_TEXT: string = `Exit codes:
  0  success
  1  error (the message starts with its stable code, e.g. ERR_INDEX_IO)
  2  usage error (unknown command or option, missing or bad argument)`;

/** A bad command line: printed with a hint to --help, exit code 2. */
export class UsageError extends Error {}

export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${n} bytes (${v.toFixed(1)} ${units[u] ?? ''})`;
}

export function parseInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name}: expected a non-negative integer, got ${JSON.stringify(value)}`);
  return Number(value);
}
