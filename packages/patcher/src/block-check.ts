import type { ByteRange, RangeVerifier } from '@gosync/core';
import { createStrongHasher, Md4Kernel, Xxh128Kernel, XXH128_KERNEL_MIN, type BlockHashKernel, type BlockIndex, type StrongHasher } from '@gosync/index';

/** Blocks a run check copies into the kernel at most at once. */
const RUN_BATCH = 256;

/**
 * Checks bytes against the strong hashes of an index: the same rule the index was built with
 * (a short last block zero-padded to the block size when the index says so, as zsync does).
 * One instance reuses one hasher and one scratch digest; not for concurrent use.
 */
export class BlockCheck {
  readonly #index: BlockIndex;
  readonly #hasher: StrongHasher;
  /**
   * The index's hash of whole blocks in WebAssembly, a run of blocks per call: xxh128 (for blocks
   * long enough for it) or md4 (.zsync).
   */
  readonly #kernel: BlockHashKernel | undefined;
  readonly #digest: Uint8Array;
  readonly #padding: Uint8Array;

  private constructor(index: BlockIndex, hasher: StrongHasher) {
    this.#index = index;
    this.#hasher = hasher;
    const xxh128 = index.strongHash === 'xxh128' && index.blockSize >= XXH128_KERNEL_MIN;
    this.#kernel = xxh128 ? new Xxh128Kernel(RUN_BATCH) : index.strongHash === 'md4' ? new Md4Kernel(RUN_BATCH) : undefined;
    this.#digest = new Uint8Array(hasher.digestLength);
    this.#padding = new Uint8Array(index.padLastBlock ? index.blockSize : 0);
  }

  /**
   * @param index - the index whose strong hashes are checked
   * @returns a checker
   */
  static async create(index: BlockIndex): Promise<BlockCheck> {
    return new BlockCheck(index, await createStrongHasher(index.strongHash));
  }

  /**
   * Hashes `bytes` as block `block` would be hashed and leaves the digest in {@link digest}.
   *
   * @param block - the block the bytes are meant to be (decides the padding)
   * @param bytes - the bytes
   * @returns the digest (a scratch array, overwritten by the next call)
   */
  hash(block: number, bytes: Uint8Array): Uint8Array {
    const index = this.#index;
    const pad = index.padLastBlock && block === index.count - 1 && bytes.length < index.blockSize;
    if (this.#kernel !== undefined && !pad && bytes.length >= this.#kernel.minLength) {
      this.#kernel.hash(bytes, this.#digest, 0);
      return this.#digest;
    }
    const h = this.#hasher.init().update(bytes);
    if (pad) h.update(this.#padding.subarray(0, index.blockSize - bytes.length));
    h.digestInto(this.#digest, 0);
    return this.#digest;
  }

  /**
   * How many consecutive whole blocks from `first` on `bytes` holds, from its start: the blocks
   * that follow a match, checked without a call per block where the index's hash allows it.
   *
   * @param first - the block the bytes should begin with
   * @param bytes - the bytes, `blockSize` per block (a partial block at the end is not looked at)
   * @param maxBlocks - the most blocks to check (each of them whole, none past the index's end)
   * @returns the number of blocks from `first` on whose strong hash matches, in order
   */
  matchRun(first: number, bytes: Uint8Array, maxBlocks: number): number {
    const index = this.#index;
    const w = index.blockSize;
    const limit = Math.min(maxBlocks, Math.floor(bytes.length / w), index.count - first);
    const kernel = this.#kernel;
    let n = 0;
    if (kernel === undefined) {
      while (n < limit && index.strongHashMatches(first + n, this.hash(first + n, bytes.subarray(n * w, (n + 1) * w)))) n++;
      return n;
    }
    // In batches that start small: a run in dissimilar data usually ends at once, and each batch
    // is copied into the kernel's memory.
    const sb = index.strongBytes;
    for (let batch = 4; n < limit; batch = Math.min(RUN_BATCH, 4 * batch)) {
      const take = Math.min(batch, limit - n);
      const matched = kernel.matchRun(bytes.subarray(n * w, (n + take) * w), w, index.strongHashes.subarray((first + n) * sb, (first + n + take) * sb), sb);
      n += matched;
      if (matched < take) break;
    }
    return n;
  }

  /**
   * @param block - block number
   * @param bytes - candidate bytes of exactly the block's length
   * @returns true when they have the block's strong hash
   */
  matches(block: number, bytes: Uint8Array): boolean {
    if (bytes.length !== this.#index.blockLength(block)) return false;
    return this.#index.strongHashMatches(block, this.hash(block, bytes));
  }

  /**
   * Checks a block-aligned range of the target: every block inside must match.
   *
   * @param range - a range whose ends are block boundaries
   * @param data - its bytes
   * @returns the first block that does not match, or −1 when all do
   */
  firstBadBlock(range: ByteRange, data: Uint8Array): number {
    const index = this.#index;
    if (data.length !== range.end - range.start) return blockAt(index, range.start);
    for (let b = blockAt(index, range.start); b < index.count && index.blockStart(b) < range.end; b++) {
      const start = index.blockStart(b);
      const end = index.blockEnd(b);
      if (start < range.start || end > range.end) return b;
      if (!this.matches(b, data.subarray(start - range.start, end - range.start))) return b;
    }
    return -1;
  }
}

/**
 * The block that holds target offset `offset`.
 *
 * @param index - the index
 * @param offset - a target offset in `[0, fileLength)`
 * @returns the block number
 */
export function blockAt(index: BlockIndex, offset: number): number {
  const offsets = index.offsets;
  if (offsets === undefined) return Math.floor(offset / index.blockSize);
  let lo = 0;
  let hi = index.count - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if ((offsets[mid] as number) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * A {@link RangeVerifier} for a block source: accepts the bytes of a block-aligned target range
 * only when every block inside has its strong hash. Hand it to a source so that it re-fetches
 * bad data (from another mirror) before the patcher ever sees it.
 *
 * @param index - the index of the target
 * @returns a verifier
 * @example
 * ```ts
 * const source = new HttpSource({ urls, verifier: await createRangeVerifier(index) });
 * ```
 */
export async function createRangeVerifier(index: BlockIndex): Promise<RangeVerifier> {
  const check = await BlockCheck.create(index);
  return { verify: (range, data) => check.firstBadBlock(range, data) < 0 };
}
