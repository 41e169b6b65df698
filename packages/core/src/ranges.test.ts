import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { isGosyncError } from './errors.js';
import {
  assertByteRange,
  byteRange,
  coalesceRanges,
  intersectRanges,
  isByteRange,
  mergeRanges,
  normalizeRanges,
  rangeLength,
  sortedDisjoint,
  splitRange,
  subtractRanges,
  totalLength,
} from './ranges.js';
import type { ByteRange } from './types.js';

// Naive model: a set of bytes as a bitmap over a small universe.
const U = 160;
function toSet(ranges: readonly ByteRange[]): boolean[] {
  const set = new Array<boolean>(U).fill(false);
  for (const r of ranges) for (let i = r.start; i < r.end; i++) set[i] = true;
  return set;
}
function fromSet(set: readonly boolean[]): ByteRange[] {
  const out: ByteRange[] = [];
  for (let i = 0; i < set.length; i++) {
    if (!set[i]) continue;
    let j = i;
    while (j < set.length && set[j]) j++;
    out.push({ start: i, end: j });
    i = j;
  }
  return out;
}
const arbRange = fc
  .tuple(fc.nat({ max: U }), fc.nat({ max: 20 }))
  .map(([start, len]) => ({ start: Math.min(start, U), end: Math.min(U, start + len) }));
const arbRanges = fc.array(arbRange, { maxLength: 12 });

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isGosyncError(e) ? e.code : 'not a GosyncError';
  }
  return undefined;
}

describe('validation', () => {
  it('accepts valid ranges, including offsets above 4 GiB', () => {
    expect(isByteRange({ start: 0, end: 0 })).toBe(true);
    expect(isByteRange({ start: 5 * 2 ** 30, end: 6 * 2 ** 30 })).toBe(true);
    expect(rangeLength(byteRange(2 ** 40, 2 ** 40 + 7))).toBe(7);
    expect(Object.isFrozen(byteRange(1, 2))).toBe(true);
  });

  it.each([
    [{ start: -1, end: 2 }],
    [{ start: 3, end: 2 }],
    [{ start: 0.5, end: 2 }],
    [{ start: 0, end: 2 ** 53 }],
    [{ start: 0, end: Number.NaN }],
    [{ start: '0', end: 2 }],
    [{ start: 0 }],
    [null],
    [7],
  ])('rejects %j with ERR_CORE_INVALID_RANGE', (bad) => {
    expect(isByteRange(bad)).toBe(false);
    expect(codeOf(() => { assertByteRange(bad, 'block 3'); })).toBe('ERR_CORE_INVALID_RANGE');
    expect(codeOf(() => normalizeRanges([bad as ByteRange]))).toBe('ERR_CORE_INVALID_RANGE');
  });

  it('names the range in the message', () => {
    expect(() => { assertByteRange({ start: 9, end: 1 }, 'block 3 of http://x/y'); }).toThrow(
      /block 3 of http:\/\/x\/y.*"start":9,"end":1/,
    );
  });

  it('rejects bad gaps and split sizes with ERR_CORE_INVALID_ARGUMENT', () => {
    expect(codeOf(() => mergeRanges([], -1))).toBe('ERR_CORE_INVALID_ARGUMENT');
    expect(codeOf(() => mergeRanges([], 1.5))).toBe('ERR_CORE_INVALID_ARGUMENT');
    expect(codeOf(() => splitRange({ start: 0, end: 4 }, 0))).toBe('ERR_CORE_INVALID_ARGUMENT');
    expect(codeOf(() => splitRange({ start: 0, end: 4 }, Number.POSITIVE_INFINITY))).toBe(
      'ERR_CORE_INVALID_ARGUMENT',
    );
  });
});

describe('vectors', () => {
  it('normalises', () => {
    expect(
      normalizeRanges([
        { start: 4, end: 8 },
        { start: 0, end: 4 },
        { start: 9, end: 9 },
        { start: 10, end: 12 },
        { start: 11, end: 11 },
      ]),
    ).toEqual([
      { start: 0, end: 8 },
      { start: 10, end: 12 },
    ]);
    expect(normalizeRanges([])).toEqual([]);
  });

  it('merges with a gap threshold and keeps the parts', () => {
    const input = [
      { start: 20, end: 30 },
      { start: 0, end: 10 },
      { start: 13, end: 15 },
    ];
    expect(mergeRanges(input, 2)).toEqual([
      { start: 0, end: 10 },
      { start: 13, end: 15 },
      { start: 20, end: 30 },
    ]);
    expect(mergeRanges(input, 3)).toEqual([
      { start: 0, end: 15 },
      { start: 20, end: 30 },
    ]);
    expect(mergeRanges(input, 5)).toEqual([{ start: 0, end: 30 }]);
    expect(coalesceRanges(input, 3)).toEqual([
      { range: { start: 0, end: 15 }, parts: [{ start: 0, end: 10 }, { start: 13, end: 15 }] },
      { range: { start: 20, end: 30 }, parts: [{ start: 20, end: 30 }] },
    ]);
  });

  it('subtracts, intersects and splits', () => {
    expect(subtractRanges([{ start: 0, end: 10 }], [{ start: 2, end: 4 }, { start: 8, end: 20 }])).toEqual([
      { start: 0, end: 2 },
      { start: 4, end: 8 },
    ]);
    expect(intersectRanges([{ start: 0, end: 10 }, { start: 20, end: 30 }], [{ start: 5, end: 25 }])).toEqual([
      { start: 5, end: 10 },
      { start: 20, end: 25 },
    ]);
    expect(splitRange({ start: 0, end: 10 }, 4)).toEqual([
      { start: 0, end: 4 },
      { start: 4, end: 8 },
      { start: 8, end: 10 },
    ]);
    expect(splitRange({ start: 3, end: 3 }, 4)).toEqual([]);
    expect(totalLength([{ start: 0, end: 2 }, { start: 5, end: 8 }])).toBe(5);
  });

  it('works beyond 32-bit offsets', () => {
    const big = 6 * 2 ** 30;
    expect(subtractRanges([{ start: big, end: big + 100 }], [{ start: big + 10, end: big + 20 }])).toEqual([
      { start: big, end: big + 10 },
      { start: big + 20, end: big + 100 },
    ]);
  });
});

