import { RollsumError } from './errors.js';
import { GEAR_TABLE } from './gear.js';

const KiB = 1024;
const MIN_LIMIT = 64;
const MAX_LIMIT = 2 ** 30;

/**
 * Options of {@link Chunker} and {@link chunkBoundaries}. All sizes are in bytes.
 *
 * The defaults (16 KiB / 64 KiB / 256 KiB, normalisation 2) are casync's sizes, with the
 * `min = avg / 4`, `max = 4 · avg` shape used in the FastCDC papers: a 1 GiB target has about
 * 14 000 chunks (a small index), while a small edit usually costs one or two chunks to fetch.
 */
export interface ChunkerOptions {
  /**
   * The shortest chunk (except the last one of a stream): the first `minSize − 1` bytes of a
   * chunk are skipped without hashing. An integer in `[64, avgSize]`; default `avgSize / 4`
   * (16 KiB for the default `avgSize`), but at least 64.
   */
  readonly minSize?: number;
  /**
   * The target chunk size; sets the mask widths (see {@link Chunker}). A power of two in
   * `[64, 2^30]` — other values are rejected rather than rounded, so that the value recorded in
   * an index is the value used. Default 64 KiB. With the default `minSize` and `maxSize` the
   * mean chunk of random data is about 1.15–1.2 × `avgSize` (the skipped minimum adds to it).
   */
  readonly avgSize?: number;
  /**
   * The longest chunk: a chunk with no content-defined boundary is cut here. An integer in
   * `[avgSize, 2^30]`; default `4 · avgSize` (256 KiB for the default `avgSize`), but at most
   * 2^30.
   */
  readonly maxSize?: number;
  /**
   * FastCDC's normalisation level `nc`: chunks shorter than `avgSize` need `log2(avgSize) + nc`
   * zero hash bits to end, longer ones only `log2(avgSize) − nc`, which pulls chunk sizes
   * towards `avgSize`. Default 1: for differential transfer what matters most is falling back
   * into step after an edit, and since the mask depends on the length since the last cut, a
   * higher level sometimes needs several chunks to do so (measured on 10 MB of random data with
   * the default sizes: level 2 lost up to 8 of ~110 chunks after one insertion, levels 0 and 1
   * at most one). Level 1 still narrows the size distribution: with the default sizes a chunk
   * reaches `maxSize` (a cut that is not content-defined) with odds about e^−6 (level 2: e^−12,
   * level 0: a few percent).
   */
  readonly normalization?: 0 | 1 | 2 | 3;
}

/**
 * A streaming content-defined chunker in the style of FastCDC (Xia et al., 2016 and 2020): Gear
 * rolling hash, skipped minimum, normalised chunking with two masks, cut at the maximum.
 *
 * The chunk format (a boundary depends only on the bytes since the previous boundary):
 *
 * - `h` is a 32-bit Gear hash: `h = (2·h + GEAR_TABLE[byte]) mod 2^32`, restarted at 0 at the
 *   start of every chunk. Bit `k` of `h` depends on the last `k + 1` bytes only.
 * - With `L` the chunk's length including the byte just read: bytes with `L < minSize` are
 *   skipped (not hashed); from `L = minSize` on every byte is hashed, and the chunk ends after it
 *   when the top `bitsS` bits of `h` are all zero while `L < avgSize`, or the top `bitsL` bits
 *   while `avgSize ≤ L < maxSize`. At `L = maxSize` the chunk ends regardless.
 * - `bitsS = min(32, log2(avgSize) + normalization)`, `bitsL = log2(avgSize) − normalization`.
 *   The masks take the top bits of `h` rather than FastCDC's spread bits (same purpose, simpler to
 *   reproduce): the test then depends on the last 32 bytes, its lowest bit on the last
 *   `33 − bits`. As the masks are nested, a position that ends a short chunk would also end a
 *   long one.
 *
 * So chunk lengths lie in `[minSize, maxSize]`, except the last chunk of a stream, which may be
 * shorter. All state is kept across {@link Chunker.push} calls, so the boundaries do not depend
 * on how the stream is cut into buffers. Offsets are absolute stream positions (JavaScript
 * numbers, exact to 2^53). Nothing is allocated per byte; each push allocates its result array
 * and a word view of its input (the hot loop reads 4 bytes at a time on little-endian hosts).
 *
 * @example
 * ```ts
 * const chunker = new Chunker({ avgSize: 8192 });
 * const ends: number[] = [];
 * for await (const piece of stream) ends.push(...chunker.push(piece));
 * const last = chunker.finish();
 * if (last !== undefined) ends.push(last);
 * // chunk i is [ends[i - 1] ?? 0, ends[i])
 * ```
 */
