import { describe, expect, it } from 'vitest';
import { BlockHashKernel } from './block-hash-kernel.js';
import { Md4Kernel, md4Spec } from './md4-kernel.js';

/** The kernel as a runtime without WebAssembly SIMD gets it: one block at a time. */
class OneLaneMd4 extends BlockHashKernel {
  constructor() {
    super(md4Spec(false), 256);
  }
}

// Equality with hash-wasm's MD4 and run checks: block-hash-kernel.test.ts.
describe('Md4Kernel', () => {
  it('gives the test suite of RFC 1320', () => {
    const kernel = new Md4Kernel();
    const out = new Uint8Array(16);
    const vectors: [string, string][] = [
      ['', '31d6cfe0d16ae931b73c59d7e0c089c0'],
      ['a', 'bde52cb31de33e46245e05fbdbd6fb24'],
      ['abc', 'a448017aaf21d8525fc10ae87aa6729d'],
      ['message digest', 'd9130a8164549fe818874806e1c7014b'],
      ['abcdefghijklmnopqrstuvwxyz', 'd79e1c308aa5bbcdeea8ed63df412da9'],
      ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', '043f8582f241db351ce627e153e7f0e4'],
      ['12345678901234567890123456789012345678901234567890123456789012345678901234567890', 'e33b4ddc9c38f2199c3e7b164fcc0536'],
    ];
    for (const [text, digest] of vectors) {
      kernel.hash(new TextEncoder().encode(text), out, 0);
      expect(Buffer.from(out).toString('hex'), JSON.stringify(text)).toBe(digest);
    }
  });

  it('refuses a block length of 0 for a run with ERR_INDEX_INVALID_OPTION', () => {
    expect(new Md4Kernel().minLength).toBe(0);
    expect(() => new Md4Kernel().matchRun(new Uint8Array(64), 0, new Uint8Array(16), 16)).toThrow(expect.objectContaining({ code: 'ERR_INDEX_INVALID_OPTION' }));
  });

  it('checks four blocks at a time where their length is a multiple of 64, each lane its own block', () => {
    // A run of 9: two steps of four side by side, then one alone. A byte changed in block k
    // stops the run at k, whichever lane or step it falls in; lengths that are not a multiple
    // of 64 go one block at a time, with the same answers.
    const kernel = new Md4Kernel();
    const reference = new Md4Kernel();
    for (const w of [64, 128, 2048, 100, 4000]) {
      const data = new Uint8Array(9 * w).map((_, i) => (i * 131 + (i >>> 7)) & 0xff);
      const expected = new Uint8Array(9 * 16);
      for (let k = 0; k < 9; k++) reference.hash(data.subarray(k * w, (k + 1) * w), expected, 16 * k);
      expect(kernel.matchRun(data, w, expected, 16), `${w}`).toBe(9);
      for (let k = 0; k < 9; k++) {
        const changed = data.slice();
        const at = k * w + ((k * 37) % w);
        changed[at] = (changed[at] as number) ^ 0x40;
        expect(kernel.matchRun(changed, w, expected, 16), `${w}, block ${k}`).toBe(k);
      }
    }
  });

  it('gives the same answers without SIMD (the module a runtime without it falls back to)', () => {
    const lanes = new Md4Kernel();
    const one = new OneLaneMd4();
    const out = [new Uint8Array(16), new Uint8Array(16)] as const;
    for (const w of [64, 2048, 100]) {
      const data = new Uint8Array(9 * w).map((_, i) => (i * 7 + (i >>> 9)) & 0xff);
      const expected = new Uint8Array(9 * 16);
      for (let k = 0; k < 9; k++) one.hash(data.subarray(k * w, (k + 1) * w), expected, 16 * k);
      for (let k = 0; k <= 9; k++) {
        const changed = data.slice();
        if (k < 9) changed[k * w + 3] = (changed[k * w + 3] as number) ^ 1;
        expect(one.matchRun(changed, w, expected, 16), `${w}, block ${k}`).toBe(k);
        expect(lanes.matchRun(changed, w, expected, 16), `${w}, block ${k}`).toBe(k);
      }
      lanes.hash(data, out[0], 0);
      one.hash(data, out[1], 0);
      expect(out[1]).toEqual(out[0]);
    }
  });
});
