import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { fc, test } from '@fast-check/vitest';
import { bytesEqual, type ProgressEvent } from '@gosync/core';
import { pseudoRandomBytes } from '@gosync/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIndex } from './build.js';
import { encodeIndex } from './gsi.js';
import { nativeHashLengths, zsyncHashLengths } from './hash-lengths.js';
import { STRONG_HASH_NAMES } from './hashes.js';
import { asyncCodeOf, naiveSums, pieces } from './test-helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gosync-index-build-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('buildIndex', { timeout: 30_000 }, () => {
  it('computes the sums of a naive model for every strong hash, padded or not', async () => {
    const data = pseudoRandomBytes(10_000, 7);
    for (const strongHash of STRONG_HASH_NAMES) {
      for (const padLastBlock of [false, true]) {
        const index = await buildIndex(pieces(data, [333]), {
          blockSize: 1024, strongHash, padLastBlock, hashLengths: 'full',
        });
        const model = await naiveSums(data, 1024, strongHash, padLastBlock);
        expect(index.count).toBe(10);
        expect(Array.from(index.weakSums)).toEqual(model.weak);
        for (let i = 0; i < index.count; i++) {
          expect(bytesEqual(index.strongHashOf(i), model.strong[i]!), `${strongHash} block ${i}`).toBe(true);
        }
        expect(index.blockRange(9)).toEqual({ start: 9216, end: 10_000 });
      }
    }
  });

  test.prop([fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 1, max: 700 }), fc.array(fc.integer({ min: 1, max: 900 }), { minLength: 1, maxLength: 5 })], { numRuns: 40 })(
    'does not depend on how the stream is cut',
    async (data, blockSize, sizes) => {
      const whole = await buildIndex(pieces(data, [data.length || 1]), { blockSize, hashLengths: 'full' });
      const cut = await buildIndex(pieces(data, sizes), { blockSize, hashLengths: 'full' });
      expect(bytesEqual(encodeIndex(cut), encodeIndex(whole))).toBe(true);
      expect(whole.count).toBe(Math.ceil(data.length / blockSize));
    },
  );

  it('gives a byte-identical index whatever the number of workers', async () => {
    const data = pseudoRandomBytes(9 * 1024 * 1024 + 123, 3);
    const path = join(dir, 'workers.bin');
    await writeFile(path, data);
    const encoded: Uint8Array[] = [];
    for (const workers of [0, 1, 3]) {
      const index = await buildIndex(path, { workers, blockSize: 4096, profile: 'zsync' });
      encoded.push(encodeIndex(index));
    }
    expect(bytesEqual(encoded[1]!, encoded[0]!)).toBe(true);
    expect(bytesEqual(encoded[2]!, encoded[0]!)).toBe(true);
    const streamed = await buildIndex(pieces(data, [1 << 20]), { workers: 2, blockSize: 4096, profile: 'zsync', metadata: { filename: 'workers.bin' } });
    expect(streamed.count).toBe(Math.ceil(data.length / 4096));
    expect(bytesEqual(streamed.strongHashes, (await buildIndex(path, { workers: 0, blockSize: 4096, profile: 'zsync' })).strongHashes)).toBe(true);
  });

  it('records file hashes, metadata from the path and native hash lengths', async () => {
    const data = pseudoRandomBytes(50_000, 11);
    const path = join(dir, 'meta.bin');
    await writeFile(path, data);
    const index = await buildIndex(path, { blockSize: 2048, fileHashes: ['sha256', 'sha1'] });
    expect(index.metadata.filename).toBe('meta.bin');
    expect(typeof index.metadata.mtime).toBe('number');
    expect(Buffer.from(index.fileHash('sha256')!).toString('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    expect(Buffer.from(index.fileHash('sha1')!).toString('hex')).toBe(createHash('sha1').update(data).digest('hex'));
    const lengths = nativeHashLengths(50_000, 2048, 16);
    expect([index.seqMatches, index.weakBytes, index.strongBytes]).toEqual([lengths.seqMatches, 4, lengths.strongBytes]);
    // As many bytes per block as zsync's lengths, but never a strong hash under 3 bytes.
    const z = zsyncHashLengths(50_000, 2048);
    expect(index.weakBytes + index.strongBytes).toBe(Math.max(z.weakBytes + z.strongBytes, 7));
    expect(index.strongHash).toBe('xxh128');
    // Truncated strong hashes are the prefixes of the full ones; weak sums are masked.
    const full = await buildIndex(path, { blockSize: 2048, hashLengths: 'full' });
    for (let i = 0; i < index.count; i++) {
      expect(index.strongHashMatches(i, full.strongHashOf(i))).toBe(true);
      expect(index.weakSums[i]).toBe(((full.weakSums[i]! & index.weakMask) >>> 0));
    }
  });

  it('handles an empty input and an exact multiple of the block size', async () => {
    const empty = await buildIndex(pieces(new Uint8Array(0), [1]), { blockSize: 16 });
    expect(empty.count).toBe(0);
    expect(empty.fileLength).toBe(0);
    const exact = await buildIndex(pieces(pseudoRandomBytes(64, 1), [5]), { blockSize: 16 });
    expect(exact.count).toBe(4);
  });

  it('reports progress and honours abort', async () => {
    const data = pseudoRandomBytes(9 * 1024 * 1024, 5);
    const events: ProgressEvent[] = [];
    await buildIndex(pieces(data, [1 << 20]), { blockSize: 4096, length: data.length, onProgress: (e) => events.push(e) });
    expect(events.length).toBeGreaterThan(1);
    expect(events.at(-1)).toEqual({ phase: 'index', done: data.length, total: data.length });
    const controller = new AbortController();
    const reason = new Error('stop');
    const run = buildIndex(pieces(data, [1 << 20]), {
      blockSize: 4096,
      signal: controller.signal,
      onProgress: () => {
        controller.abort(reason);
      },
    });
    await expect(run).rejects.toBe(reason);
    const aborted = AbortSignal.abort(reason);
    await expect(buildIndex(pieces(data, [1]), { signal: aborted })).rejects.toBe(reason);
  });

  it('rejects bad options and inputs with codes', async () => {
    const src = (): AsyncGenerator<Uint8Array> => pieces(new Uint8Array(10), [3]);
    expect(await asyncCodeOf(() => buildIndex(src(), { blockSize: 0 }))).toBe('ERR_INDEX_INVALID_OPTION');
    expect(await asyncCodeOf(() => buildIndex(src(), { workers: -1 }))).toBe('ERR_INDEX_INVALID_OPTION');
    expect(await asyncCodeOf(() => buildIndex(src(), { strongHash: 'crc' as never }))).toBe('ERR_INDEX_UNKNOWN_FEATURE');
    expect(await asyncCodeOf(() => buildIndex(src(), { hashLengths: { seqMatches: 1, weakBytes: 4, strongBytes: 17 } }))).toBe('ERR_INDEX_INVALID_OPTION');
    expect(await asyncCodeOf(() => buildIndex(src(), { length: 11 }))).toBe('ERR_INDEX_INVALID_OPTION');
    expect(await asyncCodeOf(() => buildIndex(src(), { length: 9 }))).toBe('ERR_INDEX_INVALID_OPTION');
    expect(await asyncCodeOf(() => buildIndex(src(), { profile: 'rsync' as never }))).toBe('ERR_INDEX_INVALID_OPTION');
    expect(await asyncCodeOf(() => buildIndex(join(dir, 'missing.bin')))).toBe('ERR_INDEX_IO');
    expect(await asyncCodeOf(() => buildIndex(dir))).toBe('ERR_INDEX_IO');
  });
});
