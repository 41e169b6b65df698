import { RollsumError } from './errors.js';
import { assertWindowSize } from './rollsum32.js';
import { LITTLE_ENDIAN } from './words.js';
import { FILTER_SECOND, type WeakSumFilter } from './weak-sum-filter.js';

const GOLDEN = 0x9e3779b1;

function roundUp4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * Called where the filter's first bit is set: tests the second, calls `onHit` and checks what it
 * returned: the number of bytes to advance, 0 for one.
 */
function hitAdvance(
  filter: WeakSumFilter,
  onHit: WeakScanHit,
  offset: number,
  sum: number,
  buffer: Uint8Array,
  index: number,
  end: number,
): number {
  if (!filter.hasSecond(sum)) return 0;
  const advance = onHit(offset, sum >>> 0, buffer, index, end);
  if (advance === undefined) return 0;
  if (!Number.isSafeInteger(advance) || advance < 0) {
    throw new RollsumError(
      'ERR_ROLLSUM_INVALID_OPTION',
      `onHit: expected to return nothing, 0 or a positive integer, got ${String(advance)}`,
    );
  }
  return advance;
}

/**
 * The hot loop of {@link WeakScanner.update}, once per byte of the stream, four bytes a step:
 * from window `p` (a multiple of 4; the window complete, its sums `a`, `b` in `state`) rolls on
 * while the windows' sums miss the filter, one 32-bit read for the four bytes that leave and one
 * for the four that enter. Both of the filter's bits are tested here, so it returns only for
 * the windows that pass it (about 1 in 800 random windows at the usual density), or at the first
 * window after the last whole step (past `wordLimit`, not tested), with the window's sums in
 * `state`. A small function of its own so that V8 optimises it early and once: as part of
 * `update`, whose other paths run later, it was optimised, thrown away and optimised again
 * several times in a short run.
 */
function rollWords(
  d32: Uint32Array,
  state: Int32Array,
  p: number,
  wordLimit: number,
  w: number,
  amask: number,
  words: Int32Array,
  shift: number,
): number {
  let a = state[0] as number;
  let b = state[1] as number;
  const kw = w >>> 2;
  for (let k = p >>> 2, kEnd = (wordLimit >>> 2) + 1; k < kEnd; k++, p += 4) {
    const leave = d32[k] as number;
    const enter = d32[k + kw] as number;
    let sum = (a & amask) | (b << 16);
    let h = Math.imul(sum, GOLDEN) >>> shift;
    if (((words[h >>> 5] as number) & (1 << (h & 31))) !== 0) {
      const g = Math.imul(sum, FILTER_SECOND) >>> shift;
      if (((words[g >>> 5] as number) & (1 << (g & 31))) !== 0) {
        break;
      }
    }
    let l = leave & 0xff;
    a = (a - l + (enter & 0xff)) | 0;
    b = (b - Math.imul(w, l) + a) | 0;
    sum = (a & amask) | (b << 16);
    h = Math.imul(sum, GOLDEN) >>> shift;
    if (((words[h >>> 5] as number) & (1 << (h & 31))) !== 0) {
      const g = Math.imul(sum, FILTER_SECOND) >>> shift;
      if (((words[g >>> 5] as number) & (1 << (g & 31))) !== 0) {
        p += 1;
        break;
      }
    }
    l = (leave >>> 8) & 0xff;
    a = (a - l + ((enter >>> 8) & 0xff)) | 0;
    b = (b - Math.imul(w, l) + a) | 0;
    sum = (a & amask) | (b << 16);
    h = Math.imul(sum, GOLDEN) >>> shift;
    if (((words[h >>> 5] as number) & (1 << (h & 31))) !== 0) {
      const g = Math.imul(sum, FILTER_SECOND) >>> shift;
      if (((words[g >>> 5] as number) & (1 << (g & 31))) !== 0) {
        p += 2;
        break;
      }
    }
    l = (leave >>> 16) & 0xff;
    a = (a - l + ((enter >>> 16) & 0xff)) | 0;
    b = (b - Math.imul(w, l) + a) | 0;
    sum = (a & amask) | (b << 16);
    h = Math.imul(sum, GOLDEN) >>> shift;
    if (((words[h >>> 5] as number) & (1 << (h & 31))) !== 0) {
      const g = Math.imul(sum, FILTER_SECOND) >>> shift;
      if (((words[g >>> 5] as number) & (1 << (g & 31))) !== 0) {
        p += 3;
        break;
      }
    }
    l = leave >>> 24;
    a = (a - l + (enter >>> 24)) | 0;
    b = (b - Math.imul(w, l) + a) | 0;
  }
  state[0] = a;
  state[1] = b;
  return p;
}

