import { fc, test } from '@fast-check/vitest';
import { isGosyncError, toHex } from '@gosync/core';
import { describe, expect, it } from 'vitest';
import { weakSum } from './rollsum32.js';
import { decodeZsyncRsum, encodeZsyncRsum, zsyncRsumMask } from './zsync-rsum.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('zsync rsum layout', () => {
  it('stores [a hi, a lo, b hi, b lo] and keeps the last rsum_bytes', () => {
    const v = weakSum(text('abcd')); // a = 0x018a, b = 0x03d4
    expect(toHex(encodeZsyncRsum(v, 4, new Uint8Array(4)))).toBe('018a03d4');
    expect(toHex(encodeZsyncRsum(v, 3, new Uint8Array(3)))).toBe('8a03d4');
    expect(toHex(encodeZsyncRsum(v, 2, new Uint8Array(2)))).toBe('03d4');
    const out = new Uint8Array(5);
    encodeZsyncRsum(v, 2, out, 3);
    expect(toHex(out)).toBe('00000003d4');
  });

  it('decodes with the cut bytes as zero and masks accordingly', () => {
    expect(decodeZsyncRsum(new Uint8Array([0x01, 0x8a, 0x03, 0xd4]), 0, 4)).toBe(0x03d4018a);
    expect(decodeZsyncRsum(new Uint8Array([0x8a, 0x03, 0xd4]), 0, 3)).toBe(0x03d4008a);
    expect(decodeZsyncRsum(new Uint8Array([9, 0x03, 0xd4]), 1, 2)).toBe(0x03d40000);
    expect(zsyncRsumMask(4)).toBe(0xffffffff);
    expect(zsyncRsumMask(3)).toBe(0xffff00ff);
    expect(zsyncRsumMask(2)).toBe(0xffff0000);
  });

  it('rejects other lengths and short input', () => {
    const bad: (() => unknown)[] = [
      () => zsyncRsumMask(1),
      () => zsyncRsumMask(5),
      () => encodeZsyncRsum(0, 1, new Uint8Array(4)),
      () => decodeZsyncRsum(new Uint8Array(2), 1, 2),
      () => decodeZsyncRsum(new Uint8Array(4), -1, 2),
    ];
    for (const f of bad) {
      let caught: unknown;
      try {
        f();
      } catch (e) {
        caught = e;
      }
      expect(isGosyncError(caught, 'ERR_ROLLSUM_INVALID_OPTION')).toBe(true);
    }
  });

  test.prop([fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(2, 3, 4)])(
    'decode(encode(v)) equals v under the mask',
    (v, n) => {
      const bytes = encodeZsyncRsum(v, n, new Uint8Array(n));
      const mask = zsyncRsumMask(n);
      expect(decodeZsyncRsum(bytes, 0, n)).toBe((v & mask) >>> 0);
    },
  );
});