export class Chunker {
  /** The shortest chunk, in bytes (except the last). */
  readonly minSize: number;
  /** The target average chunk size, in bytes (a power of two). */
  readonly avgSize: number;
  /** The longest chunk, in bytes. */
  readonly maxSize: number;
  /** FastCDC's normalisation level. */
  readonly normalization: 0 | 1 | 2 | 3;
  readonly #maskS: number;
  readonly #maskL: number;
  #hash = 0;
  #pending = 0;
  #position = 0;

  /**
   * @param options - chunk sizes and normalisation; see {@link ChunkerOptions} for the defaults
   * @throws {@link RollsumError} `ERR_ROLLSUM_INVALID_OPTION` for a size that is not an integer
   *   in its domain, an `avgSize` that is not a power of two, `minSize > avgSize`,
   *   `avgSize > maxSize`, or a normalisation level other than 0–3
   */
  constructor(options?: ChunkerOptions) {
    const o = options ?? {};
    const avgSize = o.avgSize ?? 64 * KiB;
    checkSize('avgSize', avgSize, MIN_LIMIT, '64', MAX_LIMIT);
    if ((avgSize & (avgSize - 1)) !== 0) {
      throw invalid('avgSize', 'a power of two in [64, 2^30]', avgSize);
    }
    const minSize = o.minSize ?? Math.max(MIN_LIMIT, avgSize / 4);
    checkSize('minSize', minSize, MIN_LIMIT, '64', avgSize, `avgSize = ${avgSize}`);
    const maxSize = o.maxSize ?? Math.min(MAX_LIMIT, avgSize * 4);
    checkSize('maxSize', maxSize, avgSize, `avgSize = ${avgSize}`, MAX_LIMIT);
    // Typed, but checked: JavaScript callers and casts can pass anything.
    const normalization: unknown = o.normalization ?? 1;
    if (normalization !== 0 && normalization !== 1 && normalization !== 2 && normalization !== 3) {
      throw invalid('normalization', '0, 1, 2 or 3', normalization);
    }
    this.minSize = minSize;
    this.avgSize = avgSize;
    this.maxSize = maxSize;
    this.normalization = normalization;
    const bits = 31 - Math.clz32(avgSize);
    this.#maskS = topBits(Math.min(32, bits + normalization));
    this.#maskL = topBits(bits - normalization);
  }

  /** Bytes pushed so far (since construction or the last {@link Chunker.reset}). */
  get position(): number {
    return this.#position;
  }

  /**
   * Feeds the next bytes of the stream.
   *
   * @param data - the next bytes (any length, including 0)
   * @returns the end offsets, from the start of the stream, of the chunks that ended inside
   *   `data`, ascending; the next chunk starts where the previous one ends
   * @example
   * ```ts
   * const chunker = new Chunker();
   * chunker.push(new Uint8Array(300 * 1024)); // [262144]: zeros never match, cut at maxSize
   * ```
   */
  push(data: Uint8Array): number[] {
    const out: number[] = [];
    const n = data.length;
    const base = this.#position;
    const maskS = this.#maskS;
    const maskL = this.#maskL;
    // Index in `data` of the last byte of a chunk of length minSize, avgSize, maxSize.
    const minM1 = this.minSize - 1;
    const avgM1 = this.avgSize - 1;
    const maxM1 = this.maxSize - 1;
    // words[k] holds data[4k − skew, 4k − skew + 4), so the hot loop reads 4 bytes at a time.
    const skew = data.byteOffset & 3;
    const words = LITTLE_ENDIAN
      ? new Uint32Array(data.buffer, data.byteOffset - skew, (n + skew) >>> 2)
      : NO_WORDS;
    let h = this.#hash;
    // Index in `data` where the current chunk starts (≤ 0 when it started in an earlier push).
    let start = -this.#pending;
    let j = 0;
    for (;;) {
      const skipTo = start + minM1;
      if (j < skipTo) j = skipTo;
      if (j >= n) break;
      // Below avgSize: the wider mask (from an earlier push, j may already be past it).
      let end = Math.min(n, start + avgM1);
      let cut = -1;
      if (j < end) {
        cut = scan(data, words, skew, j, end, h, maskS);
        h = scanHash;
        j = end;
      }
      if (cut < 0) {
        if (j >= n) break;
        // From avgSize to maxSize: the narrower mask; then the cut at maxSize.
        end = Math.min(n, start + maxM1);
        if (j < end) {
          cut = scan(data, words, skew, j, end, h, maskL);
          h = scanHash;
          j = end;
        }
        if (cut < 0) {
          if (j >= n) break;
          cut = j; // j === start + maxSize − 1: cut at maxSize
        }
      }
      start = cut + 1;
      j = start;
      h = 0;
      out.push(base + start);
    }
    this.#hash = h;
    this.#pending = n - start;
    this.#position = base + n;
    return out;
  }

