import { IndexError } from './errors.js';

/** How many bytes of each block's sums an index keeps, and how many blocks must match in a row. */
export interface HashLengths {
  /**
   * 1: a block counts as found when its own sums match. 2: only when the following block
   * matches too — zsync's trick that lets both sums be truncated.
   */
  readonly seqMatches: 1 | 2;
  /**
   * Bytes of the weak sum kept: 4 keeps `a` and `b`; 3 keeps the low byte of `a` and all of
   * `b`; 2 keeps `b` only (zsync's layout; see `zsyncRsumMask` in `@gosync/rollsum`).
   */
  readonly weakBytes: 2 | 3 | 4;
  /** Bytes of the strong hash kept (its first bytes), from 3 up to the digest length. */
  readonly strongBytes: number;
}

/**
 * The hash lengths zsyncmake 0.6.2 chooses for a file: two-block matching for any file longer
 * than one block, and sums just long enough for a whole-file false-match probability of about
 * 2^-20.
 *
 * - `seqMatches = fileLength > blockSize ? 2 : 1`
 * - `weakBytes = clamp(⌈(log2 fileLength + log2 blockSize − 8.6) / seqMatches / 8⌉, 2, 4)`
 * - `strongBytes = max(⌈(20 + log2 fileLength + log2(1 + ⌊fileLength / blockSize⌋)) / seqMatches / 8⌉,
 *   ⌊(7.9 + 20 + log2(1 + ⌊fileLength / blockSize⌋)) / 8⌋)`, at most 16
 *
 * An empty file gives `{ seqMatches: 1, weakBytes: 2, strongBytes: 3 }`, as zsyncmake writes.
 *
 * @param fileLength - the target length in bytes
 * @param blockSize - the block size in bytes
 * @returns the lengths zsyncmake would write in `Hash-Lengths:`
 * @throws {@link IndexError} `ERR_INDEX_INVALID_OPTION` for a negative or fractional length or
 *   a block size that is not a positive integer
 * @example
 * ```ts
 * zsyncHashLengths(10_000, 2048); // { seqMatches: 2, weakBytes: 2, strongBytes: 3 }
 * ```
 */
export function zsyncHashLengths(fileLength: number, blockSize: number): HashLengths {
  assertLength(fileLength);
  assertBlockSize(blockSize);
  const seqMatches = fileLength > blockSize ? 2 : 1;
  const blocks = Math.floor(fileLength / blockSize);
  const logLen = fileLength === 0 ? -Infinity : Math.log2(fileLength);
  let weak = Math.ceil((logLen + Math.log2(blockSize) - 8.6) / seqMatches / 8);
  if (!(weak >= 2)) weak = 2;
  if (weak > 4) weak = 4;
  let strong = Math.ceil((20 + logLen + Math.log2(1 + blocks)) / seqMatches / 8);
  const strong2 = Math.trunc((7.9 + 20 + Math.log2(1 + blocks)) / 8);
  if (!(strong >= strong2)) strong = strong2;
  if (strong > 16) strong = 16;
  return { seqMatches, weakBytes: weak as 2 | 3 | 4, strongBytes: strong };
}

/**
 * An estimate of the expected number of false block matches when a seed of `seedLength` bytes
 * is scanned against an index: every seed offset is compared with every block, a pair passes
 * the weak sum with probability 2^-(8·weakBytes) and the strong hash with 2^-(8·strongBytes),
 * and with `seqMatches = 2` the next block must pass too. Real data has correlated blocks, so
 * treat it as a guide for choosing lengths, not a bound.
 *
 * @param lengths - the index's hash lengths
 * @param blockCount - blocks in the index
 * @param seedLength - bytes scanned
 * @returns expected false matches (a probability when well below 1)
 * @example
 * ```ts
 * expectedFalseMatches({ seqMatches: 1, weakBytes: 4, strongBytes: 16 }, 1e6, 1e9); // ≈ 2.7e-35
 * ```
 */
export function expectedFalseMatches(
  lengths: HashLengths,
  blockCount: number,
  seedLength: number,
): number {
  const bits = 8 * (lengths.weakBytes + lengths.strongBytes) * lengths.seqMatches;
  return seedLength * blockCount * 2 ** -bits;
}

/**
 * How a default block size follows the file length; see {@link defaultBlockSize}.
 */
export type BlockSizeRule = 'balanced' | 'sqrt' | 'zsync';

