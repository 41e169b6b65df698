import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { fc, test } from '@fast-check/vitest';
import { isGosyncError } from '@gosync/core';
import type { BlockSource, ByteRange, RangeData } from '@gosync/core';
import { collectRanges, errorCode } from '@gosync/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COMPRESSION_CODECS,
  CompressedSource,
  artifactLength,
  compressBytes,
  compressFile,
  decodeLayout,
  decompressBytes,
  encodeLayout,
  groupArtifactRange,
  groupTargetRange,
  layoutRangesFor,
} from './index.js';
import type { CompressedLayout, CompressionCodec } from './index.js';

/** Compressible, deterministic bytes: words from a small vocabulary with a counter. */
function sample(length: number, seed = 1): Uint8Array {
  const words = ['export', 'function', 'const', 'return', 'interface', 'type', 'import', '{', '}', ';', '\n'];
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; ) {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    const word = `${words[x % words.length] ?? ''}${(x >>> 20) % 7 === 0 ? String(x % 1000) : ''} `;
    for (let j = 0; j < word.length && i < length; j++) out[i++] = word.charCodeAt(j);
  }
  return out;
}

/** A minimal BlockSource over bytes (compress may not import @gosync/blocksources). */
class BytesSource implements BlockSource {
  closed = false;
  constructor(readonly bytes: Uint8Array, readonly tamper?: (range: ByteRange, data: Uint8Array) => Uint8Array) {}
  async *fetch(ranges: readonly ByteRange[], options: { signal?: AbortSignal | undefined } = {}): AsyncGenerator<RangeData> {
    for (const range of [...ranges].reverse()) {
      options.signal?.throwIfAborted();
      const data = this.bytes.slice(range.start, range.end);
      yield { range, data: this.tamper ? this.tamper(range, data) : data };
      await Promise.resolve();
    }
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}



async function* chunked(bytes: Uint8Array, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  await Promise.resolve();
  let i = 0;
  for (let offset = 0; offset < bytes.length; i++) {
    const n = sizes[i % sizes.length] ?? 1;
    yield bytes.subarray(offset, offset + n);
    offset += n;
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gosync-compress-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const target = sample(300_000 + 123);

describe.each(COMPRESSION_CODECS.map((c) => [c]))('%s', (codec: CompressionCodec) => {
  it('round-trips bytes, including empty input', async () => {
    for (const input of [new Uint8Array(0), sample(1), sample(70_000, 3)]) {
      const frame = await compressBytes(codec, input);
      const back = await decompressBytes(codec, frame, { size: input.length });
      expect(Buffer.from(back).equals(Buffer.from(input))).toBe(true);
    }
  });

  it('writes an artifact whose groups inflate to the target, with a short last group', async () => {
    const path = join(dir, `artifact.${codec}`);
    const events: number[] = [];
    const layout = await compressFile(chunked(target, [1, 4095, 70_000, 333]), path, {
      codec,
      level: codec === 'brotli' ? 4 : undefined,
      blockSize: 4096,
      blocksPerGroup: 4,
      onProgress: (e) => events.push(e.done),
    });
    expect(layout).toMatchObject({ codec, blockSize: 4096, groupSize: 16_384, length: target.length });
    expect(layout.sizes.length).toBe(Math.ceil(target.length / 16_384));
    expect(events.at(-1)).toBe(target.length);
    const artifact = await readFile(path);
    expect(artifact.length).toBe(artifactLength(layout));
    expect(artifactLength(layout)).toBeLessThan(target.length / 2);
    for (let g = 0; g < layout.sizes.length; g++) {
      const t = groupTargetRange(layout, g);
      const a = groupArtifactRange(layout, g);
      const plain = await decompressBytes(codec, artifact.subarray(a.start, a.end), { size: t.end - t.start });
      expect(Buffer.from(plain).equals(Buffer.from(target.subarray(t.start, t.end)))).toBe(true);
    }
    expect(decodeLayout(encodeLayout(layout))).toEqual(layout);
    const fromPath = await compressFile(path.replace(/artifact/, 'x') === path ? path : await writeTemp(target), join(dir, `b.${codec}`), {
      codec,
      level: codec === 'brotli' ? 4 : undefined,
      blockSize: 4096,
      blocksPerGroup: 4,
    });
    expect(fromPath.sizes).toEqual(layout.sizes);
  });

  it('compresses an empty input to an empty artifact', async () => {
    const path = join(dir, `empty.${codec}`);
    const layout = await compressFile(chunked(new Uint8Array(0), [1]), path, { codec, blockSize: 1024 });
    expect(layout.length).toBe(0);
    expect(layout.sizes.length).toBe(0);
    expect((await readFile(path)).length).toBe(0);
    const source = new CompressedSource({ layout, artifact: new BytesSource(new Uint8Array(0)) });
    expect(await collectRanges(source, [{ start: 0, end: 0 }])).toEqual([{ range: { start: 0, end: 0 }, data: new Uint8Array(0) }]);
  });

  it('rejects a frame that inflates past the recorded size, and a damaged frame', async () => {
    const big = new Uint8Array(8 << 20);
    const bomb = codec === 'gzip' ? gzipSync(big) : codec === 'brotli' ? brotliCompressSync(big) : await compressBytes('zstd', big);
    expect(await errorCode(decompressBytes(codec, bomb, { size: 65_536 }))).toBe('ERR_COMPRESS_TOO_LARGE');
    const frame = await compressBytes(codec, sample(50_000));
    expect(await errorCode(decompressBytes(codec, frame.subarray(0, frame.length - 9), { size: 50_000 }))).toBe('ERR_COMPRESS_CORRUPT');
    const badMagic = frame.slice();
    badMagic[0] = (badMagic[0] as number) ^ 0xff;
    expect(await errorCode(decompressBytes(codec, badMagic, { size: 50_000 }))).toMatch(/ERR_COMPRESS_(CORRUPT|TOO_LARGE)/);
    expect(await errorCode(decompressBytes(codec, frame, { size: 50_001 }))).toBe('ERR_COMPRESS_CORRUPT');
    const twice = new Uint8Array(frame.length * 2);
    twice.set(frame);
    twice.set(frame, frame.length);
    expect(await errorCode(decompressBytes(codec, twice, { size: 50_000 }))).toMatch(/ERR_COMPRESS_(CORRUPT|TOO_LARGE)/);
  });
});

let tempCount = 0;
async function writeTemp(bytes: Uint8Array): Promise<string> {
  const { writeFile } = await import('node:fs/promises');
  const path = join(dir, `input-${tempCount++}.bin`);
  await writeFile(path, bytes);
  return path;
}

describe('CompressedSource', () => {
  let layout: CompressedLayout;
  let artifact: Uint8Array;
  beforeAll(async () => {
    const path = join(dir, 'source.zst');
    layout = await compressFile(await writeTemp(target), path, { blockSize: 1000, blocksPerGroup: 7 });
    artifact = await readFile(path);
  });

  // Disjoint, as the BlockSource contract requires: a range starts at most 2 bytes into its
  // thousand and ends at most 999 bytes in, before the next one starts.
  const arbRanges = fc
    .uniqueArray(fc.nat({ max: 299 }), { maxLength: 10 })
    .chain((starts) =>
      fc.tuple(...starts.map((s) => fc.nat({ max: 997 }).map((len) => ({ start: s * 1000 + (s % 3), end: Math.min(s * 1000 + (s % 3) + len, target.length) })))),
    );

  test.prop([arbRanges, fc.boolean()])('yields exactly the target bytes of every requested range', async (ranges, withVerifier) => {
    let verified = 0;
    const source = new CompressedSource({
      layout,
      artifact: new BytesSource(artifact),
      ...(withVerifier ? { verifier: { verify: (r: ByteRange, d: Uint8Array) => (verified++, Buffer.from(d).equals(Buffer.from(target.subarray(r.start, r.end)))) } } : {}),
    });
    const got = await collectRanges(source, ranges);
    expect(got.map((g) => g.range).sort((a, b) => a.start - b.start || a.end - b.end)).toEqual(
      [...ranges].sort((a, b) => a.start - b.start || a.end - b.end),
    );
    for (const { range, data } of got) expect(Buffer.from(data).equals(Buffer.from(target.subarray(range.start, range.end)))).toBe(true);
    if (withVerifier) expect(verified).toBe(ranges.filter((r) => r.end > r.start).length);
  });

  it('reads the whole target and ranges that cross groups', async () => {
    const source = new CompressedSource({ layout, artifact: new BytesSource(artifact) });
    const [whole] = await collectRanges(source, [{ start: 0, end: target.length }]);
    expect(Buffer.from(whole!.data).equals(Buffer.from(target))).toBe(true);
    const parts = await collectRanges(source, [{ start: 6999, end: 7001 }, { start: 7001, end: 21_001 }]);
    expect(parts.map((p) => p.data.length)).toEqual([2, 14_000]);
    await source.close();
    expect(await errorCode(collectRanges(source, [{ start: 0, end: 1 }]))).toBe('ERR_COMPRESS_CLOSED');
  });

  it('names the group, its target range and its artifact range for a corrupt or oversized frame', async () => {
    const a = groupArtifactRange(layout, 3);
    const damaged = artifact.slice();
    damaged[a.start] = 0;
    const source = new CompressedSource({ layout, artifact: new BytesSource(damaged) });
    const error = await collectRanges(source, [{ start: 21_000, end: 21_010 }]).catch((e: unknown) => e);
    expect(isGosyncError(error, 'ERR_COMPRESS_CORRUPT')).toBe(true);
    expect((error as Error).message).toContain(`group 3 (target [21000, 28000), artifact [${a.start}, ${a.end}))`);

    // A bomb: a tiny zstd frame of RLE blocks that declares 7000 bytes but inflates to 128 MiB.
    const rle = [0x28, 0xb5, 0x2f, 0xfd, 0x20 | 0x40, 7000 - 256 & 0xff, (7000 - 256) >> 8];
    for (let i = 0; i < 1024; i++) {
      const header = ((128 * 1024) << 3) | (1 << 1) | (i === 1023 ? 1 : 0);
      rle.push(header & 0xff, (header >> 8) & 0xff, header >> 16, 0x41);
    }
    const bomb = Uint8Array.from(rle);
    const bombLayout: CompressedLayout = { ...layout, length: 7000, sizes: Uint32Array.of(bomb.length) };
    const bombSource = new CompressedSource({ layout: bombLayout, artifact: new BytesSource(bomb) });
    const boom = await collectRanges(bombSource, [{ start: 0, end: 10 }]).catch((e: unknown) => e);
    expect(isGosyncError(boom, 'ERR_COMPRESS_TOO_LARGE')).toBe(true);
    expect((boom as Error).message).toContain(`group 0 (target [0, 7000), artifact [0, ${bomb.length}))`);

    // A gzip bomb: 4 MiB of zeros (4 KiB compressed) in a group that records 7000 bytes.
    const gz = gzipSync(new Uint8Array(4 << 20));
    const gzLayout: CompressedLayout = { ...layout, codec: 'gzip', level: 6, length: 7000, sizes: Uint32Array.of(gz.length) };
    expect(await errorCode(collectRanges(new CompressedSource({ layout: gzLayout, artifact: new BytesSource(gz) }), [{ start: 0, end: 1 }]))).toBe(
      'ERR_COMPRESS_TOO_LARGE',
    );
  });

  it('rejects bad ranges, a lying inner source and bytes that fail the verifier by code', async () => {
    const source = new CompressedSource({ layout, artifact: new BytesSource(artifact) });
    expect(await errorCode(collectRanges(source, [{ start: 5, end: 2 }]))).toBe('ERR_COMPRESS_INVALID_RANGE');
    expect(await errorCode(collectRanges(source, [{ start: 0, end: target.length + 1 }]))).toBe('ERR_COMPRESS_INVALID_RANGE');
    expect(await errorCode(collectRanges(source, [{ start: 0, end: 10 }, { start: 5, end: 20 }]))).toBe('ERR_COMPRESS_INVALID_RANGE');
    const short = new CompressedSource({ layout, artifact: new BytesSource(artifact, (_r, d) => d.subarray(1)) });
    expect(await errorCode(collectRanges(short, [{ start: 0, end: 10 }]))).toBe('ERR_COMPRESS_SOURCE');
    const liar: BlockSource = {
      async *fetch() {
        await Promise.resolve();
        yield { range: { start: 1, end: 2 }, data: new Uint8Array(1) };
      },
    };
    expect(await errorCode(collectRanges(new CompressedSource({ layout, artifact: liar }), [{ start: 0, end: 10 }]))).toBe('ERR_COMPRESS_SOURCE');
    const silent: BlockSource = { async *fetch() {} };
    expect(await errorCode(collectRanges(new CompressedSource({ layout, artifact: silent }), [{ start: 0, end: 10 }]))).toBe('ERR_COMPRESS_SOURCE');
    const strict = new CompressedSource({ layout, artifact: new BytesSource(artifact), verifier: { verify: () => false } });
    expect(await errorCode(collectRanges(strict, [{ start: 0, end: 10 }]))).toBe('ERR_COMPRESS_VERIFY_FAILED');
    expect(() => new CompressedSource({ layout: { ...layout, sizes: new Uint32Array(1) }, artifact: new BytesSource(artifact) })).toThrow(
      expect.objectContaining({ code: 'ERR_COMPRESS_LAYOUT' }),
    );
    const dictionary = { id: 7, length: 100, sha256: new Uint8Array(32) };
    expect(() => new CompressedSource({ layout: { ...layout, codec: 'gzip', dictionary }, artifact: new BytesSource(artifact) })).toThrow(
      expect.objectContaining({ code: 'ERR_COMPRESS_LAYOUT' }),
    );
  });

  it('rethrows the abort reason unchanged', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    controller.abort(reason);
    const source = new CompressedSource({ layout, artifact: new BytesSource(artifact) });
    await expect(collectRanges(source, [{ start: 0, end: 10 }], controller.signal)).rejects.toBe(reason);
    const later = new AbortController();
    const iterator = source.fetch([{ start: 0, end: 10 }, { start: 200_000, end: 200_010 }], { signal: later.signal })[Symbol.asyncIterator]();
    await iterator.next();
    later.abort(reason);
    await expect(iterator.next()).rejects.toBe(reason);
  });
});

describe('compressFile', () => {
  it('rethrows the abort reason and leaves no artifact or temporary file', async () => {
    const sub = await mkdtemp(join(dir, 'abort-'));
    const controller = new AbortController();
    const reason = new Error('stop');
    const path = join(sub, 'artifact');
    await expect(
      compressFile(chunked(target, [10_000]), path, {
        blockSize: 4096,
        signal: controller.signal,
        onProgress: (e) => {
          if (e.done > 100_000) controller.abort(reason);
        },
      }),
    ).rejects.toBe(reason);
    expect(existsSync(path)).toBe(false);
    expect(await readdir(sub)).toEqual([]);
  });

  it('rejects bad options and a missing input by code', async () => {
    const path = join(dir, 'bad');
    const input = await writeTemp(sample(10));
    expect(await errorCode(compressFile(input, path, { blockSize: 0 }))).toBe('ERR_COMPRESS_INVALID_OPTION');
    expect(await errorCode(compressFile(input, path, { blockSize: 1024, blocksPerGroup: 1.5 }))).toBe('ERR_COMPRESS_INVALID_OPTION');
    expect(await errorCode(compressFile(input, path, { blockSize: 1024, codec: 'lz4' as CompressionCodec }))).toBe('ERR_COMPRESS_INVALID_OPTION');
    expect(await errorCode(compressFile(input, path, { blockSize: 1024, codec: 'gzip', level: 10 }))).toBe('ERR_COMPRESS_INVALID_OPTION');
    expect(await errorCode(compressFile(join(dir, 'missing'), path, { blockSize: 1024 }))).toBe('ERR_COMPRESS_IO');
  });
});

describe('layout', () => {
  const GiB = 2 ** 30;
  const groupSize = 2 ** 26;
  const length = 5 * GiB + 12_345;
  const count = Math.ceil(length / groupSize);
  const big: CompressedLayout = {
    codec: 'zstd',
    level: 3,
    blockSize: 4096,
    groupSize,
    length,
    sizes: Uint32Array.from({ length: count }, (_, g) => (g === count - 1 ? 1000 : 60_000_000 + g)),
  };

  it('maps ranges past 4 GiB with numbers, merging adjacent groups', () => {
    expect(count).toBe(81);
    const offset = (g: number): number => g * 60_000_000 + (g * (g - 1)) / 2;
    expect(artifactLength(big)).toBe(offset(80) + 1000);
    expect(artifactLength(big)).toBeGreaterThan(2 ** 32);
    expect(groupTargetRange(big, 80)).toEqual({ start: 80 * groupSize, end: length });
    const spans = layoutRangesFor(big, [
      { start: 5 * GiB + 10, end: 5 * GiB + 20 },
      { start: 4 * GiB - 1, end: 4 * GiB + 1 },
      { start: 3, end: 3 },
      { start: 65 * groupSize - 1, end: 65 * groupSize },
    ]);
    expect(spans).toEqual([
      { artifactRange: { start: offset(63), end: offset(65) }, targetRange: { start: 63 * groupSize, end: 65 * groupSize }, groups: [63, 64] },
      { artifactRange: { start: offset(80), end: offset(80) + 1000 }, targetRange: { start: 80 * groupSize, end: length }, groups: [80] },
    ]);
    expect(layoutRangesFor(big, [{ start: 0, end: 1 }, { start: groupSize, end: groupSize + 1 }])).toHaveLength(1);
    expect(() => layoutRangesFor(big, [{ start: 0, end: length + 1 }])).toThrow(expect.objectContaining({ code: 'ERR_COMPRESS_INVALID_RANGE' }));
    const decoded = decodeLayout(encodeLayout(big));
    expect(decoded).toEqual(big);
    expect(decoded.length).toBe(length);
  });

  test.prop([fc.integer({ min: 0, max: 50_000 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 8 }), fc.boolean()])(
    'encodes and decodes any consistent layout',
    (len, blockSize, blocksPerGroup, withDictionary) => {
      const gs = blockSize * blocksPerGroup;
      const n = Math.ceil(len / gs);
      const layout: CompressedLayout = {
        codec: withDictionary ? 'zstd' : 'brotli',
        level: 11,
        blockSize,
        groupSize: gs,
        length: len,
        sizes: Uint32Array.from({ length: n }, (_, g) => 1 + ((g * 7919) % Math.min(gs, len - g * gs))),
        ...(withDictionary ? { dictionary: { id: 42, length: 1000, sha256: new Uint8Array(32).fill(9) } } : {}),
      };
      expect(decodeLayout(encodeLayout(layout))).toEqual(layout);
    },
  );

  it('rejects every truncation, every damaged byte, trailing bytes and too many groups by code', () => {
    const layout: CompressedLayout = { ...big, length: 10 * groupSize + 5, sizes: Uint32Array.from({ length: 11 }, (_, g) => (g === 10 ? 500 : 1000 + g * 300)) };
    const bytes = encodeLayout(layout);
    for (let n = 0; n < bytes.length; n++) {
      expect(() => decodeLayout(bytes.subarray(0, n))).toThrow(expect.objectContaining({ code: 'ERR_COMPRESS_LAYOUT' }));
    }
    for (let i = 0; i < bytes.length; i++) {
      const damaged = bytes.slice();
      damaged[i] = (damaged[i] as number) ^ 0x10;
      let code = 'no error';
      try {
        decodeLayout(damaged);
      } catch (e) {
        code = isGosyncError(e) ? e.code : 'not a GosyncError';
      }
      expect(['ERR_COMPRESS_LAYOUT', 'ERR_COMPRESS_LAYOUT_UNSUPPORTED']).toContain(code);
    }
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(() => decodeLayout(longer)).toThrow(expect.objectContaining({ code: 'ERR_COMPRESS_LAYOUT' }));
    expect(() => decodeLayout(bytes, { maxGroups: 10 })).toThrow(expect.objectContaining({ code: 'ERR_COMPRESS_LAYOUT' }));
    const newer = bytes.slice();
    newer[8] = 2;
    expect(() => decodeLayout(newer)).toThrow(expect.objectContaining({ code: 'ERR_COMPRESS_LAYOUT_UNSUPPORTED' }));
    expect(() => encodeLayout({ ...layout, sizes: new Uint32Array(11) })).toThrow(expect.objectContaining({ code: 'ERR_COMPRESS_LAYOUT' }));
  });
});
