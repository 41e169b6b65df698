import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorCode } from '@gosync/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPRESSION_CODECS, compressFile, decompressBytes, defaultGroupSize, groupArtifactRange, groupTargetRange } from './index.js';
import type { CompressedLayout, CompressionCodec } from './index.js';

/** Compressible, deterministic bytes with some noise, so frames differ in size. */
function sample(length: number, seed = 7): Uint8Array {
  const words = ['group', 'frame', 'worker', 'batch', 'artifact', 'layout', '\n', ' ', '{', '}'];
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; ) {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    const word = (x >>> 28) === 0 ? String.fromCharCode(33 + ((x >>> 8) % 90)) : `${words[x % words.length] ?? ''} `;
    for (let j = 0; j < word.length && i < length; j++) out[i++] = word.charCodeAt(j);
  }
  return out;
}


async function* chunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += size) {
    await Promise.resolve();
    yield bytes.subarray(offset, offset + size);
  }
}

async function expectInflatesTo(layout: CompressedLayout, artifact: Uint8Array, target: Uint8Array): Promise<void> {
  for (let g = 0; g < layout.sizes.length; g++) {
    const t = groupTargetRange(layout, g);
    const a = groupArtifactRange(layout, g);
    const plain = await decompressBytes(layout.codec, artifact.subarray(a.start, a.end), { size: t.end - t.start });
    expect(Buffer.from(plain).equals(target.subarray(t.start, t.end))).toBe(true);
  }
}

let dir: string;
let input: string;
// Several batches of 4 KiB groups, and a short last group.
const target = sample(1_100_000 + 321);
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gosync-compress-file-'));
  input = join(dir, 'target.bin');
  await writeFile(input, target);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('defaultGroupSize', () => {
  it.each([
    [0, 2048, 4096],
    [1, 2048, 4096],
    [23_730_688, 2048, 4096], // the TypeScript tarballs of the benchmark
    [33_554_431, 2048, 4096],
    [33_554_432, 2048, 8192], // 4096 groups of 8 KiB
    [100_000_000, 2048, 16_384],
    [268_435_456, 4096, 65_536],
    [557_579_264, 4096, 131_072], // the 557 MB benchmark pair
    [10 * 2 ** 30, 8192, 131_072], // clamped
    [2 ** 53 - 1, 2 ** 20, 2 ** 20], // at least one block
    [23_730_688, 3000, 3000], // whole blocks, rounded down
    [557_579_264, 3000, 129_000],
    [557_579_264, 1, 131_072],
  ])('a %i-byte target with %i-byte blocks gets %i-byte groups', (length, blockSize, expected) => {
    const size = defaultGroupSize(length, blockSize);
    expect(size).toBe(expected);
    expect(size % blockSize).toBe(0);
  });

  it('rejects bad lengths and block sizes by code', async () => {
    for (const [length, blockSize] of [[-1, 4096], [1.5, 4096], [Number.NaN, 4096], [2 ** 53, 4096], [1000, 0], [1000, 2 ** 26 + 1], [1000, 2.5]] as const) {
      expect(await errorCode(() => defaultGroupSize(length, blockSize))).toBe('ERR_COMPRESS_INVALID_OPTION');
    }
  });
});

describe('compressFile', () => {
  it('picks the group size from the file size for a path, 64 KiB for a stream', async () => {
    const fromPath = await compressFile(input, join(dir, 'default-path.gsz'), { blockSize: 2048, workers: 0 });
    expect(fromPath.groupSize).toBe(defaultGroupSize(target.length, 2048));
    expect(fromPath.groupSize).toBe(4096);
    const fromStream = await compressFile(chunks(target, 50_000), join(dir, 'default-stream.gsz'), { blockSize: 2048 });
    expect(fromStream.groupSize).toBe(65_536);
  });

  it.each(COMPRESSION_CODECS.map((c) => [c]))('%s: workers write the same artifact as the calling thread, for any batch size', async (codec: CompressionCodec) => {
    const options = { codec, blockSize: 1024, blocksPerGroup: 4, level: codec === 'brotli' ? 4 : undefined };
    const single = await compressFile(input, join(dir, `single.${codec}`), { ...options, workers: 0 });
    const artifact = await readFile(join(dir, `single.${codec}`));
    expect(single.sizes.length).toBe(Math.ceil(target.length / 4096));
    await expectInflatesTo(single, artifact, target);
    for (const [workers, concurrency] of [[2, undefined], [3, 1], [1, 7], [0, 3]] as const) {
      const name = join(dir, `w${workers}-c${String(concurrency)}.${codec}`);
      const layout = await compressFile(input, name, { ...options, workers, concurrency });
      expect(layout).toEqual(single);
      expect(Buffer.from(await readFile(name)).equals(artifact)).toBe(true);
    }
    const streamed = await compressFile(chunks(target, 33_333), join(dir, `stream.${codec}`), { ...options, workers: 2 });
    expect(streamed).toEqual(single);
    expect(Buffer.from(await readFile(join(dir, `stream.${codec}`))).equals(artifact)).toBe(true);
    // Workers start through tsx: on 2 vCPUs shared with every other package's tests, well past 5 s.
  }, 60_000);

  it('rejects bad workers and concurrency by code', async () => {
    for (const workers of [-1, 65, 1.5]) {
      expect(await errorCode(() => compressFile(input, join(dir, 'bad'), { blockSize: 1024, workers }))).toBe('ERR_COMPRESS_INVALID_OPTION');
    }
    for (const concurrency of [0, 65_537, 2.5]) {
      expect(await errorCode(() => compressFile(input, join(dir, 'bad'), { blockSize: 1024, concurrency }))).toBe('ERR_COMPRESS_INVALID_OPTION');
    }
  });
});
