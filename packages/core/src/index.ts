/**
 * Shared types and interfaces of the `@gosync` toolkit: byte ranges, block sources, range
 * verifiers, progress events, the error base class, small byte and range helpers, and the start
 * of a package's worker threads ({@link startWorkerBeside}).
 *
 * Every other `@gosync` package builds on these; `@gosync/core` has no runtime dependencies.
 *
 * @packageDocumentation
 */
export type {
  AbortOptions,
  BlockSource,
  ByteRange,
  ProgressEvent,
  ProgressListener,
  ProgressPhase,
  RangeData,
  RangeVerifier,
} from './types.js';
export { CoreError, GosyncError, isGosyncError } from './errors.js';
export type { CoreErrorCode, ErrorCode } from './errors.js';
export {
  assertByteRange,
  byteRange,
  coalesceRanges,
  intersectRanges,
  isByteRange,
  mergeRanges,
  normalizeRanges,
  rangeLength,
  sortedDisjoint,
  splitRange,
  subtractRanges,
  totalLength,
} from './ranges.js';
export type { RangeGroup } from './ranges.js';
export { bytesEqual, concatBytes, fromHex, toHex } from './bytes.js';
export { throwIfAborted } from './abort.js';
export { startWorkerBeside } from './worker.js';
