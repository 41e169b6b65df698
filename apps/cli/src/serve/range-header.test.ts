import { fc, test as fcTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { parseRangeHeader, type RangeDecision } from './range-header.js';

const ranges = (...pairs: [number, number][]): RangeDecision => ({ kind: 'ranges', ranges: pairs.map(([start, end]) => ({ start, end })) });

describe('parseRangeHeader vectors', () => {
  const size = 10;
  const vectors: [string | undefined, number, RangeDecision][] = [
    [undefined, size, { kind: 'ignore', reason: 'absent' }],
    ['bytes=0-0', size, ranges([0, 1])],
    ['bytes=0-9', size, ranges([0, 10])],
    ['bytes=3-100', size, ranges([3, 10])],
    ['bytes=5-', size, ranges([5, 10])],
    ['bytes=-3', size, ranges([7, 10])],
    ['bytes=-20', size, ranges([0, 10])],
    ['bytes=007-008', size, ranges([7, 9])],
    ['BYTES=0-1', size, ranges([0, 2])],
    ['bytes=8-9,0-1', size, ranges([8, 10], [0, 2])],
    ['bytes=0-1, 4-5 ,, 8-', size, ranges([0, 2], [4, 6], [8, 10])],
    ['bytes=0-1,\t-2', size, ranges([0, 2], [8, 10])],
    ['bytes=0-1,10-20', size, ranges([0, 2])],
    ['bytes=0-4,3-6', size, ranges([0, 5], [3, 7])],
    // unsatisfiable → 416
    ['bytes=10-', size, { kind: 'unsatisfiable' }],
    ['bytes=10-20,30-40', size, { kind: 'unsatisfiable' }],
    ['bytes=-0', size, { kind: 'unsatisfiable' }],
    ['bytes=0-', 0, { kind: 'unsatisfiable' }],
    ['bytes=-5', 0, { kind: 'ignore', reason: 'empty-file' }],
    // ignored → 200
    ['items=0-1', size, { kind: 'ignore', reason: 'unit' }],
    ['bytes=5-3', size, { kind: 'ignore', reason: 'syntax' }],
    ['bytes=0-1,5-3', size, { kind: 'ignore', reason: 'syntax' }],
    ['bytes=', size, { kind: 'ignore', reason: 'syntax' }],
    ['bytes=,', size, { kind: 'ignore', reason: 'syntax' }],
    ['bytes=-', size, { kind: 'ignore', reason: 'syntax' }],
    ['bytes=a-b', size, { kind: 'ignore', reason: 'syntax' }],
    ['bytes 0-1', size, { kind: 'ignore', reason: 'syntax' }],
    ['bytes=0-1;x', size, { kind: 'ignore', reason: 'syntax' }],
    ['bytes=0 - 1', size, { kind: 'ignore', reason: 'syntax' }],
    ['bytes=+1-2', size, { kind: 'ignore', reason: 'syntax' }],
    ['bytes=1.5-2', size, { kind: 'ignore', reason: 'syntax' }],
    ['bytes=0x1-2', size, { kind: 'ignore', reason: 'syntax' }],
    ['bytes =0-1', size, { kind: 'ignore', reason: 'unit' }],
    ['bytes=0-9,0-9', size, { kind: 'ignore', reason: 'overlap' }],
    ['bytes=-6,0-4', size, { kind: 'ignore', reason: 'overlap' }],
    // numbers beyond 2^53
    ['bytes=0-99999999999999999999999', size, ranges([0, 10])],
    ['bytes=99999999999999999999-', size, { kind: 'unsatisfiable' }],
    ['bytes=-99999999999999999999', size, ranges([0, 10])],
    ['bytes=9007199254740993-9007199254740992', size, { kind: 'ignore', reason: 'syntax' }],
    // files over 4 GiB
    ['bytes=5000000000-5000000099', 6_000_000_000, ranges([5_000_000_000, 5_000_000_100])],
    ['bytes=-100', 6_000_000_000, ranges([5_999_999_900, 6_000_000_000])],
    ['bytes=4294967295-4294967296', 2 ** 33, ranges([4_294_967_295, 4_294_967_297])],
  ];
  it.each(vectors)('%j of %i bytes', (header, n, expected) => {
    expect(parseRangeHeader(header, n)).toEqual(expected);
  });

  it('answers more than maxRanges specs with the whole body', () => {
    const specs = (n: number): string => `bytes=${Array.from({ length: n }, (_, i) => `${i}-${i}`).join(',')}`;
    expect(parseRangeHeader(specs(64), 100)).toMatchObject({ kind: 'ranges' });
    expect(parseRangeHeader(specs(65), 100)).toEqual({ kind: 'ignore', reason: 'too-many' });
    expect(parseRangeHeader(specs(3), 100, { maxRanges: 2 })).toEqual({ kind: 'ignore', reason: 'too-many' });
  });
});

// ---- Differential test against a naive model that decides byte by byte, in BigInt ----

type Spec = { kind: 'int'; first: bigint; last: bigint | undefined } | { kind: 'suffix'; length: bigint };

/** The RFC's rules spelled out per byte position, for small sizes. */
function model(specs: readonly Spec[], size: number): RangeDecision {
  if (specs.some((s) => s.kind === 'int' && s.last !== undefined && s.last < s.first)) return { kind: 'ignore', reason: 'syntax' };
  if (specs.length > 64) return { kind: 'ignore', reason: 'too-many' };
  const out: { start: number; end: number }[] = [];
  let satisfiable = false;
  for (const s of specs) {
    const picked: number[] = [];
    for (let i = 0; i < size; i++) {
      const at = BigInt(i);
      const hit = s.kind === 'int' ? at >= s.first && (s.last === undefined || at <= s.last) : at >= BigInt(size) - s.length;
      if (hit) picked.push(i);
    }
    if (s.kind === 'suffix' ? s.length > 0n : s.first < BigInt(size)) satisfiable = true;
    if (picked.length > 0) out.push({ start: picked[0]!, end: picked[picked.length - 1]! + 1 });
  }
  if (!satisfiable) return { kind: 'unsatisfiable' };
  if (out.length === 0) return { kind: 'ignore', reason: 'empty-file' };
  if (out.reduce((n, r) => n + r.end - r.start, 0) > size) return { kind: 'ignore', reason: 'overlap' };
  return { kind: 'ranges', ranges: out };
}

const position = fc.oneof(fc.bigInt({ min: 0n, max: 40n }), fc.bigInt({ min: 0n, max: 10n ** 22n }));
const spec: fc.Arbitrary<Spec> = fc.oneof(
  fc.record({ kind: fc.constant('int' as const), first: position, last: fc.option(position, { nil: undefined }) }),
  fc.record({ kind: fc.constant('suffix' as const), length: position }),
);
const ows = fc.constantFrom('', ' ', '\t', '  ');

function render(s: Spec, zeros: number): string {
  const pad = '0'.repeat(zeros);
  return s.kind === 'suffix' ? `-${pad}${s.length}` : `${pad}${s.first}-${s.last === undefined ? '' : `${pad}${s.last}`}`;
}

describe('parseRangeHeader properties', () => {
  fcTest.prop([
    fc.array(fc.tuple(spec, ows, ows, fc.nat({ max: 2 }), fc.boolean()), { minLength: 1, maxLength: 70 }),
    fc.nat({ max: 40 }),
    fc.constantFrom('bytes', 'Bytes', 'BYTES'),
  ])('agrees with a byte-by-byte model', (items, size, unit) => {
    // Each spec with optional whitespace around it and sometimes an empty element before it.
    const header = `${unit}=${items.map(([s, before, after, zeros, empty]) => `${empty ? ',' : ''}${before}${render(s, zeros)}${after}`).join(',')}`;
    expect(parseRangeHeader(header, size)).toEqual(model(items.map(([s]) => s), size));
  });

  fcTest.prop([fc.string({ maxLength: 60 }), fc.nat({ max: 1000 })])('never throws and returns ranges inside the file', (tail, size) => {
    for (const header of [tail, `bytes=${tail}`]) {
      const d = parseRangeHeader(header, size);
      if (d.kind !== 'ranges') continue;
      expect(d.ranges.length).toBeGreaterThan(0);
      for (const r of d.ranges) {
        expect(Number.isSafeInteger(r.start) && Number.isSafeInteger(r.end)).toBe(true);
        expect(0 <= r.start && r.start < r.end && r.end <= size).toBe(true);
      }
    }
  });
});
