import { GosyncError } from '@gosync/core';

/** Error codes thrown by `@gosync/patcher`. Stable: never renamed or reused. */
export type PatcherErrorCode =
  /** An option outside its documented domain, or a combination that cannot work. */
  | 'ERR_PATCHER_INVALID_OPTION'
  /** A seed could not be read. */
  | 'ERR_PATCHER_SEED'
  /** Bytes fetched for a block do not have the block's strong hash. */
  | 'ERR_PATCHER_BLOCK_MISMATCH'
  /** A block source yielded a range that was not asked for, or the same range twice. */
  | 'ERR_PATCHER_UNEXPECTED_RANGE'
  /** A block source ended without yielding every requested range. */
  | 'ERR_PATCHER_MISSING_RANGE'
  /** Blocks are missing and no block source was given. */
  | 'ERR_PATCHER_NO_SOURCE'
  /** The rebuilt file does not have the index's length or file hash. */
  | 'ERR_PATCHER_VERIFY_FAILED'
  /** Writing the output (or its temporary file) failed: disk full, permissions, … */
  | 'ERR_PATCHER_IO';

/** The error class of `@gosync/patcher`. */
export class PatcherError extends GosyncError<PatcherErrorCode> {}
