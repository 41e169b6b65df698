import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlockSource, ByteRange, RangeData } from '@gosync/core';
import { collectRanges, errorCode, errorMessage } from '@gosync/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompressedSource,
  MAX_DICTIONARY_SIZE,
  artifactLength,
  compressBytes,
  compressFile,
  decodeLayout,
  decompressBytes,
  encodeLayout,
  groupArtifactRange,
  groupTargetRange,
  sampleDictionary,
} from './index.js';
import type { CompressedLayout } from './index.js';

/** Text-like bytes: lines drawn from a small vocabulary, so groups share their strings. */
function text(length: number, seed = 3): Uint8Array {
  const words = ['export', 'declare', 'function', 'interface', 'readonly', 'string', 'number', 'Promise<void>', '(', ')', ';\n'];
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; ) {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    const word = `${words[x % words.length] ?? ''}${(x >>> 24) % 5 === 0 ? String(x % 97) : ''} `;
    for (let j = 0; j < word.length && i < length; j++) out[i++] = word.charCodeAt(j);
  }
  return out;
}



/** A BlockSource over bytes that counts its fetch calls. */
class CountingSource implements BlockSource {
  calls = 0;
  constructor(readonly bytes: Uint8Array) {}
  async *fetch(ranges: readonly ByteRange[]): AsyncGenerator<RangeData> {
    this.calls++;
    for (const range of ranges) {
      await Promise.resolve();
      yield { range, data: this.bytes.slice(range.start, range.end) };
    }
  }
}


