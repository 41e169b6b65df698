import { fc, test } from '@fast-check/vitest';
import { createMD4, createXXHash128 } from 'hash-wasm';
import { describe, expect, it } from 'vitest';
import type { BlockHashKernel } from './block-hash-kernel.js';
import { Md4Kernel } from './md4-kernel.js';
import { XXH128_KERNEL_MIN, Xxh128Kernel } from './xxh128-kernel.js';

/** Deterministic bytes (xorshift). */
function random(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const xxh128 = await createXXHash128();
const md4 = await createMD4();

const kernels = [
  { name: 'Xxh128Kernel', make: (capacity?: number): BlockHashKernel => new Xxh128Kernel(capacity), min: XXH128_KERNEL_MIN, reference: (b: Uint8Array) => xxh128.init().update(b).digest('binary') },
  { name: 'Md4Kernel', make: (capacity?: number): BlockHashKernel => new Md4Kernel(capacity), min: 0, reference: (b: Uint8Array) => md4.init().update(b).digest('binary') },
];

describe.each(kernels)('$name', ({ make, min, reference }) => {
  const kernel = make();

  it('equals hash-wasm at every length from its shortest to 4200 bytes', () => {
    const data = random(4200, 7);
    const out = new Uint8Array(16);
    for (let n = min; n <= data.length; n++) {
      kernel.hash(data.subarray(0, n), out, 0);
      expect(out, `length ${n}`).toEqual(reference(data.subarray(0, n)));
    }
  });

  it('equals hash-wasm on zeros, on 0xff and on a large input', () => {
    const out = new Uint8Array(16);
    for (const data of [new Uint8Array(4096), new Uint8Array(1025).fill(0xff), random(1 << 20, 99)]) {
      kernel.hash(data, out, 0);
      expect(out).toEqual(reference(data));
    }
  });

  test.prop([fc.integer({ min: XXH128_KERNEL_MIN, max: 70_000 }), fc.integer()])('equals hash-wasm on random inputs', (length, seed) => {
    const data = random(length, seed);
    const out = new Uint8Array(18);
    kernel.hash(data, out, 2);
    expect(out.subarray(2)).toEqual(reference(data));
  });

  test.prop([fc.constantFrom(64, 100, 192, 256, 300, 1024, 2048, 4096).filter((w) => w >= min), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 1, max: 16 }), fc.integer()])(
    'counts the blocks of a run that match, as hashing each block does',
    (w, blocks, compare, seed) => {
      const data = random(blocks * w, seed);
      const expected = new Uint8Array(blocks * compare);
      for (let k = 0; k < blocks; k++) expected.set(reference(data.subarray(k * w, (k + 1) * w)).subarray(0, compare), k * compare);
      expect(kernel.matchRun(data, w, expected, compare)).toBe(blocks);
      if (blocks === 0) return;
      const changed = data.slice();
      const at = (Math.abs(seed) % blocks) * w + (Math.abs(seed) % w);
      changed[at] = (changed[at] as number) ^ 1;
      // The run ends at the first block whose digest's first bytes differ from the expected ones
      // (the changed one, unless a short prefix collides).
      let run = 0;
      while (run < blocks && Buffer.from(reference(changed.subarray(run * w, (run + 1) * w)).subarray(0, compare)).equals(expected.subarray(run * compare, (run + 1) * compare))) run++;
      expect(kernel.matchRun(changed, w, expected, compare)).toBe(run);
    },
  );

  it('counts a run up to the first bad block, bounded by the bytes, the digests and the capacity', () => {
    const w = 2048;
    const data = random(20 * w, 3);
    const compare = 10;
    const expected = new Uint8Array(20 * compare);
    for (let k = 0; k < 20; k++) expected.set(reference(data.subarray(k * w, (k + 1) * w)).subarray(0, compare), k * compare);
    expect(kernel.matchRun(data, w, expected, compare)).toBe(20);
    const changed = data.slice();
    changed[13 * w + 100] = (changed[13 * w + 100] as number) ^ 1;
    expect(kernel.matchRun(changed, w, expected, compare)).toBe(13);
    expect(kernel.matchRun(data.subarray(0, 5 * w + 7), w, expected, compare)).toBe(5);
    expect(kernel.matchRun(data, w, expected.subarray(0, 3 * compare), compare)).toBe(3);
    expect(make(4).matchRun(data, w, expected, compare)).toBe(4);
  });

  it('checks runs longer than its first page holds digests for (capacity 5000)', () => {
    const w = 256;
    const data = random(5000 * w, 5);
    const expected = new Uint8Array(5000 * 4);
    for (let k = 0; k < 5000; k++) expected.set(reference(data.subarray(k * w, (k + 1) * w)).subarray(0, 4), k * 4);
    expect(make(5000).matchRun(data, w, expected, 4)).toBe(5000);
  });

  it('refuses a capacity that is not a whole number from 1 to 2^20 with ERR_INDEX_INVALID_OPTION', () => {
    for (const capacity of [Number.NaN, -8, 0, 2.5, 2 ** 20 + 1]) {
      expect(() => make(capacity), String(capacity)).toThrow(expect.objectContaining({ code: 'ERR_INDEX_INVALID_OPTION' }));
    }
  });

  it('refuses a digest length to compare outside 1–16 with ERR_INDEX_INVALID_OPTION', () => {
    expect(() => kernel.matchRun(new Uint8Array(4096), 2048, new Uint8Array(34), 17)).toThrow(expect.objectContaining({ code: 'ERR_INDEX_INVALID_OPTION' }));
    expect(() => kernel.matchRun(new Uint8Array(4096), 2048, new Uint8Array(34), 0)).toThrow(expect.objectContaining({ code: 'ERR_INDEX_INVALID_OPTION' }));
  });
});
