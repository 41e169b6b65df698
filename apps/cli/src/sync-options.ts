// The command line of `gosync sync`, shared by the command and by the early index request that
// main.ts sends before the rest of the program has loaded (early-index.ts).
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Agent } from 'undici';
import { UsageError, parseInteger } from './usage.js';

/** `gosync sync`'s options, for node:util's parseArgs. */
export const SYNC_OPTIONS = {
  output: { type: 'string', short: 'o' },
  seed: { type: 'string', short: 's', multiple: true },
  source: { type: 'string', multiple: true },
  workers: { type: 'string' },
  'no-resume': { type: 'boolean', default: false },
  retries: { type: 'string' },
  timeout: { type: 'string' },
  'limit-rate': { type: 'string' },
  'speed-limit': { type: 'string' },
  'speed-time': { type: 'string' },
  connections: { type: 'string' },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', short: 'q', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Headers of the index download (identity: index bytes are hashed and decoded as sent). */
export const INDEX_REQUEST_HEADERS: Readonly<Record<string, string>> = { 'accept-encoding': 'identity' };

/** The default `--timeout`, in seconds. */
export const DEFAULT_TIMEOUT_SECONDS: number = 30;

/**
 * The one connection pool of a sync, shared by the index download and the block sources, so
 * that the index's connection is reused for the blocks.
 */
export function createSyncAgent(connections: number | undefined): Agent {
  return new Agent({ connect: { timeout: 10_000 }, connections: connections ?? 6, keepAliveTimeout: 10_000 });
}

/** The values of `gosync sync`'s options, as parsed (not checked yet). */
export interface SyncArgValues {
  readonly output?: string | undefined;
  readonly seed?: string[] | undefined;
  readonly source?: string[] | undefined;
  readonly workers?: string | undefined;
  readonly 'no-resume': boolean;
  readonly retries?: string | undefined;
  readonly timeout?: string | undefined;
  readonly 'limit-rate'?: string | undefined;
  readonly 'speed-limit'?: string | undefined;
  readonly 'speed-time'?: string | undefined;
  readonly connections?: string | undefined;
  readonly json: boolean;
  readonly quiet: boolean;
  readonly help: boolean;
}

/**
 * Parses `gosync sync`'s command line (options not checked yet).
 *
 * @throws TypeError `ERR_PARSE_ARGS_*` for an unknown option or a missing value
 */
export function parseSyncArgs(args: readonly string[]): { values: SyncArgValues; positionals: string[] } {
  return parseArgs({ args: [...args], allowPositionals: true, strict: true, options: SYNC_OPTIONS });
}

/** The checked settings of a `gosync sync` command line. */
export interface SyncArgs {
  /** The index: a path or an http(s) URL. */
  readonly where: string;
  readonly output: string;
  /** Whether the output exists as a file (it is then a seed too). */
  readonly outputIsFile: boolean;
  readonly workers: number | undefined;
  readonly retries: number | undefined;
  /** Milliseconds (undefined: the default). */
  readonly timeout: number | undefined;
  readonly connections: number | undefined;
  readonly rateLimit: number | undefined;
  readonly lowSpeed: { readonly lowSpeedBytesPerSecond: number | undefined; readonly lowSpeedSeconds: number | undefined };
}

/**
 * Checks the parsed command line of `gosync sync` (not for `--help`).
 *
 * @throws UsageError for a missing or bad argument
 */
export function checkSyncArgs(values: SyncArgValues, positionals: readonly string[]): SyncArgs {
  if (positionals.length !== 1) throw new UsageError(`sync: expected one <index>, got ${positionals.length}`);
  if (values.output === undefined) throw new UsageError('sync: -o/--output is required');
  const existing = statSync(values.output, { throwIfNoEntry: false });
  if (existing?.isDirectory() === true) {
    throw new UsageError(`-o/--output: ${values.output} is a directory; give the path of the file to write`);
  }
  const workers = parseInteger('workers', values.workers);
  if (workers === 0) throw new UsageError('--workers: expected at least 1');
  const retries = parseInteger('retries', values.retries);
  const timeoutSeconds = parseInteger('timeout', values.timeout);
  if (timeoutSeconds === 0) throw new UsageError('--timeout: expected at least 1 second');
  const connections = parseInteger('connections', values.connections);
  if (connections === 0) throw new UsageError('--connections: expected at least 1');
  const rateLimit = parseRate(values['limit-rate']);
  const lowSpeed = {
    lowSpeedBytesPerSecond: parseRate(values['speed-limit'], 'speed-limit', 0),
    lowSpeedSeconds: parseInteger('speed-time', values['speed-time']),
  };
  if (lowSpeed.lowSpeedSeconds === 0) throw new UsageError('--speed-time: expected at least 1 second (--speed-limit 0 turns the check off)');
  return {
    where: positionals[0] as string,
    output: values.output,
    outputIsFile: existing?.isFile() === true,
    workers,
    retries,
    timeout: timeoutSeconds === undefined ? undefined : timeoutSeconds * 1000,
    connections,
    rateLimit,
    lowSpeed,
  };
}

/**
 * Parses `500k`, `10M`, `1.5G` (bytes per second, powers of 1024) or a plain number.
 *
 * @param option - the option's name, for the usage error
 * @param min - the smallest rate accepted (`--speed-limit` takes 0: off)
 */
export function parseRate(value: string | undefined, option = 'limit-rate', min = 1): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(value);
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m?.[2] ?? '').toLowerCase()];
  const rate = m === null || scale === undefined ? Number.NaN : Math.floor(Number(m[1]) * scale);
  if (!Number.isFinite(rate) || rate < min) {
    throw new UsageError(`--${option}: expected bytes per second like 500k or 10M${min === 0 ? ' (0: off)' : ''}, got ${JSON.stringify(value)}`);
  }
  return rate;
}

