import { RollsumError } from './errors.js';
import { LITTLE_ENDIAN, wordView } from './words.js';

/**
 * Packs the two 16-bit halves of a weak sum into the 32-bit value used everywhere in `@gosync`:
 * `(a & 0xffff) | (b & 0xffff) << 16`, unsigned.
 *
 * This value is go-sync's `Rollsum32` read as a little-endian uint32, and holds the same `a`
 * and `b` that zsync's rsum stores big-endian (see {@link encodeZsyncRsum}).
 *
 * @param a - the plain byte sum (any integer; only the low 16 bits count)
 * @param b - the weighted byte sum (any integer; only the low 16 bits count)
 * @returns the weak sum as an unsigned 32-bit integer
 * @example
 * ```ts
 * weakSumValue(0x61, 0x61); // 0x00610061, the weak sum of "a"
 * ```
 */
export function weakSumValue(a: number, b: number): number {
  return ((a & 0xffff) | (b << 16)) >>> 0;
}

/**
 * The weak sum of `data` treated as one window, in one call.
 *
 * With `windowLength` larger than `data.length`, the data is treated as if padded with zero
 * bytes up to `windowLength` (zsync pads the last block this way): the byte weights become
 * `windowLength − i`.
 *
 * @param data - the window's bytes
 * @param windowLength - the window length the weights are computed for (default `data.length`)
 * @returns the weak sum as an unsigned 32-bit integer
 * @throws {@link RollsumError} `ERR_ROLLSUM_INVALID_OPTION` when `windowLength < data.length`
 * @example
 * ```ts
 * weakSum(new TextEncoder().encode('abcd')); // 0x03d4018a
 * ```
 */
export function weakSum(data: Uint8Array, windowLength: number = data.length): number {
  if (!Number.isSafeInteger(windowLength) || windowLength < data.length) {
    throw new RollsumError(
      'ERR_ROLLSUM_INVALID_OPTION',
      `windowLength: expected an integer ≥ data length ${data.length}, got ${windowLength}`,
    );
  }
  let a = 0;
  let b = 0;
  // b = Σ (L − i)·x_i, computed as a running sum of prefix sums plus the padding's share.
  for (let i = 0; i < data.length; i++) {
    a = (a + (data[i] as number)) | 0;
    b = (b + a) | 0;
  }
  const pad = windowLength - data.length;
  if (pad > 0) b = (b + Math.imul(a, pad % 0x10000)) | 0;
  return weakSumValue(a, b);
}

/**
 * The weak sum of every window of `windowSize` bytes in `data`: entry `i` is the weak sum of
 * `data[i, i + windowSize)`. Rolls in O(1) per offset.
 *
 * @param data - the bytes to roll over
 * @param windowSize - the window length, ≥ 1
 * @param out - optional output array with room for `data.length − windowSize + 1` sums
 * @returns the sums (a subarray of `out` when given)
 * @throws {@link RollsumError} `ERR_ROLLSUM_INVALID_OPTION` for a bad window size or a short `out`
 * @example
 * ```ts
 * rollingSums(new TextEncoder().encode('The quick'), 4)[1]; // weak sum of "he q": 0x0380015e
 * ```
 */
export function rollingSums(data: Uint8Array, windowSize: number, out?: Uint32Array): Uint32Array {
  assertWindowSize(windowSize);
  const count = Math.max(0, data.length - windowSize + 1);
  const sums = out ?? new Uint32Array(count);
  if (sums.length < count) {
    throw new RollsumError(
      'ERR_ROLLSUM_INVALID_OPTION',
      `out: expected room for ${count} sums, got ${sums.length}`,
    );
  }
  if (count === 0) return sums.subarray(0, 0);
  const w = windowSize;
  const n = data.length;
  let a = 0;
  let b = 0;
  for (let i = 0; i < w; i++) {
    a = (a + (data[i] as number)) | 0;
    b = (b + a) | 0;
  }
  // State: the sum of the full window [j, j + w). Where the window length is a multiple of 4 the
  // bytes leaving and entering share their alignment, so both are read four at a time.
  const { words, first } = wordView(data);
  const fast = LITTLE_ENDIAN && (w & 3) === 0;
  const kw = w >>> 2;
  let j = 0;
  while (j < count) {
    if (fast && ((j - first) & 3) === 0 && j >= first && j + w + 4 <= n) {
      let k = (j - first) >>> 2;
      for (; j + w + 4 <= n; j += 4, k++) {
        const leave = words[k] as number;
        const enter = words[k + kw] as number;
        sums[j] = (a & 0xffff) | (b << 16);
        let l = leave & 0xff;
        a = (a - l + (enter & 0xff)) | 0;
        b = (b - Math.imul(w, l) + a) | 0;
        sums[j + 1] = (a & 0xffff) | (b << 16);
        l = (leave >>> 8) & 0xff;
        a = (a - l + ((enter >>> 8) & 0xff)) | 0;
        b = (b - Math.imul(w, l) + a) | 0;
        sums[j + 2] = (a & 0xffff) | (b << 16);
        l = (leave >>> 16) & 0xff;
        a = (a - l + ((enter >>> 16) & 0xff)) | 0;
        b = (b - Math.imul(w, l) + a) | 0;
        sums[j + 3] = (a & 0xffff) | (b << 16);
        l = leave >>> 24;
        a = (a - l + (enter >>> 24)) | 0;
        b = (b - Math.imul(w, l) + a) | 0;
      }
      continue;
    }
    sums[j] = (a & 0xffff) | (b << 16);
    if (j + w < n) {
      const l = data[j] as number;
      a = (a - l + (data[j + w] as number)) | 0;
      b = (b - Math.imul(w, l) + a) | 0;
    }
    j++;
  }
  return sums.subarray(0, count);
}