  /**
   * Ends the current chunk at the current position, if it has any bytes. The position is kept:
   * bytes pushed afterwards start a new chunk, at the next offset.
   *
   * @returns the end offset of the last chunk (the current position), or `undefined` when no
   *   bytes are pending (nothing pushed since the last boundary)
   * @example
   * ```ts
   * const chunker = new Chunker();
   * chunker.push(new Uint8Array(100));
   * chunker.finish(); // 100
   * chunker.finish(); // undefined
   * ```
   */
  finish(): number | undefined {
    if (this.#pending === 0) return undefined;
    this.#pending = 0;
    this.#hash = 0;
    return this.#position;
  }

  /**
   * Forgets the stream: the next byte pushed is offset 0 and starts a chunk. The options stay.
   *
   * @returns this
   * @example
   * ```ts
   * chunker.reset().push(nextFile);
   * ```
   */
  reset(): this {
    this.#hash = 0;
    this.#pending = 0;
    this.#position = 0;
    return this;
  }
}

/**
 * The chunk boundaries of `data` in one call: the same as one {@link Chunker.push} followed by
 * {@link Chunker.finish}.
 *
 * @param data - the whole stream
 * @param options - chunk sizes and normalisation; see {@link ChunkerOptions}
 * @returns the end offset of every chunk, ascending; the last equals `data.length`; empty for
 *   empty input
 * @throws {@link RollsumError} `ERR_ROLLSUM_INVALID_OPTION` for bad options
 * @example
 * ```ts
 * const ends = chunkBoundaries(fileBytes, { avgSize: 16 * 1024 });
 * const chunks = ends.map((end, i) => fileBytes.subarray(ends[i - 1] ?? 0, end));
 * ```
 */
export function chunkBoundaries(data: Uint8Array, options?: ChunkerOptions): number[] {
  const chunker = new Chunker(options);
  const ends = chunker.push(data);
  const last = chunker.finish();
  if (last !== undefined) ends.push(last);
  return ends;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const NO_WORDS = new Uint32Array(0);

/** The hash after the last {@link scan} (module scratch, so that scan allocates nothing). */
let scanHash = 0;

/**
 * Rolls the Gear hash `h` over `data[j, end)` and stops at the first byte after which
 * `h & mask` is 0.
 *
 * @param words - `data` as little-endian words: `words[k]` holds `data[4k − skew, 4k − skew + 4)`
 *   (empty on big-endian hosts, which read byte by byte)
 * @returns the index of that byte, or −1 when there is none; the hash is left in `scanHash`
 */
function scan(
  data: Uint8Array,
  words: Uint32Array,
  skew: number,
  j: number,
  end: number,
  h: number,
  mask: number,
): number {
  const gear = GEAR_TABLE;
  let i = j;
  let cut = -1;
  if (words.length > 0) {
    for (; i < end && ((i + skew) & 3) !== 0; i++) {
      h = ((h << 1) + (gear[data[i] as number] as number)) | 0;
      if ((h & mask) === 0) {
        scanHash = h;
        return i;
      }
    }
    const endW = end - 3;
    for (; i < endW; i += 4) {
      const w = words[(i + skew) >>> 2] as number;
      h = ((h << 1) + (gear[w & 0xff] as number)) | 0;
      if ((h & mask) === 0) {
        cut = i;
        break;
      }
      h = ((h << 1) + (gear[(w >>> 8) & 0xff] as number)) | 0;
      if ((h & mask) === 0) {
        cut = i + 1;
        break;
      }
      h = ((h << 1) + (gear[(w >>> 16) & 0xff] as number)) | 0;
      if ((h & mask) === 0) {
        cut = i + 2;
        break;
      }
      h = ((h << 1) + (gear[w >>> 24] as number)) | 0;
      if ((h & mask) === 0) {
        cut = i + 3;
        break;
      }
    }
    if (cut >= 0) {
      scanHash = h;
      return cut;
    }
  }
  for (; i < end; i++) {
    h = ((h << 1) + (gear[data[i] as number] as number)) | 0;
    if ((h & mask) === 0) {
      cut = i;
      break;
    }
  }
  scanHash = h;
  return cut;
}

/** A 32-bit mask of the top `bits` bits (1–32), as a signed 32-bit integer. */
function topBits(bits: number): number {
  return -1 << (32 - bits);
}

function checkSize(
  name: string,
  value: unknown,
  low: number,
  lowText: string,
  high: number,
  highText = '2^30',
): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < low || value > high) {
    throw invalid(name, `an integer in [${lowText}, ${highText}]`, value);
  }
}

function invalid(name: string, expected: string, value: unknown): RollsumError {
  return new RollsumError(
    'ERR_ROLLSUM_INVALID_OPTION',
    `${name}: expected ${expected}, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`,
  );
}
