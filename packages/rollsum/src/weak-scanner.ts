import { RollsumError } from './errors.js';
import { assertWindowSize } from './rollsum32.js';
import { ScanKernel } from './scan-kernel.js';
import type { WeakSumFilter } from './weak-sum-filter.js';

/** The most bytes of one `update` scanned at once: bounds the kernel's buffer whatever the chunk size. */
const FEED_SLICE = 16 << 20;

/** Checks what `onHit` returned: the number of bytes to advance, 0 for one. */
function advanceOf(returned: ReturnType<WeakScanHit>): number {
  if (returned === undefined) return 0;
  if (!Number.isSafeInteger(returned) || returned < 0) {
    throw new RollsumError(
      'ERR_ROLLSUM_INVALID_OPTION',
      `onHit: expected to return nothing, 0 or a positive integer, got ${String(returned)}`,
    );
  }
  return returned;
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
 * byte or per hit; the internal buffer holds the last window plus one input buffer (up to 16 MiB of
 * it: a larger one is scanned in slices, with the same result). The loop over
 * the bytes runs as WebAssembly (an internal kernel with its own copy of the filter's bitset,
 * renewed when {@link WeakSumFilter.version} changes), so it is fast from the first call.
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
  #filter: WeakSumFilter;
  readonly #kernel: ScanKernel;
  /** The filter version copied into the kernel (−1: none yet). */
  #filterVersion = -1;
  /** Bytes at the start of the kernel's buffer carried over from the last update. */
  #carry = 0;
  /** The input buffers (see inputBuffers): where each starts in the kernel's buffer, and their length. */
  #inputs: { readonly at: readonly [number, number]; readonly length: number; readonly views: readonly [Uint8Array, Uint8Array] } | undefined;
  /** Stream offset of the kernel buffer's first byte. */
  #base = 0;
  /** Bytes of the next input to drop (a jump went past the end of the last one). */
  #skip = 0;
  #position = 0;

  /**
   * @param options - window size and prefilter
   * @throws {@link RollsumError} `ERR_ROLLSUM_INVALID_OPTION` for a bad window size
   */
  constructor(options: WeakScannerOptions) {
    assertWindowSize(options.windowSize);
    this.windowSize = options.windowSize;
    this.#filter = options.filter;
    this.#kernel = new ScanKernel(options.filter.words.byteLength + options.filter.confirm.byteLength, Math.max(64 * 1024, 2 * options.windowSize));
  }

  /** Bytes fed so far. */
  get position(): number {
    return this.#position;
  }

  /** The prefilter in use. */
  get filter(): WeakSumFilter {
    return this.#filter;
  }

  /**
   * Switches to another prefilter of the same size and mask, from the next window on (called
   * from `onHit`, it applies to the windows after that hit). A scan that stops looking for some
   * sums (blocks already found) passes a filter without them, so that their windows no longer
   * come back as hits.
   *
   * @param filter - the new filter
   * @returns this
   * @throws {@link RollsumError} `ERR_ROLLSUM_INVALID_OPTION` when its size or mask differs
   */
  useFilter(filter: WeakSumFilter): this {
    if (filter.shift !== this.#filter.shift || filter.mask !== this.#filter.mask) {
      throw new RollsumError(
        'ERR_ROLLSUM_INVALID_OPTION',
        `useFilter: expected a filter of ${this.#filter.words.length * 32} bits with mask 0x${this.#filter.mask.toString(16)}, got ${filter.words.length * 32} bits with mask 0x${filter.mask.toString(16)}`,
      );
    }
    this.#filter = filter;
    this.#filterVersion = -1;
    return this;
  }

  /** Copies the filter's bitset into the kernel when it changed since the last copy. */
  #syncFilter(): void {
    if (this.#filter.version === this.#filterVersion) return;
    this.#kernel.loadFilter(this.#filter.words, this.#filter.confirm);
    this.#filterVersion = this.#filter.version;
  }

  /**
   * Two buffers of `length` bytes inside the scanner, for a caller that reads the stream itself:
   * {@link WeakScanner.update} scans a chunk that lies in one of them where it is, without
   * copying it in (on a seed read from a file, the copy was 3 % of the scan). Fill one while the
   * other is scanned. They stay valid until the scanner's memory grows: `inputBuffers` with a
   * larger length, or an `update` with a chunk from elsewhere larger than any before.
   *
   * @param length - the most bytes of one chunk (at most 16 MiB)
   * @returns the two buffers
   * @throws {@link RollsumError} `ERR_ROLLSUM_INVALID_OPTION` for a length out of range
   */
  inputBuffers(length: number): readonly [Uint8Array, Uint8Array] {
    if (!Number.isSafeInteger(length) || length < 1 || length > FEED_SLICE) {
      throw new RollsumError('ERR_ROLLSUM_INVALID_OPTION', `inputBuffers: expected a length in [1, ${FEED_SLICE}], got ${String(length)}`);
    }
    const inputs = this.#inputs;
    const kernel = this.#kernel;
    if (inputs !== undefined && inputs.length >= length && inputs.views[0].buffer === kernel.buffer.buffer) {
      return [inputs.views[0].subarray(0, length), inputs.views[1].subarray(0, length)];
    }
    // The kernel's buffer: the carried bytes, then each input after room for them (a window).
    const room = this.windowSize;
    const at = [room + room, room + room + length + room] as const;
    kernel.ensureCapacity(at[1] + length);
    const work = kernel.buffer;
    const views = [work.subarray(at[0], at[0] + length), work.subarray(at[1], at[1] + length)] as const;
    this.#inputs = { at, length, views };
    return views;
  }

  /** Where `chunk` starts in the kernel's buffer if it lies in one of the input buffers, else −1. */
  #inputAt(chunk: Uint8Array): number {
    const inputs = this.#inputs;
    const work = this.#kernel.buffer;
    if (inputs === undefined || chunk.buffer !== work.buffer) return -1;
    const at = chunk.byteOffset - work.byteOffset;
    for (const start of inputs.at) if (at >= start && at + chunk.length <= start + inputs.length) return at;
    return -1;
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
    // A huge chunk goes in slices, so that the kernel's buffer stays bounded.
    for (let at = 0; at < chunk.length; at += FEED_SLICE) this.#feed(chunk.subarray(at, at + FEED_SLICE), onHit);
    return this;
  }

  /** Scans the next bytes of the stream (at most FEED_SLICE of them). */
  #feed(chunk: Uint8Array, onHit: WeakScanHit): void {
    let input = chunk;
    if (this.#skip > 0) {
      const dropped = Math.min(this.#skip, input.length);
      this.#skip -= dropped;
      input = input.subarray(dropped);
    }
    if (input.length === 0) return;

    const kernel = this.#kernel;
    // Size and mask stay the same for the whole stream (useFilter checks them).
    const filter = this.#filter;
    this.#syncFilter();
    const carry = this.#carry;
    const n = carry + input.length;
    // The bytes to scan start at `from` in the kernel's buffer: the carried bytes (kept at its
    // start between updates), then the input. An input already in an input buffer is scanned
    // where it is, the carried bytes copied in front of it; any other is copied in.
    const inputAt = this.#inputAt(input);
    let from = 0;
    if (inputAt >= 0) {
      from = inputAt - carry;
      kernel.buffer.copyWithin(from, 0, carry);
    } else {
      kernel.ensureCapacity(n);
      kernel.buffer.set(input, carry);
    }
    const work = kernel.buffer;
    const state = kernel.state;
    const w = this.windowSize;
    const { shift } = filter;
    // The filter's mask keeps all of b, so masking a is enough.
    const amask = filter.mask & 0xffff;
    const base = this.#base;
    // The state is at window state[0] of the buffer: partial (the sums of its first state[1]
    // bytes) or, after a hit, whole; the kernel rolls on from there.
    // A jump past the buffer's end (it may be beyond 2^31, which the kernel's state cannot hold).
    let beyond = -1;
    // What onHit sees: the bytes scanned, from the carried ones on.
    const view = from === 0 ? work : work.subarray(from, from + n);
    while (kernel.scan(from, n, w, amask, shift)) {
      const at = state[0] as number;
      const sum = ((state[2] as number) & amask) | ((state[3] as number) << 16);
      const advance = advanceOf(onHit(base + at, sum >>> 0, view, at, n));
      // onHit may have added to the filter or switched to another one.
      this.#syncFilter();
      if (advance > 1) {
        state[1] = 0;
        state[2] = 0;
        state[3] = 0;
        if (at + advance >= n) {
          beyond = at + advance;
          break;
        }
        state[0] = at + advance;
      }
    }
    const p = beyond >= 0 ? beyond : (state[0] as number);
    if (p >= n) {
      this.#skip = p - n;
      this.#carry = 0;
    } else {
      work.copyWithin(0, from + p, from + n);
      this.#carry = n - p;
    }
    state[0] = 0;
    this.#base = base + p;
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
    this.#position = 0;
    this.#kernel.state.fill(0);
    return this;
  }
}
