import { fc, test } from '@fast-check/vitest';
import { bytesEqual } from '@gosync/core';
import { chunkBoundaries, weakSum } from '@gosync/rollsum';
import { pseudoRandomBytes } from '@gosync/testkit';
import { describe, expect, it } from 'vitest';
import { buildIndex } from './build.js';
import { decodeIndex, encodeIndex } from './gsi.js';
import { createStrongHasher } from './hashes.js';
import { asyncCodeOf, pieces } from './test-helpers.js';

const chunking = { minSize: 256, avgSize: 1024, maxSize: 4096 };

describe('buildIndex with kind: chunks', { timeout: 30_000 }, () => {
  it('hashes the chunks the chunker cuts', async () => {
    const data = pseudoRandomBytes(200_000, 21);
    const index = await buildIndex(pieces(data, [10_000, 777]), { kind: 'chunks', chunking, hashLengths: 'full' });
    const ends = chunkBoundaries(data, chunking);
    expect(index.kind).toBe('chunks');
    expect(index.count).toBe(ends.length);
    expect(Array.from(index.offsets!)).toEqual([0, ...ends]);
    expect(index.blockSize).toBe(4096);
    const hasher = await createStrongHasher('xxh128');
    for (let i = 0; i < index.count; i++) {
      const chunk = data.subarray(index.blockStart(i), index.blockEnd(i));
      expect(index.weakSums[i]).toBe(weakSum(chunk));
      expect(bytesEqual(index.strongHashOf(i), hasher.init().update(chunk).digest())).toBe(true);
    }
    const decoded = decodeIndex(encodeIndex(index));
    expect(decoded.toInit()).toEqual(index.toInit());
  });

  test.prop([fc.uint8Array({ maxLength: 20_000 }), fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 4 })], { numRuns: 25 })(
    'does not depend on how the stream is cut',
    async (data, sizes) => {
      const a = await buildIndex(pieces(data, sizes), { kind: 'chunks', chunking });
      const b = await buildIndex(pieces(data, [data.length || 1]), { kind: 'chunks', chunking });
      expect(bytesEqual(encodeIndex(a), encodeIndex(b))).toBe(true);
      expect(a.blockEnd(a.count - 1) || 0).toBe(data.length);
    },
  );

  it('keeps most chunks after an insertion', async () => {
    const data = pseudoRandomBytes(100_000, 8);
    const edited = new Uint8Array(data.length + 10);
    edited.set(data.subarray(0, 50_000));
    edited.set(pseudoRandomBytes(10, 3), 50_000);
    edited.set(data.subarray(50_000), 50_010);
    const a = await buildIndex(pieces(data, [4096]), { kind: 'chunks', chunking, hashLengths: 'full' });
    const b = await buildIndex(pieces(edited, [4096]), { kind: 'chunks', chunking, hashLengths: 'full' });
    const key = (ix: typeof a, i: number): string => Buffer.from(ix.strongHashOf(i)).toString('hex');
    const before = new Set(Array.from({ length: a.count }, (_, i) => key(a, i)));
    const kept = Array.from({ length: b.count }, (_, i) => key(b, i)).filter((k) => before.has(k)).length;
    expect(kept).toBeGreaterThanOrEqual(a.count - 3);
  });

  it('rejects bad chunk sizes with a code', async () => {
    expect(await asyncCodeOf(() => buildIndex(pieces(new Uint8Array(10), [5]), { kind: 'chunks', chunking: { avgSize: 1000 } }))).toBe('ERR_INDEX_INVALID_OPTION');
    expect(await asyncCodeOf(() => buildIndex(pieces(new Uint8Array(10), [5]), { kind: 'cdc' as never }))).toBe('ERR_INDEX_INVALID_OPTION');
  });
});