/**
 * Adds the bytes `[from, to)` of `work` to the partial sums `a`, `b` in `state` (a gains each
 * byte, b gains a after each byte). After every match the scanner jumps a block and primes the
 * next window this way, so on near-identical data this, not the rolling, is the hot loop; a
 * small function of its own, for V8 to optimise early.
 */
function primeSums(work: Uint8Array, from: number, to: number, state: Int32Array): void {
  let a = state[0] as number;
  let b = state[1] as number;
  let i = from;
  for (const end4 = to - 3; i < end4; i += 4) {
    const x0 = work[i] as number;
    const x1 = work[i + 1] as number;
    const x2 = work[i + 2] as number;
    const x3 = work[i + 3] as number;
    // a1 = a + x0, …, a4 = a + x0 + x1 + x2 + x3; b gains a1 + a2 + a3 + a4.
    b = (b + 4 * a + 4 * x0 + 3 * x1 + 2 * x2 + x3) | 0;
    a = (a + x0 + x1 + x2 + x3) | 0;
  }
  for (; i < to; i++) {
    a = (a + (work[i] as number)) | 0;
    b = (b + a) | 0;
  }
  state[0] = a;
  state[1] = b;
}

/**
 * Called by {@link WeakScanner.update} for a window whose weak sum passes the filter.
 *
 * `buffer.subarray(index, index + windowSize)` holds the window's bytes, and
 * `buffer.subarray(index, end)` every byte of the stream from the window on that has been fed so
 * far (so a caller can check what follows a match without rolling); the buffer is only valid
 * during the call (copy what you keep).
 *
 * `sum` is the weak sum under the filter's mask (the bits a truncated .zsync sum keeps).
 *
 * Return how many bytes to advance: nothing (or 0) rolls on to the next offset; `n ≥ 1` makes
 * the next window start at `offset + n` (after a confirmed block match, `n = windowSize` jumps
 * over the block).
 */
export type WeakScanHit = (
  offset: number,
  sum: number,
  buffer: Uint8Array,
  index: number,
  end: number,
) => number | undefined | void; // eslint-disable-line @typescript-eslint/no-invalid-void-type -- callbacks that return nothing roll on

/** Options of {@link WeakScanner}. */
export interface WeakScannerOptions {
  /** Window length in bytes (the index's block size). */
  readonly windowSize: number;
  /** The prefilter; its `mask` selects the bits of the sum that are compared. */
  readonly filter: WeakSumFilter;
}

/**
 * The rolling scan: feeds a stream (a seed file) through the weak sum one byte at a time and
 * reports every window whose sum passes a {@link WeakSumFilter}, carrying state across buffer
 * boundaries, so the stream may be cut into buffers anywhere.
 *
 * Offsets are absolute positions in the stream (safe beyond 4 GiB). Nothing is allocated per
 * byte or per hit; the internal buffer holds the last `windowSize − 1` bytes plus one input
 * buffer.
 *
 * @example
 * ```ts
 * const data = new TextEncoder().encode('The quick brown fox');
 * const filter = WeakSumFilter.from([weakSum(data.subarray(4, 8))]);
 * const hits: number[] = [];
 * new WeakScanner({ windowSize: 4, filter }).update(data, (offset) => { hits.push(offset); });
 * // hits: [4]
 * ```
 */
export class WeakScanner {
  /** Window length in bytes. */
  readonly windowSize: number;
  readonly #filter: WeakSumFilter;
  #work: Uint8Array;
  #words: Uint32Array;
  #carry = 0;
  #base = 0;
  #skip = 0;
  #len = 0;
  #a = 0;
  #b = 0;
  #position = 0;
  /** The sums a and b, in and out of {@link rollWords}. */
  readonly #state = new Int32Array(2);

  /**
   * @param options - window size and prefilter
   * @throws {@link RollsumError} `ERR_ROLLSUM_INVALID_OPTION` for a bad window size
   */
  constructor(options: WeakScannerOptions) {
    assertWindowSize(options.windowSize);
    this.windowSize = options.windowSize;
    this.#filter = options.filter;
    this.#work = new Uint8Array(roundUp4(Math.max(64 * 1024, 2 * options.windowSize)));
    this.#words = new Uint32Array(this.#work.buffer);
  }

  /** Bytes fed so far. */
  get position(): number {
    return this.#position;
  }

