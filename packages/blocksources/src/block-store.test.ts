import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fc, test } from '@fast-check/vitest';
import { isGosyncError, toHex } from '@gosync/core';
import type { ByteRange, RangeData } from '@gosync/core';
import { collectRanges, pseudoRandomBytes, skipWithoutTools, startNginx } from '@gosync/testkit';
import type { RunningNginx } from '@gosync/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BLOCK_STORE_MANIFEST_NAME,
  blockStoreObjectPath,
  blockStoreObjectRange,
  decodeBlockStoreManifest,
  encodeBlockStoreManifest,
} from './block-store-manifest.js';
import type { BlockStoreManifest } from './block-store-manifest.js';
import { BlockStoreSource } from './block-store-source.js';
import type { BlockStoreSourceOptions } from './block-store-source.js';
import { writeBlockStore } from './block-store-writer.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gosync-store-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let dirs = 0;
function freshDir(): string {
  return join(root, `store-${++dirs}`);
}


async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string; cause: unknown }> {
  try {
    await promise;
  } catch (e) {
    if (isGosyncError(e)) return { code: e.code, message: e.message, cause: e.cause };
    return { code: `not a GosyncError: ${String(e)}`, message: '', cause: undefined };
  }
  return { code: 'no error', message: '', cause: undefined };
}

function thrown(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (isGosyncError(e)) return { code: e.code, message: e.message };
    return { code: `not a GosyncError: ${String(e)}`, message: '' };
  }
  return { code: 'no error', message: '' };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return (await failure(promise)).code;
}

function expectRanges(got: readonly RangeData[], ranges: readonly ByteRange[], bytes: Uint8Array): void {
  const byStart = (a: ByteRange, b: ByteRange): number => a.start - b.start;
  expect(got.map((g) => g.range).sort(byStart)).toEqual([...ranges].sort(byStart));
  for (const { range, data } of got) {
    expect(data.length).toBe(range.end - range.start);
    expect(Buffer.from(data).equals(Buffer.from(bytes.subarray(range.start, range.end)))).toBe(true);
  }
}

async function objectFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const shard of await readdir(join(dir, 'objects'))) {
    for (const name of await readdir(join(dir, 'objects', shard))) out.push(`${shard}/${name}`);
  }
  return out.sort();
}

async function* chunked(bytes: Uint8Array, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  let offset = 0;
  for (let i = 0; offset < bytes.length; i++) {
    const n = sizes[i % sizes.length] as number;
    await Promise.resolve();
    yield bytes.slice(offset, offset + n);
    offset += n;
  }
}

/** Sorted, non-overlapping ranges inside [0, length), from cut points. */
function arbRanges(length: number): fc.Arbitrary<ByteRange[]> {
  return fc.uniqueArray(fc.integer({ min: 0, max: length }), { minLength: 0, maxLength: 24 }).map((cuts) => {
    const sorted = [...cuts].sort((a, b) => a - b);
    const ranges: ByteRange[] = [];
    for (let i = 0; i + 1 < sorted.length; i += 2) ranges.push({ start: sorted[i] as number, end: sorted[i + 1] as number });
    return ranges;
  });
}

function sampleManifest(length: number, objectSize: number, seed = 7): BlockStoreManifest {
  const count = Math.ceil(length / objectSize);
  return { length, objectSize, hash: 'sha256', count, digests: pseudoRandomBytes(count * 32, seed) };
}

