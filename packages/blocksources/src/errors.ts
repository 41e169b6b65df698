import { GosyncError } from '@gosync/core';

/** Error codes thrown by `@gosync/blocksources`. Codes are part of the API. */
export type BlockSourceErrorCode =
  /** A requested range is not a valid byte range, or requested ranges overlap. */
  | 'ERR_BLOCKSOURCE_INVALID_RANGE'
  /** A requested range ends past the end of the file, object or URL. */
  | 'ERR_BLOCKSOURCE_OUT_OF_BOUNDS'
  /** The server answered 416 to a single range: it cannot serve that range. */
  | 'ERR_BLOCKSOURCE_RANGE_NOT_SATISFIABLE'
  /** The bytes received for a range failed the verifier (on every mirror tried). */
  | 'ERR_BLOCKSOURCE_VERIFY_FAILED'
  /** The server answered a status that is not retried (404, 403, 410, …). */
  | 'ERR_BLOCKSOURCE_HTTP_STATUS'
  /** The server ignores `Range` and the policy is `'fail'`. */
  | 'ERR_BLOCKSOURCE_RANGES_UNSUPPORTED'
  /** Connecting, waiting for headers, or waiting for body bytes took too long. */
  | 'ERR_BLOCKSOURCE_TIMEOUT'
  /**
   * A response body averaged fewer bytes per second than the low-speed limit over its window
   * (`timeouts.lowSpeedBytesPerSecond` and `timeouts.lowSpeedSeconds`); the message names the URL,
   * the range or object, and the measured speed.
   */
  | 'ERR_BLOCKSOURCE_TOO_SLOW'
  /** The server's answer breaks HTTP: bad `Content-Range`, bad multipart body, short body. */
  | 'ERR_BLOCKSOURCE_PROTOCOL'
  /** The file changed on the server during the sync (new ETag or Last-Modified). */
  | 'ERR_BLOCKSOURCE_CHANGED'
  /** Every retry failed; `cause` is the last failure. */
  | 'ERR_BLOCKSOURCE_RETRIES_EXHAUSTED'
  /** A network or file system error; `cause` is the original error. */
  | 'ERR_BLOCKSOURCE_IO'
  /** The source was used after `close()`. */
  | 'ERR_BLOCKSOURCE_CLOSED'
  /** An option outside its documented domain. */
  | 'ERR_BLOCKSOURCE_INVALID_OPTION'
  /**
   * A block store manifest is damaged or inconsistent: wrong magic, truncated, trailing bytes,
   * a bad checksum, counts that disagree, or more objects than the reader allows.
   */
  | 'ERR_BLOCKSOURCE_MANIFEST'
  /** A block store manifest of a newer format: unknown version, required feature or hash. */
  | 'ERR_BLOCKSOURCE_MANIFEST_UNSUPPORTED';

/**
 * The error class of `@gosync/blocksources`. Messages name the file or URL, the HTTP status and
 * the range that failed; match on `code`, never on the message.
 *
 * @example
 * ```ts
 * try { for await (const part of source.fetch(ranges)) use(part); } catch (e) {
 *   if (isGosyncError(e, 'ERR_BLOCKSOURCE_CHANGED')) restartSync();
 *   else throw e;
 * }
 * ```
 */
export class BlockSourceError extends GosyncError<BlockSourceErrorCode> {}

/**
 * Formats a range for messages as `[start, end)`.
 *
 * @internal
 */
export function describeRange(range: { readonly start: number; readonly end: number }): string {
  return `[${range.start}, ${range.end})`;
}