let dir: string;
let input: string;
const target = text(600_000 + 77);
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gosync-compress-dictionary-'));
  input = join(dir, 'target.txt');
  await writeFile(input, target);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sampleDictionary', () => {
  it('takes evenly spaced pieces in file order', async () => {
    const dictionary = await sampleDictionary(input, { size: 1100, pieceSize: 256 });
    expect(dictionary.length).toBe(1024);
    const step = Math.floor(target.length / 4);
    for (let i = 0; i < 4; i++) {
      expect(Buffer.from(dictionary.subarray(i * 256, (i + 1) * 256)).equals(target.subarray(i * step, i * step + 256))).toBe(true);
    }
    expect((await sampleDictionary(input, { size: 16_384 })).length).toBe(16_384);
  });

  it('gives a small file a smaller dictionary, and none below 16 pieces of file per piece', async () => {
    const small = join(dir, 'small.txt');
    await writeFile(small, target.subarray(0, 40_000));
    expect((await sampleDictionary(small, { size: 16_384 })).length).toBe(9 * 256); // ⌊40 000 / 4096⌋ pieces
    await writeFile(small, target.subarray(0, 4095));
    expect((await sampleDictionary(small, { size: 16_384 })).length).toBe(0);
    expect((await sampleDictionary(input, { size: 0 })).length).toBe(0);
  });

  it('rejects bad sizes and a missing file by code, and rethrows an abort', async () => {
    for (const options of [{ size: -1 }, { size: 1.5 }, { size: MAX_DICTIONARY_SIZE + 1 }, { size: 1024, pieceSize: 0 }]) {
      expect(await errorCode(() => sampleDictionary(input, options))).toBe('ERR_COMPRESS_INVALID_OPTION');
    }
    expect(await errorCode(() => sampleDictionary(join(dir, 'missing'), { size: 1024 }))).toBe('ERR_COMPRESS_IO');
    const reason = new Error('stop');
    await expect(sampleDictionary(input, { size: 1024, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });
});

describe('compressBytes and decompressBytes with a dictionary', () => {
  it('round-trip with a raw-content dictionary, which makes small frames smaller', async () => {
    const dictionary = await sampleDictionary(input, { size: 16_384 });
    const group = target.subarray(300_000, 304_096);
    const plain = await compressBytes('zstd', group);
    const withDictionary = await compressBytes('zstd', group, { dictionary });
    expect(withDictionary.length).toBeLessThan(plain.length);
    const back = await decompressBytes('zstd', withDictionary, { size: group.length, dictionary });
    expect(Buffer.from(back).equals(group)).toBe(true);
    // The frame refers to the dictionary's bytes: without them it cannot decode.
    expect(await errorCode(() => decompressBytes('zstd', withDictionary, { size: group.length }))).toBe('ERR_COMPRESS_CORRUPT');
  });

  it('rejects a dictionary with another codec, an empty or oversized one, and one zstd refuses', async () => {
    const dictionary = new Uint8Array(1000).fill(65);
    expect(await errorCode(() => compressBytes('gzip', target.subarray(0, 100), { dictionary }))).toBe('ERR_COMPRESS_INVALID_OPTION');
    expect(await errorCode(() => decompressBytes('brotli', new Uint8Array(10), { size: 10, dictionary }))).toBe('ERR_COMPRESS_INVALID_OPTION');
    expect(await errorCode(() => compressBytes('zstd', target.subarray(0, 100), { dictionary: new Uint8Array(0) }))).toBe('ERR_COMPRESS_INVALID_OPTION');
    expect(await errorCode(() => compressBytes('zstd', target.subarray(0, 100), { dictionary: new Uint8Array(MAX_DICTIONARY_SIZE + 1) }))).toBe(
      'ERR_COMPRESS_INVALID_OPTION',
    );
    // zstd's dictionary magic followed by no valid entropy tables.
    const broken = new Uint8Array(600).fill(7);
    broken.set([0x37, 0xa4, 0x30, 0xec, 9, 0, 0, 0]);
    expect(await errorCode(() => compressBytes('zstd', target.subarray(0, 5000), { dictionary: broken }))).toBe('ERR_COMPRESS_INVALID_OPTION');
  });
});

describe('compressFile with a dictionary', () => {
  let dictionary: Uint8Array;
  let layout: CompressedLayout;
  let artifact: Uint8Array;
  beforeAll(async () => {
    dictionary = await sampleDictionary(input, { size: 8192 });
    layout = await compressFile(input, join(dir, 'with.gsz'), { blockSize: 2048, blocksPerGroup: 2, dictionary, workers: 0 });
    artifact = new Uint8Array(await readFile(join(dir, 'with.gsz'))); // a copy whose slice() copies, unlike a Buffer's
  });

  it('writes the dictionary first and references it from the layout', async () => {
    expect(layout.dictionary).toEqual({ id: 0, length: 8192, sha256: new Uint8Array(createHash('sha256').update(dictionary).digest()) });
    expect(Buffer.from(artifact.subarray(0, 8192)).equals(dictionary)).toBe(true);
    expect(artifact.length).toBe(artifactLength(layout));
    expect(artifactLength(layout)).toBe(8192 + layout.sizes.reduce((a, b) => a + b, 0));
    expect(groupArtifactRange(layout, 0)).toEqual({ start: 8192, end: 8192 + (layout.sizes[0] as number) });
    expect(decodeLayout(encodeLayout(layout))).toEqual(layout);
    for (let g = 0; g < layout.sizes.length; g += 17) {
      const t = groupTargetRange(layout, g);
      const a = groupArtifactRange(layout, g);
      const plain = await decompressBytes('zstd', artifact.subarray(a.start, a.end), { size: t.end - t.start, dictionary });
      expect(Buffer.from(plain).equals(target.subarray(t.start, t.end))).toBe(true);
    }
    const without = await compressFile(input, join(dir, 'without.gsz'), { blockSize: 2048, blocksPerGroup: 2, workers: 0 });
    expect(artifactLength(layout)).toBeLessThan(artifactLength(without));
  });

  it('workers write the same artifact', async () => {
    const pooled = await compressFile(input, join(dir, 'pooled.gsz'), { blockSize: 2048, blocksPerGroup: 2, dictionary, workers: 2 });
    expect(pooled).toEqual(layout);
    expect(Buffer.from(await readFile(join(dir, 'pooled.gsz'))).equals(artifact)).toBe(true);
  });

  it('CompressedSource fetches the dictionary once, checks it and reads any range', async () => {
    const inner = new CountingSource(artifact);
    const source = new CompressedSource({ layout: decodeLayout(encodeLayout(layout)), artifact: inner });
    const first = await collectRanges(source, [{ start: 100_000, end: 100_010 }]);
    expect(Buffer.from(first[0]?.data ?? []).equals(target.subarray(100_000, 100_010))).toBe(true);
    expect(inner.calls).toBe(2); // the dictionary, then the group
    const all = await collectRanges(source, [{ start: 0, end: target.length }]);
    expect(Buffer.from(all[0]?.data ?? []).equals(target)).toBe(true);
    expect(inner.calls).toBe(3);
    expect(await collectRanges(new CompressedSource({ layout, artifact: inner }), [{ start: 5, end: 5 }])).toHaveLength(1);
    expect(inner.calls).toBe(3); // no group wanted: no dictionary either
  });

  it('a damaged or mismatched dictionary is ERR_COMPRESS_CORRUPT naming the dictionary; a short one ERR_COMPRESS_SOURCE', async () => {
    const damaged = artifact.slice();
    damaged[100] = (damaged[100] as number) ^ 1;
    const read = (bytes: Uint8Array, l: CompressedLayout = layout) => () =>
      collectRanges(new CompressedSource({ layout: l, artifact: new CountingSource(bytes), name: 'test.gsz' }), [{ start: 0, end: 10 }]);
    expect(await errorCode(read(damaged))).toBe('ERR_COMPRESS_CORRUPT');
    expect(await errorMessage(read(damaged))).toMatch(/^test\.gsz: the zstd dictionary \(artifact \[0, 8192\)\): SHA-256 [0-9a-f]{64}, the layout expects/);
    // Another dictionary of the same length: its SHA-256 is not the layout's.
    const other = await sampleDictionary(input, { size: 8192, pieceSize: 512 });
    const swapped = artifact.slice();
    swapped.set(other, 0);
    expect(await errorCode(read(swapped))).toBe('ERR_COMPRESS_CORRUPT');
    expect(await errorCode(read(artifact, { ...layout, dictionary: { id: 5, length: 8192, sha256: layout.dictionary?.sha256 ?? new Uint8Array(32) } }))).toBe(
      'ERR_COMPRESS_CORRUPT',
    );
    const short: BlockSource = {
      async *fetch(ranges: readonly ByteRange[]) {
        await Promise.resolve();
        for (const range of ranges) yield { range, data: artifact.slice(range.start, range.end - 1) };
      },
    };
    expect(await errorCode(() => collectRanges(new CompressedSource({ layout, artifact: short }), [{ start: 0, end: 10 }]))).toBe('ERR_COMPRESS_SOURCE');
    // A source that recovers is asked again: a failed load is not kept.
    let fail = true;
    const flaky: BlockSource = {
      async *fetch(ranges: readonly ByteRange[]) {
        await Promise.resolve();
        for (const range of ranges) yield { range, data: fail ? damaged.slice(range.start, range.end) : artifact.slice(range.start, range.end) };
      },
    };
    const source = new CompressedSource({ layout, artifact: flaky });
    expect(await errorCode(() => collectRanges(source, [{ start: 0, end: 10 }]))).toBe('ERR_COMPRESS_CORRUPT');
    fail = false;
    expect(Buffer.from((await collectRanges(source, [{ start: 0, end: 10 }]))[0]?.data ?? []).equals(target.subarray(0, 10))).toBe(true);
  });

  it('rejects a dictionary with another codec and an oversized reference by code', async () => {
    expect(await errorCode(() => compressFile(input, join(dir, 'bad.gsz'), { blockSize: 2048, codec: 'gzip', dictionary }))).toBe('ERR_COMPRESS_INVALID_OPTION');
    expect(await errorCode(() => compressFile(input, join(dir, 'bad.gsz'), { blockSize: 2048, dictionary: new Uint8Array(0) }))).toBe(
      'ERR_COMPRESS_INVALID_OPTION',
    );
    const reference = { id: 0, length: MAX_DICTIONARY_SIZE + 1, sha256: new Uint8Array(32) };
    expect(await errorCode(() => encodeLayout({ ...layout, dictionary: reference }))).toBe('ERR_COMPRESS_LAYOUT');
    expect(await errorCode(() => encodeLayout({ ...layout, codec: 'brotli', level: 5 }))).toBe('ERR_COMPRESS_LAYOUT');
  });
});
