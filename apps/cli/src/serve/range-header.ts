// Parsing of the `Range: bytes=…` request header (RFC 9110 §14.1.2, §14.2) for `gosync serve`.
import type { ByteRange } from '@gosync/core';

/**
 * What a server should do with a request's `Range` header:
 * - `ignore`: send the whole representation with 200 (no header, another unit, a syntax error,
 *   or a request the server declines to split, such as too many or overlapping ranges);
 * - `unsatisfiable`: answer 416 with `Content-Range: bytes *\/size`;
 * - `ranges`: answer 206 with these ranges (half-open, clamped to the size, in the order asked).
 */
export type RangeDecision =
  | { readonly kind: 'ignore'; readonly reason: 'absent' | 'unit' | 'syntax' | 'too-many' | 'overlap' | 'empty-file' }
  | { readonly kind: 'unsatisfiable' }
  | { readonly kind: 'ranges'; readonly ranges: readonly ByteRange[] };

/** Limits on what a client may ask for in one request. */
export interface RangeLimits {
  /** More range-specs than this (satisfiable or not) → the whole body. Default 64. */
  readonly maxRanges?: number;
}

const DIGITS = /^[0-9]+$/;

/**
 * Compares two non-empty decimal digit strings exactly, also beyond 2^53.
 * @returns negative, zero or positive like `a - b`
 */
function compareDecimal(a: string, b: string): number {
  const x = a.replace(/^0+(?=.)/, '');
  const y = b.replace(/^0+(?=.)/, '');
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A decimal string as a number, capped at `cap` (so values beyond 2^53 never lose meaning). */
function decimalAtMost(s: string, cap: number): number {
  return compareDecimal(s, String(cap)) >= 0 ? cap : Number(s);
}

type Spec = { readonly kind: 'int'; readonly first: string; readonly last: string | undefined } | { readonly kind: 'suffix'; readonly length: string };

/** Splits a range-set into range-specs; undefined on any syntax error. */
function parseRangeSet(set: string): Spec[] | undefined {
  const specs: Spec[] = [];
  // `1#range-spec`: comma-separated, optional whitespace around commas, empty elements allowed.
  for (const raw of set.split(',')) {
    const item = raw.replace(/^[ \t]+|[ \t]+$/g, '');
    if (item === '') continue;
    const dash = item.indexOf('-');
    if (dash < 0) return undefined;
    const first = item.slice(0, dash);
    const last = item.slice(dash + 1);
    if (first === '') {
      if (!DIGITS.test(last)) return undefined;
      specs.push({ kind: 'suffix', length: last });
    } else {
      if (!DIGITS.test(first)) return undefined;
      if (last !== '' && !DIGITS.test(last)) return undefined;
      // RFC 9110: a last-pos below first-pos makes the whole header invalid.
      if (last !== '' && compareDecimal(last, first) < 0) return undefined;
      specs.push({ kind: 'int', first, last: last === '' ? undefined : last });
    }
  }
  return specs.length === 0 ? undefined : specs;
}

/**
 * Decides how to answer a `Range` header for a representation of `size` bytes.
 *
 * Follows RFC 9110: the unit `bytes` is matched case-insensitively; a header with a syntax
 * error or another unit is ignored (200); specs that start at or past the end are dropped and
 * when none is left the answer is 416; a suffix `-N` means the last N bytes; `N-` means from N
 * to the end; last positions past the end are clamped. Ranges keep the order they were asked
 * in and are not merged. A server may answer 200 instead of 206, and this one does when there
 * are more than `maxRanges` specs, or when the ranges overlap and add up to more than the file.
 *
 * @param header - the header's value (undefined when the request has none)
 * @param size - the representation's length in bytes (any safe integer; beyond 4 GiB works)
 * @param limits - `maxRanges` (default 64)
 * @returns the decision, with half-open ranges `[start, end)` inside `[0, size)`
 * @example
 * ```ts
 * parseRangeHeader('bytes=0-99,-100', 1000);
 * // { kind: 'ranges', ranges: [{ start: 0, end: 100 }, { start: 900, end: 1000 }] }
 * ```
 */
export function parseRangeHeader(header: string | undefined, size: number, limits: RangeLimits = {}): RangeDecision {
  if (header === undefined) return { kind: 'ignore', reason: 'absent' };
  const value = header.replace(/^[ \t]+|[ \t]+$/g, '');
  const eq = value.indexOf('=');
  if (eq < 0) return { kind: 'ignore', reason: 'syntax' };
  if (value.slice(0, eq).toLowerCase() !== 'bytes') return { kind: 'ignore', reason: 'unit' };
  const specs = parseRangeSet(value.slice(eq + 1));
  if (specs === undefined) return { kind: 'ignore', reason: 'syntax' };
  if (specs.length > (limits.maxRanges ?? 64)) return { kind: 'ignore', reason: 'too-many' };
  const ranges: ByteRange[] = [];
  let satisfiable = false;
  for (const spec of specs) {
    if (spec.kind === 'suffix') {
      const length = decimalAtMost(spec.length, size);
      if (compareDecimal(spec.length, '0') === 0) continue;
      satisfiable = true;
      if (length > 0) ranges.push({ start: size - length, end: size });
    } else {
      if (compareDecimal(spec.first, String(size)) >= 0) continue;
      satisfiable = true;
      const start = Number(spec.first);
      const end = spec.last === undefined ? size : decimalAtMost(spec.last, size - 1) + 1;
      ranges.push({ start, end });
    }
  }
  if (!satisfiable) return { kind: 'unsatisfiable' };
  // Only a zero-length file gets here with nothing to send: a suffix of an empty file.
  if (ranges.length === 0) return { kind: 'ignore', reason: 'empty-file' };
  // Ranges inside [0, size) that add up to more than size must overlap: a client asking for
  // the same bytes again and again gets them once, in a 200.
  let total = 0;
  for (const r of ranges) total += r.end - r.start;
  if (total > size) return { kind: 'ignore', reason: 'overlap' };
  return { kind: 'ranges', ranges };
}
