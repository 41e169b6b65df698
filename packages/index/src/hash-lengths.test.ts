import { describe, expect, it } from 'vitest';
import { defaultBlockSize, expectedFalseMatches, nativeHashLengths, zsyncHashLengths } from './hash-lengths.js';
import { codeOf } from './test-helpers.js';

describe('zsyncHashLengths', () => {
  it('matches zsyncmake 0.6.2 outputs', () => {
    // Values observed from Debian zsyncmake 0.6.2 (see zsync-interop.test.ts for the live check).
    expect(zsyncHashLengths(10_000, 2048)).toEqual({ seqMatches: 2, weakBytes: 2, strongBytes: 3 });
    expect(zsyncHashLengths(0, 2048)).toEqual({ seqMatches: 1, weakBytes: 2, strongBytes: 3 });
    expect(zsyncHashLengths(1000, 2048)).toEqual({ seqMatches: 1, weakBytes: 2, strongBytes: 4 });
    expect(zsyncHashLengths(565_000_000, 4096)).toEqual({ seqMatches: 2, weakBytes: 3, strongBytes: 5 });
  });

  it('rejects bad sizes', () => {
    expect(codeOf(() => zsyncHashLengths(-1, 2048))).toBe('ERR_INDEX_INVALID_OPTION');
    expect(codeOf(() => zsyncHashLengths(10, 0))).toBe('ERR_INDEX_INVALID_OPTION');
    expect(codeOf(() => zsyncHashLengths(1.5, 2048))).toBe('ERR_INDEX_INVALID_OPTION');
  });
});

describe('defaultBlockSize', () => {
  it('follows the √ rule with clamps, or zsync’s rule', () => {
    expect(defaultBlockSize(0)).toBe(2048);
    expect(defaultBlockSize(1_000_000)).toBe(2048);
    expect(defaultBlockSize(100_000_000)).toBe(4096);
    expect(defaultBlockSize(565_000_000)).toBe(4096);
    expect(defaultBlockSize(2 ** 32)).toBe(4096);
    expect(defaultBlockSize(2 ** 32 + 1)).toBe(8192);
    expect(defaultBlockSize(5_000_000_000)).toBe(8192);
    expect(defaultBlockSize(2 ** 50)).toBe(2 ** 20);
    expect(defaultBlockSize(100_000_000, 'sqrt')).toBe(16384);
    expect(defaultBlockSize(565_000_000, 'sqrt')).toBe(32768);
    expect(defaultBlockSize(2 ** 50, 'sqrt')).toBe(2 ** 20);
    expect(defaultBlockSize(99_999_999, 'zsync')).toBe(2048);
    expect(defaultBlockSize(100_000_000, 'zsync')).toBe(4096);
  });
});

describe('expectedFalseMatches', () => {
  it('shrinks with longer sums and two-block matching', () => {
    const n = 1e5;
    const m = 1e9;
    const one = expectedFalseMatches({ seqMatches: 1, weakBytes: 2, strongBytes: 3 }, n, m);
    const two = expectedFalseMatches({ seqMatches: 2, weakBytes: 2, strongBytes: 3 }, n, m);
    expect(one).toBeCloseTo(m * n * 2 ** -40, 0);
    expect(two).toBeLessThan(one);
  });
});

describe('nativeHashLengths', () => {
  it('keeps the whole weak sum and zsync’s bytes per block', () => {
    for (const [length, block] of [[23_730_688, 8192], [536_870_912, 4096], [557_579_264, 32768], [50_000, 2048]] as const) {
      const z = zsyncHashLengths(length, block);
      const n = nativeHashLengths(length, block, 16);
      expect(n.weakBytes).toBe(4);
      expect(n.seqMatches).toBe(z.seqMatches);
      expect(n.weakBytes + n.strongBytes).toBe(Math.max(7, z.weakBytes + z.strongBytes));
    }
    expect(nativeHashLengths(23_730_688, 8192, 16)).toEqual({ seqMatches: 2, weakBytes: 4, strongBytes: 3 });
  });
});
