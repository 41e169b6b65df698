import { fc, test } from '@fast-check/vitest';
import { WeakSumFilter, rollingSums, zsyncRsumMask } from '@gosync/rollsum';
import { describe, expect } from 'vitest';
import { PairKernel } from './pair-kernel.js';

/** The model: the windows whose pair key (as `pairKey` makes it) the filter has. */
function candidatesOf(sums: Uint32Array, n: number, w: number, filter: WeakSumFilter, mask: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const s2 = ((sums[i + w] as number) & mask) >>> 0;
    if (filter.has((((sums[i] as number) & mask) ^ ((s2 >>> 16) | (s2 << 16))) >>> 0)) out.push(i);
  }
  return out;
}

describe('PairKernel', () => {
  test.prop([
    fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 400 }),
    fc.integer({ min: 1, max: 16 }),
    fc.constantFrom(4, 3, 2),
    fc.array(fc.nat(), { maxLength: 30 }),
  ])('passes the windows whose pair key the filter has, all four bits', (values, w, rsumBytes, picks) => {
    const sums = Uint32Array.from(values);
    const n = Math.max(0, sums.length - w);
    // The pair filter keeps whole keys; the sums are masked first (truncated .zsync sums).
    const mask = zsyncRsumMask(rsumBytes);
    const filter = new WeakSumFilter(64, { bitsPerEntry: 4 });
    // Keys of real pairs (they pass), then a dense filter: many false passes too.
    for (const p of picks) {
      const i = p % Math.max(1, n);
      const s2 = ((sums[i + w] ?? 0) & mask) >>> 0;
      filter.add((((sums[i] ?? 0) & mask) ^ ((s2 >>> 16) | (s2 << 16))) >>> 0);
    }
    const kernel = new PairKernel(filter, mask, 512, w);
    kernel.sums.set(sums.subarray(0, Math.min(sums.length, kernel.sums.length)));
    const count = kernel.candidates(n);
    expect(Array.from(kernel.out.subarray(0, count))).toEqual(candidatesOf(sums, n, w, filter, mask));
    // No windows stays none (the kernel compares unsigned).
    expect(kernel.candidates(-w)).toBe(0);
  });

  test.prop([fc.uint8Array({ minLength: 0, maxLength: 700 }), fc.integer({ min: 1, max: 64 })])('rolls the weak sums of a slice as @gosync/rollsum does', (data, w) => {
    const kernel = new PairKernel(new WeakSumFilter(8), 0xffffffff, 600, w);
    const n = Math.min(data.length, kernel.input.length);
    kernel.input.set(data.subarray(0, n));
    kernel.sums.fill(0xdeadbeef);
    kernel.rollingSums(n);
    const count = Math.max(0, n - w + 1);
    expect(Array.from(kernel.sums.subarray(0, count))).toEqual(Array.from(rollingSums(data.subarray(0, n), w)));
    // Nothing past the last window.
    if (count < kernel.sums.length) expect(kernel.sums[count]).toBe(0xdeadbeef);
  });
});