describe('block store manifest codec', () => {
  const arbManifest = fc
    .record({
      objectSize: fc.integer({ min: 1, max: 2 ** 30 }),
      count: fc.integer({ min: 0, max: 40 }),
      short: fc.integer({ min: 0, max: 2 ** 30 - 1 }),
      seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    })
    .map(({ objectSize, count, short, seed }): BlockStoreManifest => {
      const length = count === 0 ? 0 : count * objectSize - (short % objectSize);
      return { length, objectSize, hash: 'sha256', count, digests: pseudoRandomBytes(count * 32, seed) };
    });

  test.prop([arbManifest])('decode(encode(m)) is m, lengths past 4 GiB included', (manifest) => {
    const bytes = encodeBlockStoreManifest(manifest);
    expect(bytes.length).toBe(32 + manifest.count * 32 + 8);
    expect(decodeBlockStoreManifest(bytes)).toEqual(manifest);
  });

  it('lays out the header as documented', () => {
    const manifest = sampleManifest(2 ** 32 + 5, 2 ** 30);
    const bytes = encodeBlockStoreManifest(manifest);
    expect(toHex(bytes.subarray(0, 16))).toBe('89474253' + '0d0a1a0a' + '0100' + '0000' + '01' + '20' + '0000');
    expect(toHex(bytes.subarray(16, 32))).toBe('05000000' + '01000000' + '00000040' + '05000000');
    expect(Buffer.from(bytes.subarray(32, 32 + 5 * 32)).equals(Buffer.from(manifest.digests))).toBe(true);
  });

  it('rejects every truncation and any trailing byte with ERR_BLOCKSOURCE_MANIFEST', () => {
    const bytes = encodeBlockStoreManifest(sampleManifest(10_000, 4096));
    for (let n = 0; n < bytes.length; n++) {
      expect(() => decodeBlockStoreManifest(bytes.subarray(0, n))).toThrow(
        expect.objectContaining({ code: 'ERR_BLOCKSOURCE_MANIFEST' }),
      );
    }
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(() => decodeBlockStoreManifest(longer)).toThrow(expect.objectContaining({ code: 'ERR_BLOCKSOURCE_MANIFEST' }));
  });

  test.prop([fc.nat(), fc.integer({ min: 0, max: 7 })])('rejects any flipped bit with a typed error', (at, bit) => {
    const bytes = encodeBlockStoreManifest(sampleManifest(10_000, 4096));
    const damaged = bytes.slice();
    const i = at % damaged.length;
    damaged[i] = (damaged[i] as number) ^ (1 << bit);
    let code = 'no error';
    try {
      decodeBlockStoreManifest(damaged);
    } catch (e) {
      code = isGosyncError(e) ? e.code : 'untyped';
    }
    expect(['ERR_BLOCKSOURCE_MANIFEST', 'ERR_BLOCKSOURCE_MANIFEST_UNSUPPORTED']).toContain(code);
  });

  test.prop([fc.uint8Array({ maxLength: 200 })])('rejects random bytes with a typed error', (bytes) => {
    expect(() => decodeBlockStoreManifest(bytes)).toThrow(expect.objectContaining({ code: 'ERR_BLOCKSOURCE_MANIFEST' }));
  });

  it('tells a newer format from a damaged one, and enforces maxObjects before reading digests', () => {
    const bytes = encodeBlockStoreManifest(sampleManifest(10_000, 4096));
    const v2 = bytes.slice();
    v2[8] = 2;
    const newer = thrown(() => decodeBlockStoreManifest(v2, { name: 'https://h/x/manifest.gbs' }));
    expect(newer.code).toBe('ERR_BLOCKSOURCE_MANIFEST_UNSUPPORTED');
    expect(newer.message).toContain('https://h/x/manifest.gbs');
    const flags = bytes.slice();
    flags[10] = 1;
    expect(() => decodeBlockStoreManifest(flags)).toThrow(expect.objectContaining({ code: 'ERR_BLOCKSOURCE_MANIFEST_UNSUPPORTED' }));
    const hash = bytes.slice();
    hash[12] = 9;
    expect(() => decodeBlockStoreManifest(hash)).toThrow(expect.objectContaining({ code: 'ERR_BLOCKSOURCE_MANIFEST_UNSUPPORTED' }));
    const limited = thrown(() => decodeBlockStoreManifest(bytes, { maxObjects: 2 }));
    expect(limited.code).toBe('ERR_BLOCKSOURCE_MANIFEST');
    expect(limited.message).toContain('maxObjects');
    // A header claiming 2^32 − 1 objects in a 40-byte file: refused without allocating.
    const huge = encodeBlockStoreManifest(sampleManifest(0, 1));
    const view = new DataView(huge.buffer);
    view.setUint32(16, 0xffff_ffff, true);
    view.setUint32(28, 0xffff_ffff, true);
    const claimed = thrown(() => decodeBlockStoreManifest(huge, { maxObjects: 2 ** 32 }));
    expect(claimed.code).toBe('ERR_BLOCKSOURCE_MANIFEST');
    expect(claimed.message).toContain('truncated');
  });

  it('refuses to encode a manifest whose fields disagree', () => {
    const good = sampleManifest(10_000, 4096);
    for (const bad of [
      { ...good, count: 2 },
      { ...good, digests: good.digests.subarray(1) },
      { ...good, objectSize: 0 },
      { ...good, length: -1 },
      { ...good, length: 2 ** 53 },
    ]) {
      expect(() => encodeBlockStoreManifest(bad)).toThrow(expect.objectContaining({ code: 'ERR_BLOCKSOURCE_MANIFEST' }));
    }
    expect(() => encodeBlockStoreManifest({ ...good, hash: 'md5' as 'sha256' })).toThrow(
      expect.objectContaining({ code: 'ERR_BLOCKSOURCE_MANIFEST_UNSUPPORTED' }),
    );
  });
});

