import { fc, test } from '@fast-check/vitest';
import { weakSum } from '@gosync/rollsum';
import { describe, expect, it } from 'vitest';
import { WeakSumTable } from './weak-sum-table.js';

function model(sums: readonly number[], mask: number, sum: number): number[] {
  const out: number[] = [];
  sums.forEach((s, i) => {
    if (((s & mask) >>> 0) === ((sum & mask) >>> 0)) out.push(i);
  });
  return out;
}

describe('WeakSumTable', () => {
  it('returns every duplicate in block order, and -1 when absent', () => {
    const abcd = weakSum(new TextEncoder().encode('abcd'));
    const sums = Uint32Array.of(abcd, 7, abcd, 9, abcd);
    const table = new WeakSumTable({ weakSums: sums, weakMask: 0xffffffff });
    expect(table.lookup(abcd)).toEqual([0, 2, 4]);
    expect(table.first(12345)).toBe(-1);
    expect(table.filter.has(abcd)).toBe(true);
    expect(table.size).toBe(5);
    expect(new WeakSumTable({ weakSums: new Uint32Array(0), weakMask: 0xffffffff }).first(0)).toBe(-1);
    // Unmasked stored sums (a hand-built index) are masked too.
    const loose = new WeakSumTable({ weakSums: Uint32Array.of(0x1234abcd, 0x12340000), weakMask: 0xffff0000 });
    expect(loose.lookup(0x1234ffff)).toEqual([0, 1]);
  });

  test.prop([
    fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 300 }),
    fc.constantFrom(0xffffffff, 0xffff00ff, 0xffff0000),
    fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 20 }),
  ])('agrees with a linear scan, masked, and the filter has no false negatives', (small, mask, probes) => {
    // Few distinct values spread over all bits: many duplicates and shared buckets.
    const sums = Uint32Array.from(small, (v) => ((Math.imul(v, 0x01000193) & mask) >>> 0));
    const table = new WeakSumTable({ weakSums: sums, weakMask: mask });
    for (const probe of [...probes, ...Array.from(sums.subarray(0, 10))]) {
      expect(table.lookup(probe)).toEqual(model(Array.from(sums), mask, probe));
      // Unmasked bits of the probe must not matter.
      expect(table.lookup((probe | ~mask) >>> 0)).toEqual(model(Array.from(sums), mask, probe));
      if (table.first(probe) >= 0) expect(table.filter.has(probe)).toBe(true);
    }
  });

  it('handles a million blocks', () => {
    const n = 1_000_000;
    const sums = new Uint32Array(n);
    let x = 1;
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      sums[i] = x >>> 0;
    }
    const table = new WeakSumTable({ weakSums: sums, weakMask: 0xffffffff });
    for (const i of [0, 1, 4242, n - 1]) expect(table.lookup(sums[i]!)).toContain(i);
  });
});
