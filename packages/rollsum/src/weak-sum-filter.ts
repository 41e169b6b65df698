import { RollsumError } from './errors.js';

const GOLDEN = 0x9e3779b1;
const SECOND = 0x85ebca6b;
const THIRD = 0xc2b2ae35;
const FOURTH = 0x27d4eb2f;
/**
 * The multiplier of {@link WeakSumFilter}'s first bit, for kernels that test its bitsets
 * themselves: bit `imul(sum & mask, FILTER_FIRST) >>> shift` of `words`.
 */
export const FILTER_FIRST: number = GOLDEN;
/** The multiplier of {@link WeakSumFilter}'s second bit (of `words`, as {@link FILTER_FIRST}). */
export const FILTER_SECOND: number = SECOND;
/**
 * The multipliers of {@link WeakSumFilter}'s two confirming bits: bit
 * `imul(sum & mask, m) >>> (shift + 1)` of `confirm`, for each.
 */
export const FILTER_CONFIRM: readonly [number, number] = [THIRD, FOURTH];
const MIN_LOG2 = 10;
const MAX_LOG2 = 28;

/** Options of {@link WeakSumFilter}. */
export interface WeakSumFilterOptions {
  /**
   * Bits of the weak sum that count (default all: `0xffffffff`); use {@link zsyncRsumMask} for
   * truncated .zsync sums. All 16 bits of `b` (the high half) must count.
   */
  readonly mask?: number;
  /**
   * Filter bits per expected entry in the first stage (default 64: 3 % of offsets need a second
   * bit tested, and 0.05 % pass both); the confirming stage adds half as many again (about
   * 0.0002 % false positives in all at capacity, 0.07 % at 16 bits).
   * Rounded so the first stage's size is a power of two between 2^10 and 2^28 bits (32 MiB).
   */
  readonly bitsPerEntry?: number;
}

/**
 * A Bloom filter over weak sums in two stages: the prefilter that lets the rolling scan skip
 * almost every offset without a table lookup. `has` never answers false for a sum that was
 * added; it answers true for a sum that was not with probability about `(2 · entries / bits)²`
 * times that of the confirming stage.
 *
 * A sum sets two bits in {@link WeakSumFilter.words}, the top `log2(bits)` bits of
 * `(sum & mask) · 0x9e3779b1` and of `(sum & mask) · 0x85ebca6b` (multiplicative hashing, so
 * masked-out bits never matter), and two more in {@link WeakSumFilter.confirm}, half the size,
 * from `0xc2b2ae35` and `0x27d4eb2f`. The scan tests the first bit inline for every offset, the
 * second only when the first is set, and the confirming bits only for the few offsets that pass
 * both: each sum that passes costs the scan a table lookup (a cache miss), and without the
 * confirming stage that was about 480 000 times on a 557 MB seed.
 *
 * @example
 * ```ts
 * const filter = WeakSumFilter.from([0x03d4018a], {});
 * filter.has(0x03d4018a); // true
 * ```
 */
export class WeakSumFilter {
  /**
   * The bitset; bit `h` is `words[h >>> 5] & (1 << (h & 31))`. Read it, never write it: scanners
   * keep copies, which only {@link WeakSumFilter.add} and {@link WeakSumFilter.clear} tell them
   * to renew.
   */
  readonly words: Int32Array;
  /**
   * The confirming stage: half as many bits as {@link WeakSumFilter.words}, two per sum, tested
   * only where both bits of the first stage are set (`imul(sum & mask, m) >>> (shift + 1)`).
   * Read it, never write it.
   */
  readonly confirm: Int32Array;
  /** `32 − log2(size in bits)`: a sum's bit index is `imul(sum & mask, 0x9e3779b1) >>> shift`. */
  readonly shift: number;
  /** Bits of the weak sum that count. */
  readonly mask: number;
  #version = 0;

