// What the HTTP sources share: their timeout and retry options with defaults and checks, and
// the small helpers around undici's answers and failures.
import type { Dispatcher } from 'undici';
import { BlockSourceError } from './errors.js';
import { DEFAULT_LOW_SPEED_BYTES_PER_SECOND, DEFAULT_LOW_SPEED_SECONDS, LowSpeedMeter } from './low-speed.js';

/**
 * Timeouts of the HTTP sources ({@link HttpSource}, {@link BlockStoreSource}), in milliseconds,
 * and their low-speed rule (curl's `--speed-limit`/`--speed-time`): a response body that averages
 * fewer than `lowSpeedBytesPerSecond` over the last `lowSpeedSeconds` of waiting is aborted and
 * retried like a timeout (then the next mirror), failing at last with
 * `ERR_BLOCKSOURCE_RETRIES_EXHAUSTED` whose cause is `ERR_BLOCKSOURCE_TOO_SLOW`. The rule catches
 * a server that drips bytes just often enough to beat the `idle` timeout. Only time spent waiting
 * for the server counts: time before the response headers (`firstByte` covers it), and time the
 * source itself holds the body back (its `rateLimit`, a slow consumer), do not; so a `rateLimit`
 * below `lowSpeedBytesPerSecond` is fine.
 */
export interface HttpTimeouts {
  /** Establishing a connection (default 10 000). */
  readonly connect?: number | undefined;
  /** From sending a request to its response headers (default 30 000). */
  readonly firstByte?: number | undefined;
  /** The longest pause between two body chunks (default 30 000). */
  readonly idle?: number | undefined;
  /** A whole request, headers and body (default 600 000). */
  readonly request?: number | undefined;
  /**
   * The low-speed limit in bytes per second, per response body (default 1024; 0 turns the rule
   * off). The default is far below any working link, and below the ~27 KiB/s that a full-size
   * `HttpSource` request (16 MiB) already needs to beat the `request` timeout; with `maxInFlight`
   * requests sharing a link, the rule asks the link for `maxInFlight` × this much.
   */
  readonly lowSpeedBytesPerSecond?: number | undefined;
  /**
   * The low-speed window in seconds, not milliseconds, as curl's `--speed-time` (default 30, the
   * `idle` timeout: a drip just inside it is caught after about as long as a stall; 0 turns the
   * rule off). A body shorter than this is never judged.
   */
  readonly lowSpeedSeconds?: number | undefined;
}

/** Retry policy of the HTTP sources ({@link HttpSource}, {@link BlockStoreSource}). */
export interface HttpRetryOptions {
  /** Retries after transient failures: network errors, timeouts, 408, 429, 5xx (default 5). */
  readonly count?: number | undefined;
  /** The first back-off ceiling in ms (default 200); it doubles per retry. */
  readonly baseDelay?: number | undefined;
  /** The largest back-off in ms (default 10 000). */
  readonly maxDelay?: number | undefined;
  /** The longest `Retry-After` honoured, in ms (default 60 000); longer ones are capped. */
  readonly maxRetryAfter?: number | undefined;
}

/** The connection options every HTTP source takes. */
export interface HttpClientOptions {
  /** Timeouts. */
  readonly timeouts?: HttpTimeouts | undefined;
  /** Retries. */
  readonly retries?: HttpRetryOptions | undefined;
  /** Extra request headers (e.g. authorization). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** An undici dispatcher to use instead of the source's own `Agent` (not closed by `close()`). */
  readonly dispatcher?: Dispatcher | undefined;
}

/** @internal */
export type ResolvedTimeouts = Required<{ [K in keyof HttpTimeouts]: number }>;

/** @internal */
export type ResolvedRetries = Required<{ [K in keyof HttpRetryOptions]: number }>;

/**
 * An option that must be a finite number ≥ `min`, or absent (then `fallback`).
 *
 * @throws {@link BlockSourceError} `ERR_BLOCKSOURCE_INVALID_OPTION` naming the owner and option
 * @internal
 */
export function numberOption(owner: string, name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new BlockSourceError('ERR_BLOCKSOURCE_INVALID_OPTION', `${owner}: ${name} must be a number ≥ ${min}, got ${String(value)}`);
  }
  return value;
}

/** The timeouts with their defaults, checked. @internal */
export function resolveTimeouts(owner: string, t: HttpTimeouts = {}): ResolvedTimeouts {
  return {
    connect: numberOption(owner, 'timeouts.connect', t.connect, 10_000),
    firstByte: numberOption(owner, 'timeouts.firstByte', t.firstByte, 30_000),
    idle: numberOption(owner, 'timeouts.idle', t.idle, 30_000),
    request: numberOption(owner, 'timeouts.request', t.request, 600_000),
    lowSpeedBytesPerSecond: numberOption(
      owner,
      'timeouts.lowSpeedBytesPerSecond',
      t.lowSpeedBytesPerSecond,
      DEFAULT_LOW_SPEED_BYTES_PER_SECOND,
      0,
    ),
    lowSpeedSeconds: numberOption(owner, 'timeouts.lowSpeedSeconds', t.lowSpeedSeconds, DEFAULT_LOW_SPEED_SECONDS, 0),
  };
}

/**
 * A {@link LowSpeedMeter} with the timeouts' low-speed rule for one response body: when the body
 * is too slow it is destroyed with the error `tooSlow` makes of the meter's words (the measured
 * speed, the window and the limit), so the loop reading it throws that error.
 *
 * @internal
 */
export function lowSpeedMeter(
  timeouts: ResolvedTimeouts,
  body: { destroy(error?: Error): unknown },
  tooSlow: (what: string) => Error,
): LowSpeedMeter {
  const meter: LowSpeedMeter = new LowSpeedMeter({
    bytesPerSecond: timeouts.lowSpeedBytesPerSecond,
    seconds: timeouts.lowSpeedSeconds,
    onSlow: () => {
      body.destroy(tooSlow(meter.describe()));
    },
  });
  return meter;
}

/** The retry policy with its defaults, checked. @internal */
export function resolveRetries(owner: string, r: HttpRetryOptions = {}): ResolvedRetries {
  return {
    count: Math.floor(numberOption(owner, 'retries.count', r.count, 5, 0)),
    baseDelay: numberOption(owner, 'retries.baseDelay', r.baseDelay, 200, 0),
    maxDelay: numberOption(owner, 'retries.maxDelay', r.maxDelay, 10_000, 0),
    maxRetryAfter: numberOption(owner, 'retries.maxRetryAfter', r.maxRetryAfter, 60_000, 0),
  };
}

/** The first value of a response header. @internal */
export function responseHeader(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * What went wrong with a request that threw, in words, and whether it was a timeout: undici's
 * timeout codes, or the whole-request timer `timeout`.
 *
 * @internal
 */
export function describeNetworkFailure(
  cause: unknown,
  timeouts: ResolvedTimeouts,
  timeout: AbortSignal,
): { readonly what: string; readonly timedOut: boolean } {
  const code = typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined;
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return { what: `no connection within ${timeouts.connect} ms`, timedOut: true };
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return { what: `no response headers within ${timeouts.firstByte} ms`, timedOut: true };
  if (code === 'UND_ERR_BODY_TIMEOUT') return { what: `no body bytes for ${timeouts.idle} ms`, timedOut: true };
  if (timeout.aborted) return { what: `the request took longer than ${timeouts.request} ms`, timedOut: true };
  return { what: String(cause), timedOut: false };
}
