import { createHash } from 'node:crypto';
import { toHex } from '@gosync/core';
import { pseudoRandomBytes } from '@gosync/testkit';
import { describe, expect, it } from 'vitest';
import { buildIndex } from './build.js';
import { decodeGosync, encodeGosync } from './gosync-format.js';
import { codeOf, pieces } from './test-helpers.js';

const fox = new TextEncoder().encode('The quick brown fox jumped over the lazy dog');

describe('.gosync codec', () => {
  it('writes go-sync v0.2.1 records (REFERENCE vectors)', async () => {
    const index = await buildIndex(pieces(fox, [7]), { profile: 'gosync', blockSize: 4 });
    const bytes = encodeGosync(index);
    expect(toHex(bytes.subarray(0, 24))).toBe(`${toHex(new TextEncoder().encode('G0S9NC'))}0000020001002c0000000000000004000000`);
    expect(bytes.length).toBe(24 + 11 * 20);
    // Block 0 "The ": weak digest 41 01 72 03, then MD5("The ").
    expect(toHex(bytes.subarray(24, 28))).toBe('41017203');
    expect(toHex(bytes.subarray(28, 44))).toBe(createHash('md5').update('The ').digest('hex'));
    // Block 1 "quic" (rolled window vector "quic" = b2015804).
    expect(toHex(bytes.subarray(44, 48))).toBe('b2015804');
    expect(decodeGosync(bytes).toInit()).toEqual({ ...index.toInit(), fileHashes: [], metadata: {} });
  });

  it('round-trips random files', async () => {
    for (const [n, bs] of [[0, 16], [1, 16], [1000, 7], [4096, 4096]] as const) {
      const index = await buildIndex(pieces(pseudoRandomBytes(n, n + 1), [100]), { profile: 'gosync', blockSize: bs });
      const decoded = decodeGosync(encodeGosync(index));
      expect(decoded.count).toBe(Math.ceil(n / bs));
      expect(toHex(decoded.strongHashes)).toBe(toHex(index.strongHashes));
      expect(Array.from(decoded.weakSums)).toEqual(Array.from(index.weakSums));
    }
  });

  it('rejects bad files and incompatible indexes with codes', async () => {
    const index = await buildIndex(pieces(fox, [7]), { profile: 'gosync', blockSize: 4 });
    const good = encodeGosync(index);
    const mutate = (f: (v: DataView, b: Uint8Array) => void): Uint8Array => {
      const b = good.slice();
      f(new DataView(b.buffer), b);
      return b;
    };
    expect(codeOf(() => decodeGosync(mutate((_, b) => { b[0] = 0; })))).toBe('ERR_INDEX_BAD_MAGIC');
    expect(codeOf(() => decodeGosync(good.subarray(0, 20)))).toBe('ERR_INDEX_TRUNCATED');
    expect(codeOf(() => decodeGosync(good.subarray(0, good.length - 1)))).toBe('ERR_INDEX_TRUNCATED');
    expect(codeOf(() => decodeGosync(Uint8Array.from([...good, 0])))).toBe('ERR_INDEX_TRAILING_DATA');
    expect(codeOf(() => decodeGosync(mutate((v) => { v.setUint16(8, 3, true); })))).toBe('ERR_INDEX_UNSUPPORTED_VERSION');
    expect(codeOf(() => decodeGosync(mutate((v) => { v.setBigInt64(12, -1n, true); })))).toBe('ERR_INDEX_INVALID_HEADER');
    expect(codeOf(() => decodeGosync(mutate((v) => { v.setBigInt64(12, 2n ** 60n, true); })))).toBe('ERR_INDEX_LIMIT_EXCEEDED');
    expect(codeOf(() => decodeGosync(mutate((v) => { v.setBigInt64(12, 2n ** 40n, true); })))).toBe('ERR_INDEX_LIMIT_EXCEEDED');
    expect(codeOf(() => decodeGosync(mutate((v) => { v.setUint32(20, 0, true); })))).toBe('ERR_INDEX_INVALID_HEADER');
    expect(codeOf(() => decodeGosync(mutate((v) => { v.setUint32(20, 2 ** 31, true); })))).toBe('ERR_INDEX_LIMIT_EXCEEDED');
    const native = await buildIndex(pieces(fox, [7]), { blockSize: 4 });
    expect(codeOf(() => encodeGosync(native))).toBe('ERR_INDEX_INCOMPATIBLE');
  });
});