describe('writeBlockStore + BlockStoreSource (local store)', () => {
  const objectSize = 4096;
  const bytes = pseudoRandomBytes(300_007, 11);
  let dir: string;
  let manifest: BlockStoreManifest;
  beforeAll(async () => {
    dir = freshDir();
    const input = join(root, 'target.bin');
    await writeFile(input, bytes);
    manifest = await writeBlockStore(input, dir, { objectSize });
  });

  it('writes one object per objectSize bytes, the last one short, and a manifest that decodes', async () => {
    expect(manifest.length).toBe(bytes.length);
    expect(manifest.count).toBe(Math.ceil(bytes.length / objectSize));
    expect(decodeBlockStoreManifest(await readFile(join(dir, BLOCK_STORE_MANIFEST_NAME)))).toEqual(manifest);
    expect(await objectFiles(dir)).toHaveLength(manifest.count);
    const last = manifest.count - 1;
    expect(blockStoreObjectRange(manifest, last)).toEqual({ start: last * objectSize, end: bytes.length });
    const lastObject = await readFile(join(dir, ...blockStoreObjectPath(manifest, last).split('/')));
    expect(Buffer.from(lastObject).equals(Buffer.from(bytes.subarray(last * objectSize)))).toBe(true);
    expect(lastObject.length).toBe(bytes.length % objectSize);
  });

  test.prop([arbRanges(300_007)], { numRuns: 60 })('yields every requested range once with the target’s bytes', async (ranges) => {
    const source = new BlockStoreSource({ url: dir, maxInFlight: 3 });
    try {
      expectRanges(await collectRanges(source, ranges), ranges, bytes);
    } finally {
      await source.close();
    }
  });

  it('serves ranges spanning objects, the whole target, the short tail and empty ranges', async () => {
    const ranges = [
      { start: 0, end: 1 },
      { start: objectSize - 1, end: objectSize + 1 },
      { start: 3 * objectSize - 7, end: 9 * objectSize + 3 },
      { start: 20 * objectSize, end: 20 * objectSize },
      { start: 40 * objectSize, end: 41 * objectSize },
      { start: bytes.length - 5, end: bytes.length },
    ];
    const source = new BlockStoreSource({ url: pathToFileURL(dir).href });
    expectRanges(await collectRanges(source, ranges), ranges, bytes);
    expectRanges(await collectRanges(source, [{ start: 0, end: bytes.length }]), [{ start: 0, end: bytes.length }], bytes);
    await source.close();
  });

  it('fetches each needed object once however many ranges it serves', async () => {
    const events: { done: number; total: number }[] = [];
    const source = new BlockStoreSource({ url: dir, manifest, onProgress: (e) => events.push(e) });
    const ranges = [
      { start: 10, end: 20 },
      { start: 30, end: 40 },
      { start: 4000, end: 4100 },
      { start: 4200, end: 4300 },
    ];
    expectRanges(await collectRanges(source, ranges), ranges, bytes);
    // Objects 0 and 1, and no manifest read: it was given.
    expect(source.stats).toMatchObject({ objects: 2, requests: 2, refetches: 0 });
    expect(events.at(-1)).toEqual({ phase: 'fetch', done: 220, total: 220 });
  });

  it('checks ranges, bounds and the verifier; aborts with the reason; refuses after close', async () => {
    const source = new BlockStoreSource({ url: dir });
    expect(await codeOf(collectRanges(source, [{ start: 0, end: bytes.length + 1 }]))).toBe('ERR_BLOCKSOURCE_OUT_OF_BOUNDS');
    expect(await codeOf(collectRanges(source, [{ start: 5, end: 2 }]))).toBe('ERR_BLOCKSOURCE_INVALID_RANGE');
    expect(await codeOf(collectRanges(source, [{ start: 0, end: 10 }, { start: 5, end: 20 }]))).toBe('ERR_BLOCKSOURCE_INVALID_RANGE');
    const verified = new BlockStoreSource({ url: dir, verifier: { verify: (range) => range.start !== 9000 } });
    const bad = await failure(collectRanges(verified, [{ start: 0, end: 10 }, { start: 9000, end: 9010 }]));
    expect(bad.code).toBe('ERR_BLOCKSOURCE_VERIFY_FAILED');
    expect(bad.message).toContain('[9000, 9010)');
    const controller = new AbortController();
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(collectRanges(source, [{ start: 0, end: 10 }], controller.signal)).rejects.toBe(reason);
    const lifetime = new AbortController();
    const scoped = new BlockStoreSource({ url: dir, signal: lifetime.signal });
    lifetime.abort(reason);
    await expect(collectRanges(scoped, [{ start: 0, end: 10 }])).rejects.toBe(reason);
    await source.close();
    expect(await codeOf(collectRanges(source, [{ start: 0, end: 10 }]))).toBe('ERR_BLOCKSOURCE_CLOSED');
  });

  it('stops cleanly when the consumer breaks out early', async () => {
    const source = new BlockStoreSource({ url: dir, maxInFlight: 2, maxBytesInFlight: 1 });
    const ranges = Array.from({ length: 50 }, (_, i) => ({ start: i * 5000, end: i * 5000 + 100 }));
    let seen = 0;
    for await (const item of source.fetch(ranges)) {
      expect(item.data.length).toBe(100);
      if (++seen === 3) break;
    }
    expect(source.stats.objects).toBeLessThan(50);
    await source.close();
  });

  it('gives the same store for a path and for a stream in odd chunks, and rewrites nothing', async () => {
    const before = await objectFiles(dir);
    const again = await writeBlockStore(chunked(bytes, [1, 4095, 10_000, 3]), dir, { objectSize });
    expect(again).toEqual(manifest);
    expect(await objectFiles(dir)).toEqual(before);
  });
});