describe('properties against a bitmap model', () => {
  test.prop([arbRanges])('normalizeRanges is the canonical form of the byte set', (rs) => {
    expect(normalizeRanges(rs)).toEqual(fromSet(toSet(rs)));
  });

  test.prop([arbRanges, arbRanges])('subtractRanges equals set difference', (a, b) => {
    const sa = toSet(a);
    const sb = toSet(b);
    expect(subtractRanges(a, b)).toEqual(fromSet(sa.map((x, i) => x && !sb[i])));
  });

  test.prop([arbRanges, arbRanges])('intersectRanges equals set intersection', (a, b) => {
    const sa = toSet(a);
    const sb = toSet(b);
    expect(intersectRanges(a, b)).toEqual(fromSet(sa.map((x, i) => x && (sb[i] ?? false))));
  });

  test.prop([arbRanges, fc.nat({ max: 30 })])(
    'mergeRanges bridges exactly the gaps ≤ maxGap and covers every part',
    (rs, gap) => {
      const merged = mergeRanges(rs, gap);
      const norm = normalizeRanges(rs);
      // model: fill each gap between consecutive normalised ranges that is ≤ gap
      const set = toSet(norm);
      for (let i = 1; i < norm.length; i++) {
        const prev = norm[i - 1]!;
        const cur = norm[i]!;
        if (cur.start - prev.end <= gap) for (let k = prev.end; k < cur.start; k++) set[k] = true;
      }
      expect(merged).toEqual(fromSet(set));
      const groups = coalesceRanges(rs, gap);
      expect(groups.map((g) => g.range)).toEqual(merged);
      const parts = groups.flatMap((g) => g.parts);
      expect(parts.length).toBe(rs.filter((r) => r.end > r.start).length);
      for (const g of groups) {
        for (const p of g.parts) {
          expect(p.start).toBeGreaterThanOrEqual(g.range.start);
          expect(p.end).toBeLessThanOrEqual(g.range.end);
        }
      }
    },
  );

  test.prop([arbRange, fc.integer({ min: 1, max: 25 })])('splitRange tiles the range', (r, max) => {
    const pieces = splitRange(r, max);
    expect(normalizeRanges(pieces)).toEqual(r.end > r.start ? [r] : []);
    expect(totalLength(pieces)).toBe(rangeLength(r));
    expect(pieces.every((p) => rangeLength(p) <= max && rangeLength(p) > 0)).toBe(true);
  });
});

describe('sortedDisjoint', () => {
  it('sorts, and names the first overlapping pair; empty ranges overlap nothing', () => {
    expect(sortedDisjoint([byteRange(5, 9), byteRange(0, 5)])).toEqual({ sorted: [byteRange(0, 5), byteRange(5, 9)], overlap: undefined });
    expect(sortedDisjoint([byteRange(5, 9), byteRange(0, 6)]).overlap).toEqual([byteRange(0, 6), byteRange(5, 9)]);
    expect(sortedDisjoint([byteRange(0, 10), byteRange(2, 3), byteRange(4, 4)]).overlap).toEqual([byteRange(0, 10), byteRange(2, 3)]);
    expect(sortedDisjoint([byteRange(3, 3), byteRange(3, 3), byteRange(0, 9)]).overlap).toBeUndefined();
  });

  test.prop([arbRanges])('finds an overlap exactly when two non-empty ranges share a byte', (rs) => {
    const shares = rs.some((a, i) => rs.some((b, j) => i !== j && a.start < b.end && b.start < a.end && a.end > a.start && b.end > b.start));
    const { sorted, overlap } = sortedDisjoint(rs);
    expect(overlap !== undefined).toBe(shares);
    expect(sorted).toHaveLength(rs.length);
    for (let i = 1; i < sorted.length; i++) expect((sorted[i] as ByteRange).start).toBeGreaterThanOrEqual((sorted[i - 1] as ByteRange).start);
  });
});