  /**
   * Feeds the next bytes of the stream and reports the windows that pass the filter, in order
   * of offset.
   *
   * @param chunk - the next bytes
   * @param onHit - called for each window that passes; see {@link WeakScanHit}
   * @returns this
   * @throws {@link RollsumError} `ERR_ROLLSUM_INVALID_OPTION` when `onHit` returns something
   *   other than nothing, 0 or a positive integer; whatever `onHit` throws
   */
  update(chunk: Uint8Array, onHit: WeakScanHit): this {
    this.#position += chunk.length;
    let input = chunk;
    if (this.#skip > 0) {
      const dropped = Math.min(this.#skip, input.length);
      this.#skip -= dropped;
      input = input.subarray(dropped);
    }
    if (input.length === 0) return this;

    const w = this.windowSize;
    const n = this.#carry + input.length;
    if (n > this.#work.length) {
      const grown = new Uint8Array(roundUp4(Math.max(n, 2 * this.#work.length)));
      grown.set(this.#work.subarray(0, this.#carry));
      this.#work = grown;
      this.#words = new Uint32Array(grown.buffer);
    }
    const work = this.#work;
    const d32 = this.#words;
    work.set(input, this.#carry);
    const base = this.#base;
    const filter = this.#filter;
    const { words, shift } = filter;
    // The filter's mask keeps all of b, so masking a is enough (and costs nothing extra).
    const amask = filter.mask & 0xffff;
    const wordLoop = LITTLE_ENDIAN && (w & 3) === 0;
    const wordLimit = n - w - 4;
    const state = this.#state;

    let p = 0;
    let len = this.#len;
    let a = this.#a;
    let b = this.#b;
    // Between steps the state is the partial sum of the w − 1 bytes [p, p + len), len = w − 1
    // once primed; a step adds byte p + w − 1, tests window p, and removes byte p.
    outer: for (;;) {
      if (len < w - 1) {
        // Priming after a jump: the partial sums of up to w − 1 bytes (primeSums).
        const upTo = Math.min(w - 1, n - p);
        state[0] = a;
        state[1] = b;
        primeSums(work, p + len, p + upTo, state);
        a = state[0];
        b = state[1];
        len = upTo;
        if (len < w - 1) break;
      }
      if (wordLoop && (p & 3) === 0 && p <= wordLimit) {
        // Four bytes a step, in a function of its own (see rollWords): the window is complete
        // here, leaving byte p and entering byte p + w share their alignment.
        a = (a + (work[p + w - 1] as number)) | 0;
        b = (b + a) | 0;
        state[0] = a;
        state[1] = b;
        p = rollWords(d32, state, p, wordLimit, w, amask, words, shift);
        a = state[0];
        b = state[1];
        // Window p is complete: one whose sum passed both bits, or the first after the words.
        const sum = (a & amask) | (b << 16);
        const h = Math.imul(sum, GOLDEN) >>> shift;
        if (((words[h >>> 5] as number) & (1 << (h & 31))) !== 0) {
          const advance = hitAdvance(filter, onHit, base + p, sum, work, p, n);
          if (advance > 1) {
            p += advance;
            len = 0;
            a = 0;
            b = 0;
            if (p >= n) break;
            continue;
          }
        }
        // Back to the partial state: remove byte p.
        const l = work[p] as number;
        a = (a - l) | 0;
        b = (b - Math.imul(w, l)) | 0;
        p++;
      }
      // One byte a step, until aligned again (or to the end of the buffer).
      for (let i = p + w - 1; i < n; i++) {
        a = (a + (work[i] as number)) | 0;
        b = (b + a) | 0;
        const sum = (a & amask) | (b << 16);
        const h = Math.imul(sum, GOLDEN) >>> shift;
        if (((words[h >>> 5] as number) & (1 << (h & 31))) !== 0) {
          const advance = hitAdvance(filter, onHit, base + p, sum, work, p, n);
          if (advance > 1) {
            p += advance;
            len = 0;
            a = 0;
            b = 0;
            if (p >= n) break outer;
            continue outer;
          }
        }
        const l = work[p] as number;
        a = (a - l) | 0;
        b = (b - Math.imul(w, l)) | 0;
        p++;
        if (wordLoop && (p & 3) === 0 && p <= wordLimit) continue outer;
      }
      break;
    }
    if (p >= n) {
      this.#skip = p - n;
      this.#carry = 0;
    } else {
      work.copyWithin(0, p, n);
      this.#carry = n - p;
    }
    this.#base = base + p;
    this.#len = len;
    this.#a = a;
    this.#b = b;
    return this;
  }

  /**
   * Forgets the stream: the next byte fed is offset 0.
   *
   * @returns this
   */
  reset(): this {
    this.#carry = 0;
    this.#base = 0;
    this.#skip = 0;
    this.#len = 0;
    this.#a = 0;
    this.#b = 0;
    this.#position = 0;
    return this;
  }
}
