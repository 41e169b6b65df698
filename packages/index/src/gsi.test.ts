import { createHash } from 'node:crypto';
import { fc, test } from '@fast-check/vitest';
import { bytesEqual } from '@gosync/core';
import { pseudoRandomBytes } from '@gosync/testkit';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { BlockIndex } from './block-index.js';
import { buildIndex } from './build.js';
import { encodeGosync } from './gosync-format.js';
import { decodeIndex, encodeIndex, GSI_MAGIC } from './gsi.js';
import { encodeZsync } from './zsync.js';
import { STRONG_HASH_NAMES } from './hashes.js';
import { codeOf, pieces } from './test-helpers.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });

/** Assembles a native index from a header object and table bytes, with a valid checksum. */
function craft(header: unknown, table: Uint8Array = new Uint8Array(0), version = 1): Uint8Array {
  const head = packr.pack(header);
  const out = new Uint8Array(12 + head.length + table.length + 8);
  out.set(GSI_MAGIC);
  const view = new DataView(out.buffer);
  view.setUint16(8, version, true);
  view.setUint16(10, head.length, true);
  out.set(head, 12);
  out.set(table, 12 + head.length);
  reseal(out);
  return out;
}

function reseal(bytes: Uint8Array): void {
  const end = bytes.length - 8;
  bytes.set(createHash('sha256').update(bytes.subarray(0, end)).digest().subarray(0, 8), end);
}

const baseHeader = {
  req: [], kind: 'blocks', len: 10, bs: 4, n: 3, sh: 'md5', sl: 4, wl: 2, seq: 2, fh: {}, meta: {},
};

function expectSame(a: BlockIndex, b: BlockIndex): void {
  expect(b.toInit()).toEqual(a.toInit());
}

