// Pieces every command shares: output, exit codes, usage and I/O errors, number parsing and printing.
import { GosyncError } from '@gosync/core';

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

/** Codes of {@link CliError}. */
export type CliErrorCode = 'ERR_CLI_IO';

/**
 * A file the CLI itself reads or writes failed (`ERR_CLI_IO`); the message names the file as
 * the user gave it and what was being done, and `cause` keeps the system error.
 */
export class CliError extends GosyncError<CliErrorCode> {}

/** Whether `e` is a Node system error (an `errno`-style `code` plus the failed `syscall`). */
export function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && typeof (e as NodeJS.ErrnoException).syscall === 'string';
}

/**
 * The reason of a failure without the system call and path Node appends to its messages:
 * `EACCES: permission denied` for `EACCES: permission denied, open 'x.gsi.tmp-12'`, so that
 * a message names the file the user asked for, not a temporary one.
 */
export function systemReason(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  if (!isSystemError(e)) return e.message;
  const cut = e.message.indexOf(`, ${e.syscall ?? ''}`);
  return cut > 0 ? e.message.slice(0, cut) : e.message;
}

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
