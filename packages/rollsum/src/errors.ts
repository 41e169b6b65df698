import { GosyncError } from '@gosync/core';

/** Error codes thrown by `@gosync/rollsum`. Stable: never renamed or reused. */
export type RollsumErrorCode =
  /** An option outside its documented domain (window size, chunk sizes, hash lengths, …). */
  | 'ERR_ROLLSUM_INVALID_OPTION'
  /** A method called in a state that does not allow it (rolling out of an empty window, …). */
  | 'ERR_ROLLSUM_INVALID_STATE';

/** The error class of `@gosync/rollsum`. */
export class RollsumError extends GosyncError<RollsumErrorCode> {}