/**
 * The block size used when none is given. Smaller blocks find more reusable data and fetch less
 * around each change, but the index grows as fileLength / blockSize and so does the scan's table.
 *
 * - `'balanced'` (default): zsyncmake's sizes (2 KiB below 100 MB, else 4 KiB), doubled as
 *   often as needed to keep the index at or below 2^20 blocks (~7 MB), up to 1 MiB. Measured on
 *   two TypeScript minor releases (23.7 MB): 2 KiB blocks fetch 9.3 MB with an 81 KB index,
 *   8 KiB blocks (√ sizing) 16.1 MB with a 20 KB index.
 * - `'sqrt'`: the power of two at or above √fileLength within [2 KiB, 1 MiB] (rsync's rule; a
 *   565 MB file gets 32 KiB blocks): the smallest index, for files that change little.
 * - `'zsync'`: zsyncmake's rule, 2048 below 100 MB (10^8 bytes), else 4096.
 *
 * @param fileLength - the target length in bytes (unknown: pass 0, which gives 2048)
 * @param rule - `'balanced'` (default), `'sqrt'` or `'zsync'`
 * @returns a block size in bytes
 * @throws {@link IndexError} `ERR_INDEX_INVALID_OPTION` for a negative or fractional length
 * @example
 * ```ts
 * defaultBlockSize(565_000_000); // 4096
 * defaultBlockSize(5_000_000_000); // 8192
 * defaultBlockSize(565_000_000, 'sqrt'); // 32768
 * ```
 */
export function defaultBlockSize(fileLength: number, rule: BlockSizeRule = 'balanced'): number {
  assertLength(fileLength);
  const zsync = fileLength < 100_000_000 ? 2048 : 4096;
  if (rule === 'zsync') return zsync;
  if (rule === 'balanced') {
    let size = zsync;
    while (size < 2 ** 20 && fileLength / size > 2 ** 20) size *= 2;
    return size;
  }
  const log2 = Math.ceil(Math.log2(Math.max(1, Math.sqrt(fileLength))));
  return 2 ** Math.min(20, Math.max(11, log2));
}

/** @internal */
export function assertLength(fileLength: number): void {
  if (!Number.isSafeInteger(fileLength) || fileLength < 0) {
    throw new IndexError(
      'ERR_INDEX_INVALID_OPTION',
      `fileLength: expected a non-negative safe integer, got ${String(fileLength)}`,
    );
  }
}

/** The largest block size accepted anywhere (1 GiB). */
export const MAX_BLOCK_SIZE: number = 2 ** 30;

/** @internal */
export function assertBlockSize(blockSize: number): void {
  if (!Number.isSafeInteger(blockSize) || blockSize < 1 || blockSize > MAX_BLOCK_SIZE) {
    throw new IndexError(
      'ERR_INDEX_INVALID_OPTION',
      `blockSize: expected an integer in [1, 2^30], got ${String(blockSize)}`,
    );
  }
}

/**
 * The hash lengths of the native format: as many bytes per block as zsyncmake would store (so the
 * same false-match probability and an index no larger than a .zsync at the same block size), but
 * with the whole 4-byte weak sum kept. The rolling scan tests the weak sum at every offset of
 * every seed, and a weak sum cut to 2 bytes lets one window in a few dozen through to a strong
 * hash of a whole block: measured on two TypeScript tarballs, 8 MB/s instead of 170 MB/s.
 *
 * - `seqMatches` as zsync's
 * - `weakBytes = 4`
 * - `strongBytes = clamp(zsync's weakBytes + strongBytes − 4, 3, digestLength)`
 *
 * @param fileLength - the target length in bytes
 * @param blockSize - the block size in bytes
 * @param digestLength - the strong hash's digest length
 * @returns the lengths
 * @throws {@link IndexError} `ERR_INDEX_INVALID_OPTION` as {@link zsyncHashLengths}
 * @example
 * ```ts
 * nativeHashLengths(23_730_688, 8192, 16); // { seqMatches: 2, weakBytes: 4, strongBytes: 3 }
 * ```
 */
export function nativeHashLengths(fileLength: number, blockSize: number, digestLength: number): HashLengths {
  const z = zsyncHashLengths(fileLength, blockSize);
  const strongBytes = Math.min(digestLength, Math.max(3, z.weakBytes + z.strongBytes - 4));
  return { seqMatches: z.seqMatches, weakBytes: 4, strongBytes };
}
