import { toHex } from '@gosync/core';
import { encodeZsyncRsum } from '@gosync/rollsum';
import { fc, test } from '@fast-check/vitest';
import { pseudoRandomBytes } from '@gosync/testkit';
import { describe, expect, it } from 'vitest';
import { buildIndex } from './build.js';
import { decodeZsync, encodeZsync } from './zsync.js';
import { codeOf, pieces } from './test-helpers.js';

const enc = new TextEncoder();
const text = (s: string, records = new Uint8Array(0)): Uint8Array => {
  const head = enc.encode(s);
  const out = new Uint8Array(head.length + records.length);
  out.set(head);
  out.set(records, head.length);
  return out;
};

describe('.zsync codec', () => {
  it('round-trips an index built with the zsync profile', async () => {
    const data = pseudoRandomBytes(12_345, 4);
    const index = await buildIndex(pieces(data, [1000]), {
      profile: 'zsync', blockSize: 1024,
      metadata: { filename: 'a.bin', mtime: 1_700_000_000, urls: ['a.bin', 'http://h/a.bin'] },
    });
    const bytes = encodeZsync(index);
    const head = new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(10, bytes.indexOf(enc.encode('SHA-1')[0]!)) + 1));
    expect(head).toContain('zsync: 0.6.2\nFilename: a.bin\nMTime: Tue, 14 Nov 2023 22:13:20 +0000\nBlocksize: 1024\nLength: 12345\n');
    expect(head).toContain(`Hash-Lengths: ${index.seqMatches},${index.weakBytes},${index.strongBytes}\nURL: a.bin\nURL: http://h/a.bin\nSHA-1: ${toHex(index.fileHash('sha1')!)}\n`);
    expect(decodeZsync(bytes).toInit()).toEqual(index.toInit());
  });

  test.prop([fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(2, 3, 4)])('stores rsums as zsync does', (value, weakBytes) => {
    const mask = weakBytes === 4 ? 0xffffffff : weakBytes === 3 ? 0xffff00ff : 0xffff0000;
    const records = new Uint8Array(weakBytes + 3);
    encodeZsyncRsum(value, weakBytes, records, 0);
    const index = decodeZsync(text(`zsync: 0.6.2\nBlocksize: 4\nLength: 3\nHash-Lengths: 1,${weakBytes},3\n\n`, records));
    expect(index.weakSums[0]).toBe((value & mask) >>> 0);
    const again = encodeZsync(index);
    expect(Array.from(again.subarray(again.length - records.length))).toEqual(Array.from(records));
  });

  it('reads spec-0.8 fields and honours Safe', () => {
    const sha256 = 'ab'.repeat(32);
    const index = decodeZsync(text(
      `zsync: 0.8.0\nMin-Version: 0.8.0\nBlocksize: 4\nLength: 4\nHash-Lengths: 1,4,16\nStrong-Hash-Algorithm: MD5\nFile-Hash: SHA-256:${sha256}\nX-Custom: 1\nSafe: X-Custom\nURL: ../a\n\n`,
      new Uint8Array(20),
    ));
    expect(index.strongHash).toBe('md5');
    expect(toHex(index.fileHash('sha256')!)).toBe(sha256);
    expect(index.metadata.urls).toEqual(['../a']);
    expect(index.padLastBlock).toBe(true);
    // Hash-Lengths absent: zsync's defaults 1,4,16.
    const defaults = decodeZsync(text('zsync: 0.6.2\nBlocksize: 4\nLength: 4\n\n', new Uint8Array(20)));
    expect([defaults.seqMatches, defaults.weakBytes, defaults.strongBytes]).toEqual([1, 4, 16]);
  });

  it('rejects bad files with codes', () => {
    const ok = 'zsync: 0.6.2\nBlocksize: 4\nLength: 10\nHash-Lengths: 2,2,3\n\n';
    const rec = new Uint8Array(15);
    expect(codeOf(() => decodeZsync(text(ok, rec)))).toBe('none');
    expect(codeOf(() => decodeZsync(text('zsinc: 0.6.2\n\n')))).toBe('ERR_INDEX_BAD_MAGIC');
    expect(codeOf(() => decodeZsync(text(ok, rec.subarray(1))))).toBe('ERR_INDEX_TRUNCATED');
    expect(codeOf(() => decodeZsync(text(ok, new Uint8Array(16))))).toBe('ERR_INDEX_TRAILING_DATA');
    expect(codeOf(() => decodeZsync(text('zsync: 0.6.2\nBlocksize: 4\nLength: 10')))).toBe('ERR_INDEX_TRUNCATED');
    expect(codeOf(() => decodeZsync(text('zsync: 0.6.2\nLength: 10\n\n')))).toBe('ERR_INDEX_INVALID_HEADER');
    expect(codeOf(() => decodeZsync(text('zsync: 0.6.2\nBlocksize: x\nLength: 10\n\n')))).toBe('ERR_INDEX_INVALID_HEADER');
    expect(codeOf(() => decodeZsync(text('zsync: 0.6.2\nBlocksize: 0\nLength: 10\n\n')))).toBe('ERR_INDEX_INVALID_HEADER');
    expect(codeOf(() => decodeZsync(text('zsync: 0.6.2\nBlocksize: 4\nLength: 99999999999999999\n\n')))).toBe('ERR_INDEX_LIMIT_EXCEEDED');
    expect(codeOf(() => decodeZsync(text('zsync: 0.6.2\nBlocksize: 1\nLength: 9000000000000000\n\n')))).toBe('ERR_INDEX_LIMIT_EXCEEDED');
    expect(codeOf(() => decodeZsync(text(ok.replace('2,2,3', '3,2,3'), rec)))).toBe('ERR_INDEX_INVALID_HEADER');
    expect(codeOf(() => decodeZsync(text(ok.replace('2,2,3', '2,2,17'), rec)))).toBe('ERR_INDEX_INVALID_HEADER');
    expect(codeOf(() => decodeZsync(text(ok.replace('2,2,3', '2,1,3'), rec)))).toBe('ERR_INDEX_UNKNOWN_FEATURE');
    expect(codeOf(() => decodeZsync(text(`${ok.slice(0, -1)}X-New: 1\n\n`, rec)))).toBe('ERR_INDEX_UNKNOWN_FEATURE');
    expect(codeOf(() => decodeZsync(text(`${ok.slice(0, -1)}Z-Map2: 1\n\n`, rec)))).toBe('ERR_INDEX_UNKNOWN_FEATURE');
    expect(codeOf(() => decodeZsync(text(`${ok.slice(0, -1)}Strong-Hash-Algorithm: SHA-512\n\n`, rec)))).toBe('ERR_INDEX_UNKNOWN_FEATURE');
    expect(codeOf(() => decodeZsync(text(`${ok.slice(0, -1)}Min-Version: 0.9.1\n\n`, rec)))).toBe('ERR_INDEX_UNSUPPORTED_VERSION');
    expect(codeOf(() => decodeZsync(text(`${ok.slice(0, -1)}SHA-1: 12\n\n`, rec)))).toBe('ERR_INDEX_INVALID_HEADER');
    expect(codeOf(() => decodeZsync(text(`${ok.slice(0, -1)}Length: 10\n\n`, rec)))).toBe('ERR_INDEX_INVALID_HEADER');
    expect(codeOf(() => decodeZsync(text(`${ok.slice(0, -1)}garbage\n\n`, rec)))).toBe('ERR_INDEX_INVALID_HEADER');
    expect(codeOf(() => decodeZsync(text(ok, rec), { maxBlocks: 2 }))).toBe('ERR_INDEX_LIMIT_EXCEEDED');
    const bad = text(ok, rec);
    bad[14] = 0xff;
    expect(codeOf(() => decodeZsync(bad))).toBe('ERR_INDEX_INVALID_HEADER');
    expect(codeOf(() => decodeZsync(text(`zsync: 0.6.2\n${'URL: x\n'.repeat(40_000)}\n`)))).toBe('ERR_INDEX_LIMIT_EXCEEDED');
  });

  it('refuses to write what zsync 0.6.2 cannot read', async () => {
    const data = pseudoRandomBytes(100, 1);
    expect(codeOf(() => encodeZsync(undefined as never))).not.toBe('none');
    const native = await buildIndex(pieces(data, [100]), { blockSize: 64 });
    expect(codeOf(() => encodeZsync(native))).toBe('ERR_INDEX_INCOMPATIBLE');
    const unpadded = await buildIndex(pieces(data, [100]), { blockSize: 64, strongHash: 'md4' });
    expect(codeOf(() => encodeZsync(unpadded))).toBe('ERR_INDEX_INCOMPATIBLE');
    const z = await buildIndex(pieces(data, [100]), { blockSize: 64, profile: 'zsync', metadata: { filename: 'a\nb' } });
    expect(codeOf(() => encodeZsync(z))).toBe('ERR_INDEX_INCOMPATIBLE');
  });
});
