import type { ByteRange } from '@gosync/core';
import type { BlockIndex } from '@gosync/index';
import type { Matches } from './matches.js';

/** Copy `length` bytes from a seed at `from` to the target at `to`. */
export interface CopyOperation {
  readonly kind: 'copy';
  /** Seed number, in the order the seeds were given. */
  readonly seed: number;
  /** Offset in the seed. */
  readonly from: number;
  /** Offset in the target. */
  readonly to: number;
  /** Bytes. */
  readonly length: number;
}

/** Fetch the target range `[to, to + length)` from the block source. */
export interface FetchOperation {
  readonly kind: 'fetch';
  /** Offset in the target (and in the source). */
  readonly to: number;
  /** Bytes. */
  readonly length: number;
}

/** Copy bytes the target already holds (a block that occurs twice) from `from` to `to`. */
export interface DuplicateOperation {
  readonly kind: 'duplicate';
  /** Offset in the target of the first copy (fetched earlier in the same plan). */
  readonly from: number;
  /** Offset in the target. */
  readonly to: number;
  /** Bytes. */
  readonly length: number;
}

/** One step of a {@link Plan}. */
export type PlanOperation = CopyOperation | FetchOperation | DuplicateOperation;

/** How a target is built: which bytes come from which seed, which are fetched. */
export interface Plan {
  /** Target length in bytes. */
  readonly targetLength: number;
  /** The operations, in target order; together they cover the target exactly once. */
  readonly operations: readonly PlanOperation[];
  /** Bytes copied from seeds. */
  readonly reusedBytes: number;
  /** Bytes to fetch from the block source. */
  readonly fetchBytes: number;
  /** Bytes copied within the target (blocks that occur more than once; fetched once). */
  readonly duplicateBytes: number;
  /** The ranges to fetch: block-aligned, adjacent ones merged, ascending. */
  readonly fetchRanges: readonly ByteRange[];
  /** Blocks in the index, and how many of them were found in the seeds. */
  readonly blocks: { readonly total: number; readonly found: number };
}

/**
 * Turns matches into a plan: each block is copied from the seed offset that matched first, or
 * fetched; a missing block whose bytes occur earlier in the target is fetched once and then
 * duplicated. Adjacent operations of the same kind (and seed, and contiguous on both sides)
 * merge.
 *
 * @internal
 */
export function makePlan(index: BlockIndex, matches: Matches, maxFetchRange: number): Plan {
  const operations: PlanOperation[] = [];
  const duplicates = new FetchedBlocks(index);
  let reusedBytes = 0;
  let fetchBytes = 0;
  let duplicateBytes = 0;
  // The operation being built, extended block by block until the run breaks (no object per
  // block: a 557 MB target has 136 k blocks).
  let kind: PlanOperation['kind'] | undefined;
  let seed = 0;
  let from = 0;
  let to = 0;
  let length = 0;
  const flush = (): void => {
    if (kind === 'copy') operations.push({ kind, seed, from, to, length });
    else if (kind === 'fetch') operations.push({ kind, to, length });
    else if (kind === 'duplicate') operations.push({ kind, from, to, length });
    kind = undefined;
  };
  for (let b = 0; b < index.count; b++) {
    const at = index.blockStart(b);
    const n = index.blockLength(b);
    const s = matches.seedOf[b] as number;
    if (s >= 0) {
      const f = matches.offsetOf[b] as number;
      reusedBytes += n;
      if (kind === 'copy' && seed === s && to + length === at && from + length === f) {
        length += n;
        continue;
      }
      flush();
      kind = 'copy';
      seed = s;
      from = f;
      to = at;
      length = n;
      continue;
    }
    const earlier = duplicates.firstLike(b);
    if (earlier >= 0) {
      const e = index.blockStart(earlier);
      duplicateBytes += n;
      if (kind === 'duplicate' && to + length === at && from + length === e) {
        length += n;
        continue;
      }
      flush();
      kind = 'duplicate';
      from = e;
      to = at;
      length = n;
      continue;
    }
    duplicates.add(b);
    fetchBytes += n;
    if (kind === 'fetch' && to + length === at && length + n <= maxFetchRange) {
      length += n;
      continue;
    }
    flush();
    kind = 'fetch';
    to = at;
    length = n;
  }
  flush();
  const fetchRanges = operations
    .filter((op): op is FetchOperation => op.kind === 'fetch')
    .map((op) => ({ start: op.to, end: op.to + op.length }));
  return {
    targetLength: index.fileLength,
    operations,
    reusedBytes,
    fetchBytes,
    duplicateBytes,
    fetchRanges,
    blocks: { total: index.count, found: matches.found },
  };
}

/**
 * The blocks a plan fetches, looked up by content (length, weak sum and strong hash as the index
 * stores them): a block like one fetched before is copied within the target instead. A hash
 * table on typed arrays: a power-of-two array of chains (at least 2 slots per block) by a number
 * made of the weak sum and the strong hash's first bytes, each chain in the order the blocks
 * were added, with no key or object built per block (Maps of 120 k keys took most of the
 * planning of the 557 MB pair). A lookup looks at most {@link MAX_CANDIDATES} blocks of a chain:
 * an index made to collide costs a few duplicate fetches, never quadratic time.
 */
class FetchedBlocks {
  readonly #index: BlockIndex;
  readonly #shift: number;
  /** First and last fetched block per slot, −1 when none. */
  readonly #head: Int32Array;
  readonly #tail: Int32Array;
  /** The next fetched block in the same slot, −1 at the end. */
  readonly #next: Int32Array;

  constructor(index: BlockIndex) {
    this.#index = index;
    const log2 = Math.max(4, Math.ceil(Math.log2(Math.max(1, index.count) * 2)));
    this.#shift = 32 - log2;
    this.#head = new Int32Array(2 ** log2).fill(-1);
    this.#tail = new Int32Array(2 ** log2).fill(-1);
    this.#next = new Int32Array(index.count).fill(-1);
  }

  #slot(block: number): number {
    const index = this.#index;
    const hashes = index.strongHashes;
    const o = block * index.strongBytes;
    // strongBytes is at least 3.
    const prefix = (hashes[o] as number) | ((hashes[o + 1] as number) << 8) | ((hashes[o + 2] as number) << 16);
    const key = (index.weakSums[block] as number) ^ Math.imul(prefix, 0x9e3779b1);
    return Math.imul(key, 0x85ebca6b) >>> this.#shift;
  }

  add(block: number): void {
    const slot = this.#slot(block);
    const last = this.#tail[slot] as number;
    if (last < 0) this.#head[slot] = block;
    else this.#next[last] = block;
    this.#tail[slot] = block;
  }

  /** The first fetched block with the same content as `block`, or −1. */
  firstLike(block: number): number {
    const index = this.#index;
    const length = index.blockLength(block);
    const sum = index.weakSums[block] as number;
    const bytes = index.strongBytes;
    const hashes = index.strongHashes;
    const at = block * bytes;
    let seen = 0;
    for (let b = this.#head[this.#slot(block)] as number; b >= 0 && seen < MAX_CANDIDATES; b = this.#next[b] as number, seen++) {
      if (index.blockLength(b) !== length || index.weakSums[b] !== sum) continue;
      let same = true;
      for (let i = 0, o = b * bytes; i < bytes; i++) {
        if (hashes[o + i] !== hashes[at + i]) {
          same = false;
          break;
        }
      }
      if (same) return b;
    }
    return -1;
  }
}

/** Blocks of one chain looked at per lookup in {@link FetchedBlocks}. */
const MAX_CANDIDATES = 64;