describe('native .gsi format', { timeout: 30_000 }, () => {
  it('round-trips every strong hash and hash-length choice', async () => {
    const data = pseudoRandomBytes(20_000, 2);
    for (const strongHash of STRONG_HASH_NAMES) {
      for (const hashLengths of ['full', 'zsync'] as const) {
        const index = await buildIndex(pieces(data, [4096]), {
          blockSize: 1000, strongHash, hashLengths, fileHashes: ['sha256', 'sha1'],
          metadata: { filename: 'x.bin', mtime: 1_700_000_000, urls: ['x.bin', 'https://mirror/x.bin'] },
        });
        const bytes = encodeIndex(index);
        expectSame(index, decodeIndex(bytes));
        expect(bytes.length).toBeLessThan(12 + 300 + index.count * (index.weakBytes + index.strongBytes) + 8);
      }
    }
  });

  test.prop([fc.uint8Array({ maxLength: 2000 }), fc.integer({ min: 1, max: 300 }), fc.constantFrom(2, 3, 4), fc.boolean()], { numRuns: 50 })(
    'round-trips arbitrary data, block sizes and weak lengths',
    async (data, blockSize, weakBytes, padLastBlock) => {
      const index = await buildIndex(pieces(data, [97]), {
        blockSize, padLastBlock, hashLengths: { seqMatches: 1, weakBytes, strongBytes: 5 },
      });
      expectSame(index, decodeIndex(encodeIndex(index)));
    },
  );

  it('round-trips a chunk-based index', () => {
    const offsets = Float64Array.of(0, 100, 350, 351, 600);
    const index = new BlockIndex({
      kind: 'chunks', fileLength: 600, blockSize: 256, offsets, weakSums: Uint32Array.of(1, 2, 3, 4),
      strongHashes: pseudoRandomBytes(16, 3), strongHash: 'xxh128', strongBytes: 4, weakBytes: 4,
      seqMatches: 1, padLastBlock: false,
      chunking: { minSize: 1, avgSize: 128, maxSize: 256, normalization: 2 },
    });
    const decoded = decodeIndex(encodeIndex(index));
    expectSame(index, decoded);
    expect(decoded.blockRange(2)).toEqual({ start: 350, end: 351 });
  });

  it('is no larger per block than .zsync at the same lengths', async () => {
    const data = pseudoRandomBytes(1 << 20, 9);
    const index = await buildIndex(pieces(data, [1 << 16]), { blockSize: 2048, metadata: { filename: 'f.bin', mtime: 1, urls: ['f.bin'] } });
    const bytes = encodeIndex(index);
    const perBlock = index.weakBytes + index.strongBytes;
    expect(bytes.length - (bytes.length - index.count * perBlock)).toBe(index.count * perBlock);
    // Fixed overhead: 12-byte prefix + msgpack header + 8-byte checksum, well under zsync's ~190-byte header.
    expect(bytes.length - index.count * perBlock).toBeLessThan(178);
  });

  it('accepts a crafted minimal header and ignores unknown optional fields', () => {
    const index = decodeIndex(craft({ ...baseHeader, future: { x: 1 } }, new Uint8Array(3 * 6)));
    expect(index.count).toBe(3);
    expect(index.weakMask).toBe(0xffff0000);
  });

  it('rejects every kind of bad input with its code', () => {
    const good = craft(baseHeader, new Uint8Array(18));
    const flip = (at: number, fix = true): Uint8Array => {
      const b = good.slice();
      b[at]! ^= 0xff;
      if (fix) reseal(b);
      return b;
    };
    expect(codeOf(() => decodeIndex(flip(0)))).toBe('ERR_INDEX_BAD_MAGIC');
    expect(codeOf(() => decodeIndex(new TextEncoder().encode('zsync: 0.6.2\n')))).toBe('ERR_INDEX_BAD_MAGIC');
    expect(codeOf(() => decodeIndex(good.subarray(0, 10)))).toBe('ERR_INDEX_TRUNCATED');
    expect(codeOf(() => decodeIndex(craft(baseHeader, new Uint8Array(18), 3)))).toBe('ERR_INDEX_UNSUPPORTED_VERSION');
    expect(codeOf(() => decodeIndex(good.subarray(0, good.length - 1)))).toBe('ERR_INDEX_TRUNCATED');
    expect(codeOf(() => decodeIndex(craft(baseHeader, new Uint8Array(17))))).toBe('ERR_INDEX_TRUNCATED');
    expect(codeOf(() => decodeIndex(craft(baseHeader, new Uint8Array(19))))).toBe('ERR_INDEX_TRAILING_DATA');
    expect(codeOf(() => decodeIndex(flip(good.length - 9, false)))).toBe('ERR_INDEX_CORRUPT');
    expect(codeOf(() => decodeIndex(flip(good.length - 1, false)))).toBe('ERR_INDEX_CORRUPT');
    expect(codeOf(() => decodeIndex(craft({ ...baseHeader, req: ['zstd-blocks'] }, new Uint8Array(18))))).toBe('ERR_INDEX_UNKNOWN_FEATURE');
    expect(codeOf(() => decodeIndex(craft({ ...baseHeader, sh: 'sha3' }, new Uint8Array(18))))).toBe('ERR_INDEX_UNKNOWN_FEATURE');
    expect(codeOf(() => decodeIndex(craft({ ...baseHeader, n: 4 }, new Uint8Array(24))))).toBe('ERR_INDEX_INVALID_HEADER');
    expect(codeOf(() => decodeIndex(craft({ ...baseHeader, sl: 17 }, new Uint8Array(18))))).toBe('ERR_INDEX_INVALID_HEADER');
    expect(codeOf(() => decodeIndex(craft({ ...baseHeader, len: -1 }, new Uint8Array(18))))).toBe('ERR_INDEX_INVALID_HEADER');
    expect(codeOf(() => decodeIndex(craft({ ...baseHeader, kind: 'chunks' }, new Uint8Array(18))))).toBe('ERR_INDEX_INVALID_HEADER');
    expect(codeOf(() => decodeIndex(craft([1, 2, 3])))).toBe('ERR_INDEX_INVALID_HEADER');
    expect(codeOf(() => decodeIndex(craft({ ...baseHeader, meta: { urls: [1] } }, new Uint8Array(18))))).toBe('ERR_INDEX_INVALID_HEADER');
    expect(codeOf(() => decodeIndex(craft({ ...baseHeader, fh: { sha256: new Uint8Array(3) } }, new Uint8Array(18))))).toBe('ERR_INDEX_INVALID_HEADER');
    expect(codeOf(() => decodeIndex(good, { maxBlocks: 2 }))).toBe('ERR_INDEX_LIMIT_EXCEEDED');
    // Absurd counts fail on size before any allocation.
    const huge = { ...baseHeader, len: 2 ** 52, bs: 1, n: 2 ** 52 };
    expect(codeOf(() => decodeIndex(craft(huge), { maxBlocks: Number.MAX_SAFE_INTEGER }))).toBe('ERR_INDEX_TRUNCATED');
    expect(codeOf(() => decodeIndex(craft(huge)))).toBe('ERR_INDEX_LIMIT_EXCEEDED');
    // A header that is not msgpack at all.
    const garbage = good.slice();
    garbage[12] = 0xc1; // a never-used msgpack type byte
    reseal(garbage);
    expect(codeOf(() => decodeIndex(garbage))).toBe('ERR_INDEX_INVALID_HEADER');
    expect(codeOf(() => decodeIndex('x' as never))).toBe('ERR_INDEX_INVALID_OPTION');
  });

  it('round-trips attachments in meta.att, small ones in version 1 and large ones in version 2', async () => {
    const plain = await buildIndex(pieces(pseudoRandomBytes(10_000, 4), [999]), { blockSize: 1024, metadata: { urls: ['x.bin'] } });
    const plainBytes = encodeIndex(plain);
    const small = plain.withMetadata({ ...plain.metadata, attachments: { compress: Uint8Array.of(1, 2, 3), other: new Uint8Array(0) } });
    const smallBytes = encodeIndex(small);
    expect(new DataView(smallBytes.buffer).getUint16(8, true)).toBe(1);
    const decoded = decodeIndex(smallBytes);
    expectSame(small, decoded);
    expect(decoded.metadata.attachments).toEqual({ compress: Uint8Array.of(1, 2, 3), other: new Uint8Array(0) });
    expect(decoded.metadata.urls).toEqual(['x.bin']);
    // Without attachments nothing changes: no `att` key, same bytes as before.
    expect(encodeIndex(plain.withMetadata({ ...plain.metadata, attachments: {} }))).toEqual(plainBytes);
    expect(decodeIndex(plainBytes).metadata.attachments).toBeUndefined();
    // 300 KB (a layout of a ~6 GB target at 64 KiB groups) needs version 2's uint32 header length.
    const layout = pseudoRandomBytes(300_000, 5);
    const big = plain.withMetadata({ attachments: { compress: layout } });
    const bigBytes = encodeIndex(big);
    const view = new DataView(bigBytes.buffer);
    expect(view.getUint16(8, true)).toBe(2);
    expect(view.getUint32(10, true)).toBeGreaterThan(300_000);
    expect(bytesEqual(decodeIndex(bigBytes).metadata.attachments?.['compress'] ?? new Uint8Array(0), layout)).toBe(true);
    expectSame(big, decodeIndex(bigBytes));
  });

  it('bounds attachments: 16 names of 1–64 characters, a 4 MiB header; rejects bad ones with their codes', async () => {
    const index = await buildIndex(pieces(pseudoRandomBytes(3000, 6), [3000]), { blockSize: 1024 });
    const withAtt = (attachments: Record<string, Uint8Array>): BlockIndex => index.withMetadata({ attachments });
    const many = (n: number): Record<string, Uint8Array> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`a${i}`, Uint8Array.of(i)]));
    expect(Object.keys(decodeIndex(encodeIndex(withAtt(many(16)))).metadata.attachments ?? {})).toHaveLength(16);
    expect(codeOf(() => encodeIndex(withAtt(many(17))))).toBe('ERR_INDEX_LIMIT_EXCEEDED');
    expect(decodeIndex(encodeIndex(withAtt({ ['n'.repeat(64)]: Uint8Array.of(1) }))).metadata.attachments?.['n'.repeat(64)]).toEqual(Uint8Array.of(1));
    expect(codeOf(() => encodeIndex(withAtt({ ['n'.repeat(65)]: Uint8Array.of(1) })))).toBe('ERR_INDEX_LIMIT_EXCEEDED');
    expect(codeOf(() => encodeIndex(withAtt({ '': Uint8Array.of(1) })))).toBe('ERR_INDEX_INVALID_OPTION');
    expect(codeOf(() => encodeIndex(withAtt({ x: 'text' as never })))).toBe('ERR_INDEX_INVALID_OPTION');
    expect(codeOf(() => encodeIndex(withAtt({ x: new Uint8Array(4 * 1024 * 1024) })))).toBe('ERR_INDEX_LIMIT_EXCEEDED');
    // Other formats cannot carry attachments.
    const zsyncIndex = await buildIndex(pieces(pseudoRandomBytes(3000, 6), [3000]), { profile: 'zsync', blockSize: 1024 });
    expect(codeOf(() => encodeZsync(zsyncIndex.withMetadata({ attachments: { compress: Uint8Array.of(1) } })))).toBe('ERR_INDEX_INCOMPATIBLE');
    const gosyncIndex = await buildIndex(pieces(pseudoRandomBytes(3000, 6), [3000]), { profile: 'gosync', blockSize: 1024 });
    expect(codeOf(() => encodeGosync(gosyncIndex.withMetadata({ attachments: { compress: Uint8Array.of(1) } })))).toBe('ERR_INDEX_INCOMPATIBLE');
    // The decoder: bad shapes, too many, bad names.
    const bad = (att: unknown): string => codeOf(() => decodeIndex(craft({ ...baseHeader, meta: { att } }, new Uint8Array(18))));
    expect(bad([1])).toBe('ERR_INDEX_INVALID_HEADER');
    expect(bad({ compress: 'text' })).toBe('ERR_INDEX_INVALID_HEADER');
    expect(bad({ compress: 7 })).toBe('ERR_INDEX_INVALID_HEADER');
    expect(bad({ ['n'.repeat(65)]: Uint8Array.of(1) })).toBe('ERR_INDEX_INVALID_HEADER');
    expect(bad({ '': Uint8Array.of(1) })).toBe('ERR_INDEX_INVALID_HEADER');
    expect(bad(many(17))).toBe('ERR_INDEX_LIMIT_EXCEEDED');
    expect(bad(many(16))).toBe('none');
  });

  it('checks a version 2 header length before parsing or allocating', () => {
    const long = (headLen: number, total: number): Uint8Array => {
      const out = new Uint8Array(total);
      out.set(GSI_MAGIC);
      const view = new DataView(out.buffer);
      view.setUint16(8, 2, true);
      view.setUint32(10, headLen, true);
      return out;
    };
    expect(codeOf(() => decodeIndex(long(0xffff_ffff, 30)))).toBe('ERR_INDEX_LIMIT_EXCEEDED');
    expect(codeOf(() => decodeIndex(long(4 * 1024 * 1024 + 1, 30)))).toBe('ERR_INDEX_LIMIT_EXCEEDED');
    expect(codeOf(() => decodeIndex(long(4 * 1024 * 1024, 30)))).toBe('ERR_INDEX_TRUNCATED');
    // A short header must use version 1 (one encoding per index).
    expect(codeOf(() => decodeIndex(long(100, 200)))).toBe('ERR_INDEX_INVALID_HEADER');
    expect(codeOf(() => decodeIndex(long(70_000, 21)))).toBe('ERR_INDEX_TRUNCATED');
    expect(codeOf(() => decodeIndex(long(70_000, 20)))).toBe('ERR_INDEX_TRUNCATED');
  });

  it('keeps decoded arrays independent of the input buffer', () => {
    const good = craft(baseHeader, Uint8Array.from({ length: 18 }, (_, i) => i));
    const index = decodeIndex(good);
    const before = index.strongHashes.slice();
    good.fill(0);
    expect(bytesEqual(index.strongHashes, before)).toBe(true);
  });
});
