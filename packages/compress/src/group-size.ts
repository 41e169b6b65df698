import { CompressError } from './errors.js';
import { MAX_GROUP_SIZE } from './layout.js';

/** The smallest and largest group of {@link defaultGroupSize}'s rule, in bytes before rounding to whole blocks. */
const MIN_DEFAULT_GROUP = 4096;
const MAX_DEFAULT_GROUP = 131_072;
/** The rule aims at about this many groups per target. */
const GROUPS_PER_TARGET = 4096;

/**
 * The default group size for a target of `fileLength` bytes cut into blocks of `blockSize`: the
 * power of two at or below `fileLength / 4096`, clamped to [4 KiB, 128 KiB], then rounded down
 * to whole blocks (at least one block). A 23 MB target gets 4 KiB groups, a 557 MB one 128 KiB.
 *
 * The trade-off (measured in the README): a client fetches whole groups, so small groups fetch
 * less where changes are scattered, while large groups compress better (each frame starts with an
 * empty window), which decides the bytes where most of a file changes — typical of large native
 * binaries and images — and costs less per group to publish.
 *
 * @param fileLength - the target's length in bytes
 * @param blockSize - the index's block size in bytes, in [1, 2^26]
 * @returns bytes per group, a multiple of `blockSize`
 * @throws {@link CompressError} `ERR_COMPRESS_INVALID_OPTION` for a negative or non-integer length or a bad block size
 * @example
 * ```ts
 * defaultGroupSize(23_730_688, 2048); // 4096
 * defaultGroupSize(557_579_264, 4096); // 131072
 * ```
 */
export function defaultGroupSize(fileLength: number, blockSize: number): number {
  if (!Number.isSafeInteger(fileLength) || fileLength < 0) {
    throw new CompressError('ERR_COMPRESS_INVALID_OPTION', `fileLength must be a safe integer ≥ 0, got ${String(fileLength)}`);
  }
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > MAX_GROUP_SIZE) {
    throw new CompressError('ERR_COMPRESS_INVALID_OPTION', `blockSize must be an integer in [1, 2^26], got ${String(blockSize)}`);
  }
  let size = MIN_DEFAULT_GROUP;
  while (size < MAX_DEFAULT_GROUP && size * 2 * GROUPS_PER_TARGET <= fileLength) size *= 2;
  return Math.max(1, Math.floor(size / blockSize)) * blockSize;
}
