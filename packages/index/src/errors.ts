import { GosyncError } from '@gosync/core';

/**
 * Error codes thrown by `@gosync/index`. They are part of the API: never renamed or reused.
 */
export type IndexErrorCode =
  /** The bytes do not start with the magic number of the expected format. */
  | 'ERR_INDEX_BAD_MAGIC'
  /** The format version is one this library does not read. */
  | 'ERR_INDEX_UNSUPPORTED_VERSION'
  /** The index needs a feature (or algorithm) this library does not know. */
  | 'ERR_INDEX_UNKNOWN_FEATURE'
  /** The bytes end before a structure the header announces. */
  | 'ERR_INDEX_TRUNCATED'
  /** More bytes follow the last structure of the index. */
  | 'ERR_INDEX_TRAILING_DATA'
  /** The checksum over the index does not match its content. */
  | 'ERR_INDEX_CORRUPT'
  /** A header field is missing, of the wrong type, or inconsistent with another field. */
  | 'ERR_INDEX_INVALID_HEADER'
  /** A size or count is beyond the limits this library accepts (see the decode options). */
  | 'ERR_INDEX_LIMIT_EXCEEDED'
  /** An argument or option outside its documented domain. */
  | 'ERR_INDEX_INVALID_OPTION'
  /** The index cannot be written in the asked format (e.g. .zsync needs MD4 block hashes). */
  | 'ERR_INDEX_INCOMPATIBLE'
  /** Reading the input failed (the cause holds the system error). */
  | 'ERR_INDEX_IO';

/**
 * The error class of `@gosync/index`. Match it by {@link IndexError.code}, never by message.
 *
 * @example
 * ```ts
 * import { isGosyncError } from '@gosync/core';
 * try { decodeIndex(bytes); } catch (e) {
 *   if (isGosyncError(e, 'ERR_INDEX_CORRUPT')) console.error('damaged index:', e.message);
 *   else throw e;
 * }
 * ```
 */
export class IndexError extends GosyncError<IndexErrorCode> {}
