import { fc, test } from '@fast-check/vitest';
import { createXXHash128 } from 'hash-wasm';
import { describe, expect, it } from 'vitest';
import { XXH128_KERNEL_MIN, Xxh128Kernel } from './xxh128-kernel.js';

const reference = await createXXHash128();
const xxh128 = (bytes: Uint8Array): Uint8Array => reference.init().update(bytes).digest('binary');

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

describe('Xxh128Kernel', () => {
  const kernel = new Xxh128Kernel();

  it('equals xxHash (hash-wasm) at every length from 241 to 4200 bytes', () => {
    const data = random(4200, 7);
    const out = new Uint8Array(16);
    for (let n = XXH128_KERNEL_MIN; n <= data.length; n++) {
      kernel.hash(data.subarray(0, n), out, 0);
      expect(out, `length ${n}`).toEqual(xxh128(data.subarray(0, n)));
    }
  });

  it('equals xxHash on inputs of zeros, of 0xff and of a large block', () => {
    const out = new Uint8Array(16);
    for (const data of [new Uint8Array(4096), new Uint8Array(1025).fill(0xff), random(1 << 20, 99)]) {
      kernel.hash(data, out, 0);
      expect(out).toEqual(xxh128(data));
    }
  });

  test.prop([fc.integer({ min: XXH128_KERNEL_MIN, max: 70_000 }), fc.integer()])('equals xxHash on random inputs', (length, seed) => {
    const data = random(length, seed);
    const out = new Uint8Array(18);
    kernel.hash(data, out, 2);
    expect(out.subarray(2)).toEqual(xxh128(data));
  });

  it('refuses inputs outside its range with ERR_INDEX_INVALID_OPTION', () => {
    const out = new Uint8Array(16);
    expect(() => {
      kernel.hash(new Uint8Array(240), out, 0);
    }).toThrow(expect.objectContaining({ code: 'ERR_INDEX_INVALID_OPTION' }));
    expect(() => kernel.matchRun(new Uint8Array(4096), 200, new Uint8Array(32), 16)).toThrow(expect.objectContaining({ code: 'ERR_INDEX_INVALID_OPTION' }));
    expect(() => kernel.matchRun(new Uint8Array(4096), 2048, new Uint8Array(34), 17)).toThrow(expect.objectContaining({ code: 'ERR_INDEX_INVALID_OPTION' }));
  });

  it('counts the blocks of a run that match their expected digests', () => {
    const w = 2048;
    const data = random(20 * w, 3);
    const compare = 10;
    const expected = new Uint8Array(20 * compare);
    for (let k = 0; k < 20; k++) expected.set(xxh128(data.subarray(k * w, (k + 1) * w)).subarray(0, compare), k * compare);
    expect(kernel.matchRun(data, w, expected, compare)).toBe(20);
    // A changed byte in block 13 stops the run there.
    const changed = data.slice();
    changed[13 * w + 100] = (changed[13 * w + 100] as number) ^ 1;
    expect(kernel.matchRun(changed, w, expected, compare)).toBe(13);
    // Bounded by the bytes, the expected digests and the capacity.
    expect(kernel.matchRun(data.subarray(0, 5 * w + 7), w, expected, compare)).toBe(5);
    expect(kernel.matchRun(data, w, expected.subarray(0, 3 * compare), compare)).toBe(3);
    const small = new Xxh128Kernel(4);
    expect(small.matchRun(data, w, expected, compare)).toBe(4);
  });
});
