import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { bytesEqual, concatBytes, fromHex, toHex } from './bytes.js';
import { isGosyncError } from './errors.js';

describe('hex', () => {
  it('encodes known vectors', () => {
    expect(toHex(new Uint8Array([]))).toBe('');
    expect(toHex(new Uint8Array([0x08, 0xa0, 0xff, 0x00]))).toBe('08a0ff00');
    expect(toHex(fromHex('08A008a01d498c404b0c30852b39d3b8'))).toBe('08a008a01d498c404b0c30852b39d3b8');
  });

  it('rejects odd lengths and non-hex characters with a code', () => {
    for (const bad of ['0', 'abc', 'zz', '0g', ' 0', '0x']) {
      let caught: unknown;
      try {
        fromHex(bad);
      } catch (e) {
        caught = e;
      }
      expect(isGosyncError(caught, 'ERR_CORE_INVALID_ARGUMENT'), bad).toBe(true);
    }
  });

  test.prop([fc.uint8Array({ maxLength: 200 })])('round-trips and matches Buffer', (bytes) => {
    const hex = toHex(bytes);
    expect(hex).toBe(Buffer.from(bytes).toString('hex'));
    expect(bytesEqual(fromHex(hex), bytes)).toBe(true);
    expect(bytesEqual(fromHex(hex.toUpperCase()), bytes)).toBe(true);
  });
});

describe('bytesEqual / concatBytes', () => {
  it('compares length and content', () => {
    expect(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
    expect(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 0]))).toBe(false);
  });

  test.prop([fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 8 })])(
    'concat equals Buffer.concat',
    (parts) => {
      const joined = concatBytes(parts);
      expect(bytesEqual(joined, Buffer.concat(parts))).toBe(true);
    },
  );
});
