import { describe, expect, it } from 'vitest';
import { Xxh128Kernel } from './xxh128-kernel.js';

// Equality with xxHash and run checks: block-hash-kernel.test.ts.
describe('Xxh128Kernel', () => {
  it('refuses inputs of 240 bytes or fewer (XXH3 hashes them another way) with ERR_INDEX_INVALID_OPTION', () => {
    const kernel = new Xxh128Kernel();
    expect(kernel.minLength).toBe(241);
    const out = new Uint8Array(16);
    expect(() => {
      kernel.hash(new Uint8Array(240), out, 0);
    }).toThrow(expect.objectContaining({ code: 'ERR_INDEX_INVALID_OPTION' }));
    expect(() => kernel.matchRun(new Uint8Array(4096), 200, new Uint8Array(32), 16)).toThrow(expect.objectContaining({ code: 'ERR_INDEX_INVALID_OPTION' }));
  });
});
