import { WeakSumFilter } from '@gosync/rollsum';
import type { BlockIndex } from './block-index.js';

const GOLDEN = 0x9e3779b1;

/**
 * Bits per entry of the prefilter: 64 (about 1 false pass in 4 000 windows) while the filter
 * stays within 1 MiB, fewer (at least 16) for larger tables, because a filter that falls out
 * of the L2 cache costs a cache miss at every window: on 136 000 blocks (557 MB at 4 KiB) the
 * scan measured 173 MB/s with a 2 MiB filter and 260 MB/s with 1 MiB. Use it for any other
 * `WeakSumFilter` over an index's blocks (the patcher's filter of neighbouring pairs).
 *
 * @param count - entries the filter will hold
 * @returns bits per entry, from 16 to 64
 * @example
 * ```ts
 * new WeakSumFilter(index.count, { bitsPerEntry: filterBitsPerEntry(index.count) });
 * ```
 */
export function filterBitsPerEntry(count: number): number {
  return Math.max(16, Math.min(64, Math.floor(2 ** 23 / Math.max(1, count))));
}

/**
 * Answers "which blocks have this weak sum" for an index, with every duplicate, in block
 * order. It is a chained hash table on typed arrays: a power-of-two `heads` array (at least
 * 2 slots per block) and one `next` link per block — no per-entry objects, about 12–20 bytes
 * per block. Sums are masked with the index's weak mask (zsync truncation) before lookup.
 *
 * Iterate without allocating: `for (let b = t.first(sum); b >= 0; b = t.next(b))`. For the
 * rolling scan, test {@link WeakSumTable.filter} first: it rejects most absent sums from a much
 * smaller array.
 *
 * @example
 * ```ts
 * const table = new WeakSumTable(index);
 * if (table.filter.has(sum)) for (let b = table.first(sum); b >= 0; b = table.next(b)) verify(b);
 * ```
 */
export class WeakSumTable {
  /** The mask applied to every sum looked up. */
  readonly mask: number;
  /** A Bloom prefilter over the same masked sums, for the rolling scan's fast reject. */
  readonly filter: WeakSumFilter;
  readonly #sums: Uint32Array;
  readonly #heads: Int32Array;
  readonly #next: Int32Array;
  readonly #shift: number;

  /**
   * @param index - any index (its `weakSums` and `weakMask` are used; the array is shared,
   *   and its values must already be masked, as every `BlockIndex` keeps them)
   */
  constructor(index: Pick<BlockIndex, 'weakSums' | 'weakMask'>) {
    const sums = index.weakSums;
    const n = sums.length;
    const mask = index.weakMask >>> 0;
    this.mask = mask;
    const log2 = Math.max(4, Math.ceil(Math.log2(Math.max(1, n) * 2)));
    const shift = 32 - log2;
    this.#shift = shift;
    const heads = new Int32Array(2 ** log2).fill(-1);
    const next = new Int32Array(n);
    // Masked copy only when the stored sums are not masked already (a hand-built index).
    let masked = sums;
    for (let i = 0; i < n; i++) {
      if ((((sums[i] as number) & mask) >>> 0) !== sums[i]) {
        masked = sums.map((v) => (v & mask) >>> 0);
        break;
      }
    }
    // Insert from the last block so every chain lists blocks in ascending order.
    for (let i = n - 1; i >= 0; i--) {
      const slot = Math.imul(masked[i] as number, GOLDEN) >>> shift;
      next[i] = heads[slot] as number;
      heads[slot] = i;
    }
    this.#sums = masked;
    this.#heads = heads;
    this.#next = next;
    this.filter = WeakSumFilter.from(masked, { mask, bitsPerEntry: filterBitsPerEntry(n) });
  }

  /** Number of blocks in the table. */
  get size(): number {
    return this.#next.length;
  }

  /**
   * The lowest block whose stored sum equals `sum` (masked).
   *
   * @param sum - a weak sum as `@gosync/rollsum` computes it (unmasked is fine)
   * @returns a block number, or −1 when none has it
   * @example
   * ```ts
   * table.first(weakSum(bytes)); // e.g. 0
   * ```
   */
  first(sum: number): number {
    const key = (sum & this.mask) >>> 0;
    let b = this.#heads[Math.imul(key, GOLDEN) >>> this.#shift] as number;
    while (b >= 0 && this.#sums[b] !== key) b = this.#next[b] as number;
    return b;
  }

  /**
   * The next block after `block` with the same stored sum.
   *
   * @param block - a block returned by {@link WeakSumTable.first} or {@link WeakSumTable.next}
   * @returns a higher block number, or −1 when there is no more
   * @example
   * ```ts
   * for (let b = table.first(sum); b >= 0; b = table.next(b)) console.log(b);
   * ```
   */
  next(block: number): number {
    const key = this.#sums[block] as number;
    let b = this.#next[block] as number;
    while (b >= 0 && this.#sums[b] !== key) b = this.#next[b] as number;
    return b;
  }

  /**
   * Every block whose stored sum equals `sum` (masked), ascending. Allocates; the scan's hot
   * path should use {@link WeakSumTable.first} / {@link WeakSumTable.next}.
   *
   * @param sum - a weak sum
   * @returns block numbers, possibly empty
   * @example
   * ```ts
   * table.lookup(weakSum(bytes)); // [0, 7]
   * ```
   */
  lookup(sum: number): number[] {
    const out: number[] = [];
    for (let b = this.first(sum); b >= 0; b = this.next(b)) out.push(b);
    return out;
  }
}