  /**
   * Creates an empty filter sized for `capacity` entries.
   *
   * @param capacity - expected number of distinct sums
   * @param options - mask and density
   * @throws {@link RollsumError} `ERR_ROLLSUM_INVALID_OPTION` for a bad capacity or density
   */
  constructor(capacity: number, options: WeakSumFilterOptions = {}) {
    const bitsPerEntry = options.bitsPerEntry ?? 64;
    if (!Number.isSafeInteger(capacity) || capacity < 0) {
      throw new RollsumError('ERR_ROLLSUM_INVALID_OPTION', `capacity: expected a non-negative integer, got ${capacity}`);
    }
    if (!(bitsPerEntry >= 1 && bitsPerEntry <= 1024)) {
      throw new RollsumError('ERR_ROLLSUM_INVALID_OPTION', `bitsPerEntry: expected a number in [1, 1024], got ${bitsPerEntry}`);
    }
    const mask = (options.mask ?? 0xffffffff) >>> 0;
    if (mask >>> 16 !== 0xffff) {
      throw new RollsumError('ERR_ROLLSUM_INVALID_OPTION', `mask: expected the high 16 bits set, got 0x${mask.toString(16)}`);
    }
    const wanted = Math.max(1, capacity) * bitsPerEntry;
    const log2 = Math.min(MAX_LOG2, Math.max(MIN_LOG2, Math.ceil(Math.log2(wanted))));
    this.words = new Int32Array(2 ** (log2 - 5));
    this.confirm = new Int32Array(2 ** (log2 - 6));
    this.shift = 32 - log2;
    this.mask = mask;
  }

  /**
   * Builds a filter holding every sum in `sums`.
   *
   * @param sums - weak sum values
   * @param options - mask and density
   * @returns the filter
   * @throws {@link RollsumError} `ERR_ROLLSUM_INVALID_OPTION`
   */
  static from(sums: ArrayLike<number>, options: WeakSumFilterOptions = {}): WeakSumFilter {
    const filter = new WeakSumFilter(sums.length, options);
    for (let i = 0; i < sums.length; i++) filter.add(sums[i] as number);
    return filter;
  }

  /**
   * Changes with every {@link WeakSumFilter.add} and {@link WeakSumFilter.clear}: a scanner that
   * keeps a copy of the bitset (as {@link WeakScanner} does) copies it again when this differs
   * from the copy's.
   */
  get version(): number {
    return this.#version;
  }

  /**
   * Adds a weak sum.
   *
   * @param sum - weak sum value
   * @returns this
   */
  add(sum: number): this {
    const h = Math.imul(sum & this.mask, GOLDEN) >>> this.shift;
    this.words[h >>> 5] = (this.words[h >>> 5] as number) | (1 << (h & 31));
    const g = Math.imul(sum & this.mask, SECOND) >>> this.shift;
    this.words[g >>> 5] = (this.words[g >>> 5] as number) | (1 << (g & 31));
    const c = Math.imul(sum & this.mask, THIRD) >>> (this.shift + 1);
    this.confirm[c >>> 5] = (this.confirm[c >>> 5] as number) | (1 << (c & 31));
    const d = Math.imul(sum & this.mask, FOURTH) >>> (this.shift + 1);
    this.confirm[d >>> 5] = (this.confirm[d >>> 5] as number) | (1 << (d & 31));
    this.#version++;
    return this;
  }

  /**
   * Removes every sum, keeping the filter's memory: refilling a filter costs less than making a
   * new one, whose memory the system has to hand over page by page (a 3 MiB filter: about 2 ms on
   * a VM, and more when two threads of one process do it at once).
   *
   * @returns this
   */
  clear(): this {
    this.words.fill(0);
    this.confirm.fill(0);
    this.#version++;
    return this;
  }

  /**
   * Tells whether `sum` may have been added (no false negatives).
   *
   * @param sum - weak sum value
   * @returns false when `sum` was certainly not added
   */
  has(sum: number): boolean {
    const h = Math.imul(sum & this.mask, GOLDEN) >>> this.shift;
    if (((this.words[h >>> 5] as number) & (1 << (h & 31))) === 0) return false;
    return this.hasSecond(sum);
  }

  /**
   * The rest of {@link WeakSumFilter.has} after the first bit: the second bit, then the
   * confirming stage. A scan that tests the first bit inline calls this for the few offsets
   * that pass.
   *
   * @param sum - weak sum value whose first bit is set
   * @returns false when `sum` was certainly not added
   */
  hasSecond(sum: number): boolean {
    const masked = sum & this.mask;
    const g = Math.imul(masked, SECOND) >>> this.shift;
    if (((this.words[g >>> 5] as number) & (1 << (g & 31))) === 0) return false;
    const c = Math.imul(masked, THIRD) >>> (this.shift + 1);
    if (((this.confirm[c >>> 5] as number) & (1 << (c & 31))) === 0) return false;
    const d = Math.imul(masked, FOURTH) >>> (this.shift + 1);
    return ((this.confirm[d >>> 5] as number) & (1 << (d & 31))) !== 0;
  }
}