describe('writeBlockStore edge cases', () => {
  it('handles an empty target', async () => {
    const dir = freshDir();
    const manifest = await writeBlockStore(chunked(new Uint8Array(0), [1]), dir);
    expect(manifest).toMatchObject({ length: 0, count: 0, objectSize: 256 * 1024 });
    expect(await objectFiles(dir)).toEqual([]);
    const source = new BlockStoreSource({ url: dir });
    expect(await collectRanges(source, [])).toEqual([]);
    expect(await collectRanges(source, [{ start: 0, end: 0 }])).toEqual([{ range: { start: 0, end: 0 }, data: new Uint8Array(0) }]);
    expect(await codeOf(collectRanges(source, [{ start: 0, end: 1 }]))).toBe('ERR_BLOCKSOURCE_OUT_OF_BOUNDS');
  });

  it('stores repeated content once and fetches it once', async () => {
    const block = pseudoRandomBytes(1000, 3);
    const bytes = new Uint8Array(10_500);
    for (let i = 0; i < 10; i++) bytes.set(block, i * 1000);
    bytes.set(pseudoRandomBytes(500, 4), 10_000);
    const dir = freshDir();
    const manifest = await writeBlockStore(chunked(bytes, [777]), dir, { objectSize: 1000 });
    expect(manifest.count).toBe(11);
    expect(await objectFiles(dir)).toHaveLength(2);
    const source = new BlockStoreSource({ url: dir });
    const ranges = [{ start: 0, end: 2500 }, { start: 5999, end: 10_500 }];
    expectRanges(await collectRanges(source, ranges), ranges, bytes);
    expect(source.stats.objects).toBe(2);
  });

  it('publishes only the changed objects of the next version', async () => {
    const objectSize = 2048;
    const v1 = pseudoRandomBytes(200_000, 21);
    const v2 = new Uint8Array(203_000);
    v2.set(v1.subarray(0, 50_000), 0);
    v2.set(pseudoRandomBytes(3000, 22), 50_000); // an insertion shifts what follows…
    v2.set(v1.subarray(50_000), 53_000);
    v2[100_001] = (v2[100_001] as number) ^ 0xff; // …and a changed byte
    const dir = freshDir();
    const m1 = await writeBlockStore(chunked(v1, [65_536]), dir, { objectSize });
    const after1 = await objectFiles(dir);
    const m2 = await writeBlockStore(chunked(v2, [65_536]), dir, { objectSize });
    const after2 = await objectFiles(dir);
    const added = after2.filter((name) => !after1.includes(name));
    const hexes = (m: BlockStoreManifest): Set<string> =>
      new Set(Array.from({ length: m.count }, (_, i) => blockStoreObjectPath(m, i).slice('objects/'.length)));
    const shared = [...hexes(m2)].filter((h) => hexes(m1).has(h));
    // Fixed-size objects: an insertion of a whole number of objects keeps the rest aligned
    // only if it is a multiple of objectSize; 3000 is not, so objects after it change. What
    // must hold: every object before the edit is reused, and only the new ones were written.
    expect(shared.length).toBeGreaterThanOrEqual(Math.floor(50_000 / objectSize));
    expect(added.length).toBe(hexes(m2).size - shared.length);
    expect(after2.length).toBe(hexes(m1).size + added.length);
    // The old version's objects are all still there, and both versions read back.
    const v2source = new BlockStoreSource({ url: dir });
    expectRanges(await collectRanges(v2source, [{ start: 0, end: v2.length }]), [{ start: 0, end: v2.length }], v2);
    const v1source = new BlockStoreSource({ url: dir, manifest: m1 });
    expectRanges(await collectRanges(v1source, [{ start: 0, end: v1.length }]), [{ start: 0, end: v1.length }], v1);
  });

  it('shares every unchanged aligned object between versions', async () => {
    const objectSize = 1024;
    const v1 = pseudoRandomBytes(64 * 1024, 31);
    const v2 = v1.slice();
    for (const at of [5000, 30_000, 60_000]) v2[at] = (v2[at] as number) ^ 1;
    const dir = freshDir();
    await writeBlockStore(chunked(v1, [4096]), dir, { objectSize });
    const before = await objectFiles(dir);
    const m2 = await writeBlockStore(chunked(v2, [4096]), dir, { objectSize });
    const added = (await objectFiles(dir)).filter((name) => !before.includes(name));
    expect(added).toHaveLength(3);
    expect(added.sort()).toEqual(
      [5000, 30_000, 60_000].map((at) => blockStoreObjectPath(m2, Math.floor(at / objectSize)).slice('objects/'.length)).sort(),
    );
  });

  it('checks its options, reports progress and honours abort', async () => {
    const dir = freshDir();
    expect(await codeOf(writeBlockStore(chunked(new Uint8Array(1), [1]), dir, { objectSize: 0 }))).toBe(
      'ERR_BLOCKSOURCE_INVALID_OPTION',
    );
    expect(await codeOf(writeBlockStore(chunked(new Uint8Array(1), [1]), dir, { objectSize: 2 ** 30 + 1 }))).toBe(
      'ERR_BLOCKSOURCE_INVALID_OPTION',
    );
    expect(await codeOf(writeBlockStore(chunked(new Uint8Array(1), [1]), dir, { hash: 'md5' as 'sha256' }))).toBe(
      'ERR_BLOCKSOURCE_INVALID_OPTION',
    );
    const missing = await failure(writeBlockStore(join(root, 'no-such-file'), dir));
    expect(missing.code).toBe('ERR_BLOCKSOURCE_IO');
    expect(missing.message).toContain('no-such-file');
    const events: number[] = [];
    const input = join(root, 'progress.bin');
    await writeFile(input, pseudoRandomBytes(10_000, 5));
    await writeBlockStore(input, dir, { objectSize: 4096, onProgress: (e) => events.push(e.done) });
    expect(events).toEqual([4096, 8192, 10_000]);
    const controller = new AbortController();
    const reason = new Error('stop');
    const aborting = async function* (): AsyncGenerator<Uint8Array> {
      await Promise.resolve();
      yield new Uint8Array(5000);
      controller.abort(reason);
      yield new Uint8Array(5000);
    };
    await expect(writeBlockStore(aborting(), freshDir(), { objectSize: 1000, signal: controller.signal })).rejects.toBe(reason);
  });
});

