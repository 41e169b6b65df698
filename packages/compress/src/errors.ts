import { GosyncError } from '@gosync/core';

/** Error codes thrown by `@gosync/compress`. Codes are part of the API. */
export type CompressErrorCode =
  /**
   * A compressed group is damaged: not a frame of the layout's codec, a bad checksum, trailing
   * bytes, or it inflates to a different size than the layout records.
   */
  | 'ERR_COMPRESS_CORRUPT'
  /** A compressed group claims or produces more bytes than the layout allows (a decompression bomb). */
  | 'ERR_COMPRESS_TOO_LARGE'
  /**
   * Encoded layout bytes are damaged or inconsistent: wrong magic, truncated, trailing bytes, a bad
   * checksum, sizes that disagree, or more groups than the reader allows.
   */
  | 'ERR_COMPRESS_LAYOUT'
  /** Encoded layout bytes of a newer format: unknown version, codec or required feature. */
  | 'ERR_COMPRESS_LAYOUT_UNSUPPORTED'
  /** Something this build cannot do: a zstd frame that names a dictionary when none is given. */
  | 'ERR_COMPRESS_UNSUPPORTED'
  /** A requested range is not a valid byte range, overlaps another, or ends past the target. */
  | 'ERR_COMPRESS_INVALID_RANGE'
  /** The inner source yielded a range that was not asked for, or bytes of the wrong length. */
  | 'ERR_COMPRESS_SOURCE'
  /** Target bytes failed the verifier after decompression. */
  | 'ERR_COMPRESS_VERIFY_FAILED'
  /** Reading the input or writing the artifact failed; `cause` is the original error. */
  | 'ERR_COMPRESS_IO'
  /** The source was used after `close()`. */
  | 'ERR_COMPRESS_CLOSED'
  /** An option outside its documented domain. */
  | 'ERR_COMPRESS_INVALID_OPTION';

/**
 * The error class of `@gosync/compress`. Messages of `ERR_COMPRESS_CORRUPT` and
 * `ERR_COMPRESS_TOO_LARGE` name the group, its target range and its artifact range; match on
 * `code`, never on the message.
 *
 * @example
 * ```ts
 * try { for await (const part of source.fetch(ranges)) use(part); } catch (e) {
 *   if (isGosyncError(e, 'ERR_COMPRESS_CORRUPT')) refetchFromMirror();
 *   else throw e;
 * }
 * ```
 */
export class CompressError extends GosyncError<CompressErrorCode> {}

/**
 * Formats a range for messages as `[start, end)`.
 *
 * @internal
 */
export function describeRange(range: { readonly start: number; readonly end: number }): string {
  return `[${range.start}, ${range.end})`;
}