/** @internal */
export function assertWindowSize(windowSize: number): void {
  if (!Number.isSafeInteger(windowSize) || windowSize < 1 || windowSize > 0x40000000) {
    throw new RollsumError(
      'ERR_ROLLSUM_INVALID_OPTION',
      `windowSize: expected an integer in [1, 2^30], got ${windowSize}`,
    );
  }
}

/**
 * go-sync's 32-bit rolling checksum ("Rollsum32"), incremental.
 *
 * For a window `x0 … x(L−1)`: `a = Σ xi`, `b = Σ (L−i)·xi`, both mod 2^16 (no Adler-32
 * modulus, no +1). Adding a byte `c`: `a += c; b += a`. Removing the oldest byte `c` from a
 * window of length `L`: `a −= c; b −= L·c`. The digest is `[a lo, a hi, b lo, b hi]`.
 *
 * The class keeps no copy of the window: whoever rolls out a byte passes it in. Nothing is
 * allocated after construction (except by {@link Rollsum32.digest}).
 *
 * @example
 * ```ts
 * const sum = new Rollsum32().update(new TextEncoder().encode('The '));
 * sum.roll(0x54, 0x71);          // drop 'T', add 'q': now the sum of "he q"
 * sum.value() === 0x0380015e;    // true
 * ```
 */
export class Rollsum32 {
  #a = 0;
  #b = 0;
  #length = 0;

  /** Number of bytes currently in the window. */
  get length(): number {
    return this.#length;
  }

  /**
   * Adds bytes at the end of the window (the window grows).
   *
   * @param data - bytes to add
   * @returns this
   */
  update(data: Uint8Array): this {
    let a = this.#a;
    let b = this.#b;
    for (let i = 0; i < data.length; i++) {
      a = (a + (data[i] as number)) | 0;
      b = (b + a) | 0;
    }
    this.#a = a;
    this.#b = b;
    this.#length += data.length;
    return this;
  }

  /**
   * Adds one byte at the end of the window (the window grows by one).
   *
   * @param byte - the byte, 0–255
   * @returns this
   */
  rollIn(byte: number): this {
    this.#a = (this.#a + byte) | 0;
    this.#b = (this.#b + this.#a) | 0;
    this.#length++;
    return this;
  }

  /**
   * Removes the oldest byte of the window (the window shrinks by one).
   *
   * @param byte - the byte being removed, as it was added
   * @returns this
   * @throws {@link RollsumError} `ERR_ROLLSUM_INVALID_STATE` when the window is empty
   */
  rollOut(byte: number): this {
    if (this.#length === 0) {
      throw new RollsumError('ERR_ROLLSUM_INVALID_STATE', 'rollOut: the window is empty');
    }
    this.#a = (this.#a - byte) | 0;
    this.#b = (this.#b - Math.imul(this.#length, byte)) | 0;
    this.#length--;
    return this;
  }

  /**
   * Slides the window by one byte: removes `out` (the oldest) and adds `enter`.
   *
   * @param out - the oldest byte of the window
   * @param enter - the new byte
   * @returns this
   * @throws {@link RollsumError} `ERR_ROLLSUM_INVALID_STATE` when the window is empty
   */
  roll(out: number, enter: number): this {
    if (this.#length === 0) {
      throw new RollsumError('ERR_ROLLSUM_INVALID_STATE', 'roll: the window is empty');
    }
    const a = (this.#a - out + enter) | 0;
    this.#b = (this.#b - Math.imul(this.#length, out) + a) | 0;
    this.#a = a;
    return this;
  }

  /**
   * The sum as an unsigned 32-bit integer (`a | b << 16`).
   *
   * @returns the weak sum
   */
  value(): number {
    return weakSumValue(this.#a, this.#b);
  }

  /**
   * The 4 digest bytes in go-sync's order, `[a lo, a hi, b lo, b hi]`.
   *
   * @returns a new 4-byte array
   */
  digest(): Uint8Array {
    return this.digestInto(new Uint8Array(4), 0);
  }

  /**
   * Writes the 4 digest bytes into `out` at `offset`, allocating nothing.
   *
   * @param out - destination
   * @param offset - where to write (default 0)
   * @returns `out`
   */
  digestInto(out: Uint8Array, offset = 0): Uint8Array {
    out[offset] = this.#a & 0xff;
    out[offset + 1] = (this.#a >>> 8) & 0xff;
    out[offset + 2] = this.#b & 0xff;
    out[offset + 3] = (this.#b >>> 8) & 0xff;
    return out;
  }

  /**
   * Empties the window.
   *
   * @returns this
   */
  reset(): this {
    this.#a = 0;
    this.#b = 0;
    this.#length = 0;
    return this;
  }
}
