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
  const firstCopy = new Map<string, number>();
  let reusedBytes = 0;
  let fetchBytes = 0;
  let duplicateBytes = 0;
  for (let b = 0; b < index.count; b++) {
    const to = index.blockStart(b);
    const length = index.blockLength(b);
    const last = operations.at(-1);
    const seed = matches.seedOf[b] as number;
    if (seed >= 0) {
      const from = matches.offsetOf[b] as number;
      reusedBytes += length;
      if (last?.kind === 'copy' && last.seed === seed && last.to + last.length === to && last.from + last.length === from) {
        operations[operations.length - 1] = { ...last, length: last.length + length };
      } else {
        operations.push({ kind: 'copy', seed, from, to, length });
      }
      continue;
    }
    const key = `${length}:${Buffer.from(index.strongHashOf(b)).toString('latin1')}:${index.weakSums[b] as number}`;
    const earlier = firstCopy.get(key);
    if (earlier !== undefined) {
      duplicateBytes += length;
      if (last?.kind === 'duplicate' && last.to + last.length === to && last.from + last.length === earlier) {
        operations[operations.length - 1] = { ...last, length: last.length + length };
      } else {
        operations.push({ kind: 'duplicate', from: earlier, to, length });
      }
      continue;
    }
    firstCopy.set(key, to);
    fetchBytes += length;
    if (last?.kind === 'fetch' && last.to + last.length === to && last.length + length <= maxFetchRange) {
      operations[operations.length - 1] = { ...last, length: last.length + length };
    } else {
      operations.push({ kind: 'fetch', to, length });
    }
  }
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
