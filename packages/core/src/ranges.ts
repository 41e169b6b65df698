import { CoreError } from './errors.js';
import type { ByteRange } from './types.js';

function isOffset(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/**
 * Tells whether `range` is a valid {@link ByteRange}: safe non-negative integer offsets with
 * `start ≤ end`.
 *
 * @param range - the value to check
 * @returns true when valid
 * @example
 * ```ts
 * isByteRange({ start: 0, end: 10 }); // true
 * isByteRange({ start: 5, end: 2 });  // false
 * ```
 */
export function isByteRange(range: unknown): range is ByteRange {
  if (typeof range !== 'object' || range === null) return false;
  const { start, end } = range as Record<string, unknown>;
  return isOffset(start) && isOffset(end) && start <= end;
}

/**
 * Throws unless `range` is a valid {@link ByteRange}.
 *
 * @param range - the value to check
 * @param what - names the range in the error message (a file, a URL, a block)
 * @throws {@link CoreError} `ERR_CORE_INVALID_RANGE`
 * @example
 * ```ts
 * assertByteRange({ start: 0, end: 4 }, 'block 0');
 * ```
 */
export function assertByteRange(range: unknown, what = 'range'): asserts range is ByteRange {
  if (!isByteRange(range)) {
    throw new CoreError(
      'ERR_CORE_INVALID_RANGE',
      `${what}: expected {start, end} with integer offsets 0 ≤ start ≤ end ≤ 2^53-1, got ${describe(range)}`,
    );
  }
}

function describe(value: unknown): string {
  try {
    const json = JSON.stringify(value) as string | undefined;
    return json === undefined ? String(value) : json;
  } catch {
    return String(value);
  }
}

/**
 * Creates a validated, frozen {@link ByteRange}.
 *
 * @param start - first offset, inclusive
 * @param end - offset one past the last byte
 * @returns the range
 * @throws {@link CoreError} `ERR_CORE_INVALID_RANGE` for negative, fractional, unsafe or inverted offsets
 * @example
 * ```ts
 * const r = byteRange(4096, 8192); // 4 KiB at offset 4 KiB
 * ```
 */
export function byteRange(start: number, end: number): ByteRange {
  const range = { start, end };
  assertByteRange(range);
  return Object.freeze(range);
}

/**
 * The length of a range in bytes.
 *
 * @param range - a valid range
 * @returns `end - start`
 * @example
 * ```ts
 * rangeLength({ start: 10, end: 15 }); // 5
 * ```
 */
export function rangeLength(range: ByteRange): number {
  return range.end - range.start;
}

/**
 * The sum of the lengths of `ranges` (overlaps counted twice; normalise first to avoid that).
 *
 * @param ranges - valid ranges
 * @returns total bytes
 * @example
 * ```ts
 * totalLength([{ start: 0, end: 2 }, { start: 5, end: 8 }]); // 5
 * ```
 */
export function totalLength(ranges: Iterable<ByteRange>): number {
  let total = 0;
  for (const r of ranges) total += r.end - r.start;
  return total;
}

function sortedCopy(ranges: Iterable<ByteRange>): ByteRange[] {
  const out: ByteRange[] = [];
  let i = 0;
  for (const r of ranges) {
    assertByteRange(r, `ranges[${i}]`);
    i++;
    if (r.end > r.start) out.push(r);
  }
  return out.sort((a, b) => a.start - b.start || a.end - b.end);
}

/**
 * Merges ranges whose gap is at most `maxGap` bytes, after sorting them. Overlapping and
 * touching ranges are always merged; empty ranges are dropped. With `maxGap = 0` this is the
 * canonical (normalised) form of a set of bytes.
 *
 * Use a positive gap to trade a few wasted bytes for fewer requests.
 *
 * @param ranges - valid ranges, in any order
 * @param maxGap - the largest gap, in bytes, that is bridged (default 0)
 * @returns sorted, disjoint, non-touching ranges
 * @throws {@link CoreError} `ERR_CORE_INVALID_RANGE` for an invalid range,
 *   `ERR_CORE_INVALID_ARGUMENT` for a negative or fractional gap
 * @example
 * ```ts
 * mergeRanges([{ start: 10, end: 20 }, { start: 0, end: 8 }], 2);
 * // [{ start: 0, end: 20 }]
 * ```
 */
export function mergeRanges(ranges: Iterable<ByteRange>, maxGap = 0): ByteRange[] {
  return coalesceRanges(ranges, maxGap).map((group) => group.range);
}

/**
 * Sorts `ranges` and makes them disjoint: overlapping and touching ranges merge, empty ranges
 * are dropped. Equivalent to `mergeRanges(ranges, 0)`.
 *
 * @param ranges - valid ranges, in any order
 * @returns the canonical form: sorted, disjoint, non-touching, non-empty
 * @throws {@link CoreError} `ERR_CORE_INVALID_RANGE`
 * @example
 * ```ts
 * normalizeRanges([{ start: 4, end: 8 }, { start: 0, end: 4 }, { start: 9, end: 9 }]);
 * // [{ start: 0, end: 8 }]
 * ```
 */
export function normalizeRanges(ranges: Iterable<ByteRange>): ByteRange[] {
  return mergeRanges(ranges, 0);
}

/** A merged range and the original ranges it covers. */
export interface RangeGroup {
  /** The merged range, from the first part's start to the furthest part's end. */
  readonly range: ByteRange;
  /** The original (non-empty) ranges inside it, sorted by start. */
  readonly parts: readonly ByteRange[];
}

/**
 * Like {@link mergeRanges}, but keeps the original ranges of each merged group, so the bytes of a
 * merged request can be cut back into the ranges that were asked for.
 *
 * @param ranges - valid ranges, in any order
 * @param maxGap - the largest gap, in bytes, that is bridged (default 0)
 * @returns groups in ascending order
 * @throws {@link CoreError} `ERR_CORE_INVALID_RANGE`, `ERR_CORE_INVALID_ARGUMENT`
 * @example
 * ```ts
 * coalesceRanges([{ start: 0, end: 4 }, { start: 6, end: 8 }], 4);
 * // [{ range: { start: 0, end: 8 }, parts: [{ start: 0, end: 4 }, { start: 6, end: 8 }] }]
 * ```
 */
export function coalesceRanges(ranges: Iterable<ByteRange>, maxGap = 0): RangeGroup[] {
  if (!isOffset(maxGap)) {
    throw new CoreError(
      'ERR_CORE_INVALID_ARGUMENT',
      `maxGap: expected a non-negative integer, got ${describe(maxGap)}`,
    );
  }
  const sorted = sortedCopy(ranges);
  const groups: RangeGroup[] = [];
  let parts: ByteRange[] = [];
  let start = 0;
  let end = -1;
  for (const r of sorted) {
    if (end >= 0 && r.start - end <= maxGap) {
      parts.push(r);
      if (r.end > end) end = r.end;
      continue;
    }
    if (end >= 0) groups.push({ range: { start, end }, parts });
    parts = [r];
    start = r.start;
    end = r.end;
  }
  if (end >= 0) groups.push({ range: { start, end }, parts });
  return groups;
}

/**
 * The bytes of `from` that are not in `remove`.
 *
 * @param from - valid ranges, in any order
 * @param remove - valid ranges, in any order
 * @returns normalised ranges
 * @throws {@link CoreError} `ERR_CORE_INVALID_RANGE`
 * @example
 * ```ts
 * subtractRanges([{ start: 0, end: 10 }], [{ start: 2, end: 4 }]);
 * // [{ start: 0, end: 2 }, { start: 4, end: 10 }]
 * ```
 */
export function subtractRanges(
  from: Iterable<ByteRange>,
  remove: Iterable<ByteRange>,
): ByteRange[] {
  const a = normalizeRanges(from);
  const b = normalizeRanges(remove);
  const out: ByteRange[] = [];
  let j = 0;
  for (const r of a) {
    let start = r.start;
    while (j < b.length && (b[j] as ByteRange).end <= start) j++;
    let k = j;
    while (k < b.length && (b[k] as ByteRange).start < r.end) {
      const cut = b[k] as ByteRange;
      if (cut.start > start) out.push({ start, end: cut.start });
      start = Math.max(start, cut.end);
      k++;
    }
    if (start < r.end) out.push({ start, end: r.end });
  }
  return out;
}

/**
 * The bytes that are in both `a` and `b`.
 *
 * @param a - valid ranges, in any order
 * @param b - valid ranges, in any order
 * @returns normalised ranges
 * @throws {@link CoreError} `ERR_CORE_INVALID_RANGE`
 * @example
 * ```ts
 * intersectRanges([{ start: 0, end: 10 }], [{ start: 5, end: 15 }]); // [{ start: 5, end: 10 }]
 * ```
 */
export function intersectRanges(a: Iterable<ByteRange>, b: Iterable<ByteRange>): ByteRange[] {
  const x = normalizeRanges(a);
  const y = normalizeRanges(b);
  const out: ByteRange[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    const p = x[i] as ByteRange;
    const q = y[j] as ByteRange;
    const start = Math.max(p.start, q.start);
    const end = Math.min(p.end, q.end);
    if (start < end) out.push({ start, end });
    if (p.end < q.end) i++;
    else j++;
  }
  return out;
}

/**
 * Cuts a range into consecutive pieces of at most `maxLength` bytes (the last may be shorter).
 *
 * @param range - a valid range
 * @param maxLength - a positive integer
 * @returns the pieces in order; none for an empty range
 * @throws {@link CoreError} `ERR_CORE_INVALID_RANGE`, `ERR_CORE_INVALID_ARGUMENT`
 * @example
 * ```ts
 * splitRange({ start: 0, end: 10 }, 4); // [0,4) [4,8) [8,10)
 * ```
 */
export function splitRange(range: ByteRange, maxLength: number): ByteRange[] {
  assertByteRange(range);
  if (!isOffset(maxLength) || maxLength === 0) {
    throw new CoreError(
      'ERR_CORE_INVALID_ARGUMENT',
      `maxLength: expected a positive integer, got ${describe(maxLength)}`,
    );
  }
  const out: ByteRange[] = [];
  for (let start = range.start; start < range.end; start += maxLength) {
    out.push({ start, end: Math.min(range.end, start + maxLength) });
  }
  return out;
}

/**
 * Sorts ranges by start (a new array) and finds the first two that overlap, for sources that
 * take a list of ranges which must be disjoint. Empty ranges overlap nothing.
 *
 * @param ranges - valid byte ranges, in any order
 * @returns the sorted ranges, and the first overlapping pair in that order if there is one
 * @example
 * ```ts
 * sortedDisjoint([{ start: 5, end: 9 }, { start: 0, end: 6 }]).overlap;
 * // [{ start: 0, end: 6 }, { start: 5, end: 9 }]
 * ```
 */
export function sortedDisjoint(ranges: Iterable<ByteRange>): {
  readonly sorted: ByteRange[];
  readonly overlap: readonly [ByteRange, ByteRange] | undefined;
} {
  const sorted = [...ranges].sort((a, b) => a.start - b.start || a.end - b.end);
  let last: ByteRange | undefined;
  for (const cur of sorted) {
    if (cur.end === cur.start) continue;
    if (last !== undefined && cur.start < last.end) return { sorted, overlap: [last, cur] };
    if (last === undefined || cur.end > last.end) last = cur;
  }
  return { sorted, overlap: undefined };
}