describe('BlockStoreSource failures (local store)', () => {
  const bytes = pseudoRandomBytes(20_000, 41);
  let dir: string;
  let manifest: BlockStoreManifest;
  beforeAll(async () => {
    dir = freshDir();
    manifest = await writeBlockStore(chunked(bytes, [20_000]), dir, { objectSize: 4096 });
  });

  it('re-reads a damaged object once, then fails naming the object and the range', async () => {
    const path = join(dir, ...blockStoreObjectPath(manifest, 2).split('/'));
    const original = await readFile(path);
    const damaged = Buffer.from(original);
    damaged[100] = (damaged[100] as number) ^ 0x01;
    await writeFile(path, damaged);
    try {
      const source = new BlockStoreSource({ url: dir });
      const bad = await failure(collectRanges(source, [{ start: 0, end: 100 }, { start: 9000, end: 9100 }]));
      expect(bad.code).toBe('ERR_BLOCKSOURCE_VERIFY_FAILED');
      expect(bad.message).toContain(path);
      expect(bad.message).toContain('[8192, 12288)');
      expect(bad.message).toContain('[9000, 9100)');
      expect(source.stats.refetches).toBe(1);
      // A longer file with the right prefix is damaged too.
      await writeFile(path, Buffer.concat([original, Buffer.from([0])]));
      expect(await codeOf(collectRanges(new BlockStoreSource({ url: dir }), [{ start: 9000, end: 9100 }]))).toBe(
        'ERR_BLOCKSOURCE_VERIFY_FAILED',
      );
    } finally {
      await writeFile(path, original);
    }
    expectRanges(await collectRanges(new BlockStoreSource({ url: dir }), [{ start: 9000, end: 9100 }]), [{ start: 9000, end: 9100 }], bytes);
  });

  it('names a missing object, a missing manifest and a damaged manifest', async () => {
    const other = freshDir();
    await writeBlockStore(chunked(bytes, [20_000]), other, { objectSize: 4096 });
    const path = join(other, ...blockStoreObjectPath(manifest, 1).split('/'));
    await unlink(path);
    const missing = await failure(collectRanges(new BlockStoreSource({ url: other }), [{ start: 5000, end: 5001 }]));
    expect(missing.code).toBe('ERR_BLOCKSOURCE_IO');
    expect(missing.message).toContain(path);
    const empty = freshDir();
    const noManifest = await failure(collectRanges(new BlockStoreSource({ url: empty }), [{ start: 0, end: 1 }]));
    expect(noManifest.code).toBe('ERR_BLOCKSOURCE_IO');
    expect(noManifest.message).toContain(BLOCK_STORE_MANIFEST_NAME);
    const manifestPath = join(other, BLOCK_STORE_MANIFEST_NAME);
    const encoded = await readFile(manifestPath);
    await writeFile(manifestPath, encoded.subarray(0, encoded.length - 1));
    const damaged = await failure(new BlockStoreSource({ url: other }).manifest());
    expect(damaged.code).toBe('ERR_BLOCKSOURCE_MANIFEST');
    expect(damaged.message).toContain(manifestPath);
    expect(await codeOf(new BlockStoreSource({ url: other, maxObjects: 2 }).manifest())).toBe('ERR_BLOCKSOURCE_MANIFEST');
  });

  it('rejects bad options and an inconsistent given manifest', () => {
    expect(() => new BlockStoreSource({ url: '' })).toThrow(expect.objectContaining({ code: 'ERR_BLOCKSOURCE_INVALID_OPTION' }));
    expect(() => new BlockStoreSource({ url: 'ftp://host/store/' })).toThrow(
      expect.objectContaining({ code: 'ERR_BLOCKSOURCE_INVALID_OPTION' }),
    );
    expect(() => new BlockStoreSource({ url: dir, maxInFlight: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_BLOCKSOURCE_INVALID_OPTION' }),
    );
    expect(() => new BlockStoreSource({ url: dir, rateLimit: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_BLOCKSOURCE_INVALID_OPTION' }),
    );
    expect(() => new BlockStoreSource({ url: dir, manifest: { ...manifest, count: 1 } })).toThrow(
      expect.objectContaining({ code: 'ERR_BLOCKSOURCE_MANIFEST' }),
    );
  });
});

describe.skipIf(skipWithoutTools(['nginx'], 'block store over nginx'))('BlockStoreSource over a real nginx', () => {
  const bytes = pseudoRandomBytes(1_000_003, 51);
  let served: string;
  let nginx: RunningNginx;
  let manifest: BlockStoreManifest;
  beforeAll(async () => {
    served = freshDir();
    manifest = await writeBlockStore(chunked(bytes, [65_536]), join(served, 'app', 'store'), { objectSize: 16 * 1024 });
    nginx = await startNginx({ root: served });
  });
  afterAll(async () => {
    await nginx.close();
  });

  test.prop([arbRanges(1_000_003)], { numRuns: 25 })('reads arbitrary ranges byte-exact', async (ranges) => {
    const source = new BlockStoreSource({ url: `${nginx.url}/app/store`, maxInFlight: 4 });
    try {
      expectRanges(await collectRanges(source, ranges), ranges, bytes);
    } finally {
      await source.close();
    }
  });

  it('reads the whole target and names the URL of a missing object (404, not retried)', async () => {
    const source = new BlockStoreSource({ url: `${nginx.url}/app/store/` });
    expectRanges(await collectRanges(source, [{ start: 0, end: bytes.length }]), [{ start: 0, end: bytes.length }], bytes);
    const objectPath = join(served, 'app', 'store', ...blockStoreObjectPath(manifest, 7).split('/'));
    const original = await readFile(objectPath);
    await unlink(objectPath);
    try {
      const requests = source.stats.requests;
      const missing = await failure(collectRanges(source, [{ start: 7 * 16 * 1024, end: 7 * 16 * 1024 + 10 }]));
      expect(missing.code).toBe('ERR_BLOCKSOURCE_HTTP_STATUS');
      expect(missing.message).toContain(`${nginx.url}/app/store/${blockStoreObjectPath(manifest, 7)}`);
      expect(missing.message).toContain('404');
      expect(source.stats.requests).toBe(requests + 1);
    } finally {
      await writeFile(objectPath, original);
      await source.close();
    }
  });
});

type Fault = (req: IncomingMessage, res: ServerResponse, count: number) => boolean;

/** A tiny HTTP server over a store directory with a per-request fault hook. */
async function startStoreServer(dir: string): Promise<{
  url: string;
  fault: (f: Fault | undefined) => void;
  inFlight: { now: number; max: number };
  log: { path: string; cacheControl: string | undefined }[];
  close: () => Promise<void>;
}> {
  let hook: Fault | undefined;
  let count = 0;
  const inFlight = { now: 0, max: 0 };
  const log: { path: string; cacheControl: string | undefined }[] = [];
  const server: Server = createServer((req, res) => {
    const n = count++;
    const path = (req.url ?? '/').split('?')[0] as string;
    log.push({ path, cacheControl: req.headers['cache-control'] });
    inFlight.now++;
    inFlight.max = Math.max(inFlight.max, inFlight.now);
    res.on('close', () => {
      inFlight.now--;
    });
    if (hook?.(req, res, n) === true) return;
    setTimeout(() => {
      readFile(join(dir, ...path.split('/').filter((p) => p !== '' && p !== '..')))
        .then((body) => {
          res.writeHead(200, { 'content-length': body.length }).end(body);
        })
        .catch(() => {
          res.writeHead(404).end();
        });
    }, 2);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    fault: (f) => {
      hook = f;
    },
    inFlight,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

describe('BlockStoreSource over HTTP with faults', () => {
  const bytes = pseudoRandomBytes(100_000, 61);
  let dir: string;
  let manifest: BlockStoreManifest;
  let server: Awaited<ReturnType<typeof startStoreServer>>;
  const quick: Partial<BlockStoreSourceOptions> = { retries: { count: 3, baseDelay: 1, maxDelay: 5 } };
  beforeAll(async () => {
    dir = freshDir();
    manifest = await writeBlockStore(chunked(bytes, [100_000]), dir, { objectSize: 4096 });
    server = await startStoreServer(dir);
  });
  afterAll(async () => {
    await server.close();
  });

  it('keeps at most maxInFlight requests open and fetches each object once', async () => {
    server.fault(undefined);
    server.inFlight.max = 0;
    server.log.length = 0;
    const source = new BlockStoreSource({ url: server.url, maxInFlight: 3 });
    const ranges = Array.from({ length: 20 }, (_, i) => ({ start: i * 5000, end: i * 5000 + 3000 }));
    expectRanges(await collectRanges(source, ranges), ranges, bytes);
    await source.close();
    expect(server.inFlight.max).toBeLessThanOrEqual(3);
    const objects = server.log.filter((l) => l.path.startsWith('/objects/')).map((l) => l.path);
    expect(new Set(objects).size).toBe(objects.length);
  });

  it('waits out 503 with Retry-After, then succeeds', async () => {
    server.log.length = 0;
    let refused = 0;
    server.fault((_req, res) => {
      if (refused >= 2) return false;
      refused++;
      res.writeHead(503, { 'retry-after': '0' }).end();
      return true;
    });
    const source = new BlockStoreSource({ url: server.url, ...quick });
    expectRanges(await collectRanges(source, [{ start: 10, end: 5000 }]), [{ start: 10, end: 5000 }], bytes);
    expect(source.stats.retries).toBe(2);
    await source.close();
  });

  it('gives up after the retries with the last failure as cause', async () => {
    server.fault((_req, res) => {
      res.writeHead(503, { 'retry-after': '0' }).end();
      return true;
    });
    const source = new BlockStoreSource({ url: server.url, ...quick });
    const bad = await failure(collectRanges(source, [{ start: 0, end: 10 }]));
    expect(bad.code).toBe('ERR_BLOCKSOURCE_RETRIES_EXHAUSTED');
    expect(isGosyncError(bad.cause, 'ERR_BLOCKSOURCE_HTTP_STATUS')).toBe(true);
    expect(bad.message).toContain(`${server.url}${BLOCK_STORE_MANIFEST_NAME}`);
    await source.close();
  });

  it('re-fetches a corrupt body asking for a fresh copy, then fails if it stays corrupt', async () => {
    const target = `/${blockStoreObjectPath(manifest, 3)}`;
    let corrupted = 0;
    const corrupt = (times: number): Fault => (req, res) => {
      if (req.url !== target || corrupted >= times) return false;
      corrupted++;
      const body = Buffer.alloc(4096, 0x55);
      res.writeHead(200, { 'content-length': body.length }).end(body);
      return true;
    };
    server.fault(corrupt(1));
    server.log.length = 0;
    const source = new BlockStoreSource({ url: server.url, manifest, ...quick });
    const range = { start: 3 * 4096 + 1, end: 4 * 4096 + 1 };
    expectRanges(await collectRanges(source, [range]), [range], bytes);
    expect(source.stats.refetches).toBe(1);
    expect(server.log.filter((l) => l.path === target).map((l) => l.cacheControl)).toEqual([undefined, 'no-cache']);
    corrupted = 0;
    server.fault(corrupt(2));
    const bad = await failure(collectRanges(source, [range]));
    expect(bad.code).toBe('ERR_BLOCKSOURCE_VERIFY_FAILED');
    expect(bad.message).toContain(`${server.url}${target.slice(1)}`);
    expect(bad.message).toContain(`[${range.start}, ${range.end})`);
    await source.close();
  });

  it('treats an over-long body as a damaged object without reading it all', async () => {
    const target = `/${blockStoreObjectPath(manifest, 0)}`;
    server.fault((req, res) => {
      if (req.url !== target) return false;
      const body = Buffer.alloc(1024 * 1024);
      res.writeHead(200, { 'content-length': body.length }).end(body);
      return true;
    });
    const source = new BlockStoreSource({ url: server.url, manifest, ...quick });
    const bad = await failure(collectRanges(source, [{ start: 0, end: 10 }]));
    expect(bad.code).toBe('ERR_BLOCKSOURCE_VERIFY_FAILED');
    expect(bad.message).toContain('more than 4096 bytes');
    expect(source.stats.bytesReceived).toBeLessThan(1024 * 1024);
    await source.close();
    server.fault(undefined);
  });

  it('times out a server that never answers, as ERR_BLOCKSOURCE_TIMEOUT under the retries error', async () => {
    server.fault(() => true); // accept the request, never answer
    const source = new BlockStoreSource({ url: server.url, timeouts: { firstByte: 50 }, retries: { count: 1, baseDelay: 1 } });
    const bad = await failure(source.manifest());
    expect(bad.code).toBe('ERR_BLOCKSOURCE_RETRIES_EXHAUSTED');
    expect(isGosyncError(bad.cause, 'ERR_BLOCKSOURCE_TIMEOUT')).toBe(true);
    await source.close();
    server.fault(undefined);
  });

  /** Objects answered with headers, then 10 bytes every 100 ms (inside the idle timeout), the first `times` times. */
  function drip(times: number): Fault {
    let n = 0;
    return (req, res) => {
      if (req.url?.startsWith('/objects/') !== true || n >= times) return false;
      n++;
      res.writeHead(200, { 'content-length': 4096 });
      let sent = 0;
      const timer = setInterval(() => {
        if (sent < 4000) res.write(Buffer.alloc(10));
        sent += 10;
      }, 100);
      res.on('close', () => {
        clearInterval(timer);
      });
      return true;
    };
  }
  const slowRule = { idle: 300, lowSpeedBytesPerSecond: 1024, lowSpeedSeconds: 1 };

  it('retries an object that drips just inside the idle timeout, and gets it', async () => {
    server.fault(drip(1));
    const source = new BlockStoreSource({ url: server.url, manifest, ...quick, timeouts: slowRule });
    const range = { start: 5000, end: 6000 };
    expectRanges(await collectRanges(source, [range]), [range], bytes);
    expect(source.stats.retries).toBe(1);
    await source.close();
    server.fault(undefined);
  });

  it('gives up on an object that keeps dripping, naming its URL, target bytes and speed', async () => {
    server.fault(drip(Infinity));
    const source = new BlockStoreSource({ url: server.url, manifest, retries: { count: 2, baseDelay: 1 }, timeouts: slowRule });
    const t0 = performance.now();
    const bad = await failure(collectRanges(source, [{ start: 5000, end: 6000 }]));
    expect(bad.code).toBe('ERR_BLOCKSOURCE_RETRIES_EXHAUSTED');
    expect(isGosyncError(bad.cause, 'ERR_BLOCKSOURCE_TOO_SLOW')).toBe(true);
    expect(bad.message).toContain(`${server.url}${blockStoreObjectPath(manifest, 1)}`);
    expect(bad.message).toContain('object 1, target bytes [4096, 8192)');
    expect(bad.message).toMatch(/slowed to [\d.]+ B\/s over the last 1 s .*below the low-speed limit of 1024 B\/s/);
    expect(source.stats.retries).toBe(2);
    expect(performance.now() - t0).toBeLessThan(15_000); // did not hang
    await source.close();
    server.fault(undefined);
  });

  it('stays within a rate limit, whose waits never trip the low-speed rule', async () => {
    server.fault(undefined);
    // 100 000 bytes at 40 000 B/s: the bucket starts with one second of tokens, so at least 1.5 s;
    // a low-speed rule of 64 KiB/s over 0.5 s must see that the bodies waited for our limiter.
    const rule = { lowSpeedBytesPerSecond: 64 * 1024, lowSpeedSeconds: 0.5 };
    const source = new BlockStoreSource({ url: server.url, manifest, rateLimit: 40_000, maxInFlight: 2, timeouts: rule });
    const t0 = performance.now();
    const range = { start: 0, end: bytes.length };
    expectRanges(await collectRanges(source, [range]), [range], bytes);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1400);
    expect(source.stats.retries).toBe(0);
    await source.close();
  });

  it('follows a redirect and stops at a 404 naming the URL', async () => {
    server.fault((req, res) => {
      if (req.url?.startsWith('/old/') !== true) return false;
      res.writeHead(302, { location: req.url.slice('/old'.length) }).end();
      return true;
    });
    const source = new BlockStoreSource({ url: `${server.url}old`, ...quick });
    expectRanges(await collectRanges(source, [{ start: 0, end: 100_000 }]), [{ start: 0, end: 100_000 }], bytes);
    await source.close();
    const missing = new BlockStoreSource({ url: `${server.url}nowhere/`, ...quick });
    const bad = await failure(missing.manifest());
    expect(bad.code).toBe('ERR_BLOCKSOURCE_HTTP_STATUS');
    expect(bad.message).toContain(`${server.url}nowhere/${BLOCK_STORE_MANIFEST_NAME}`);
    expect(missing.stats.retries).toBe(0);
    await missing.close();
    server.fault(undefined);
  });
});
