/**
 * Chooses the zstd package for Node < 22.15 and measures publishing: every candidate compresses
 * the new TypeScript tarball of the `ts-minor` corpus pair in independent 64 KiB groups (as an
 * artifact does); the table gives the compressed size as % of the input, and compress and
 * decompress speed in MB/s on one thread. Then the group-size trade-off, then `compressFile`
 * end to end. Run with `pnpm --filter @gosync/compress bench`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { corpusPair } from '@gosync/testkit/corpus';
import { compressFile } from './compress-file.js';
import { zstdBackend } from './codecs.js';

type Candidate = {
  name: string;
  compress: (data: Buffer) => Uint8Array;
  decompress: (frame: Uint8Array, size: number) => Uint8Array;
};

const pair = await corpusPair('ts-minor');
const input = await readFile(pair.new);
const cut = (size: number): Buffer[] => {
  const groups: Buffer[] = [];
  for (let i = 0; i < input.length; i += size) groups.push(input.subarray(i, i + size));
  return groups;
};
const groups = cut(65_536);
const mb = input.length / 1e6;

const bokuweb = await import('@bokuweb/zstd-wasm');
await bokuweb.init();
const { Zstd } = await import('@hpcc-js/wasm-zstd');
const hpcc = await Zstd.load();
const candidates: Candidate[] = [];
const wasm = (level: number): Candidate => ({
  name: `zstd ${level} · @bokuweb/zstd-wasm 0.0.27 (wasm)`,
  compress: (d) => bokuweb.compress(d, level),
  decompress: (f, n) => bokuweb.decompress(f, { defaultHeapSize: n }),
});
candidates.push(wasm(1), wasm(3), wasm(9), wasm(19));
candidates.push({
  name: 'zstd 3 · @hpcc-js/wasm-zstd 1.12.5 (wasm)',
  compress: (d) => hpcc.compress(d, 3),
  decompress: (f) => hpcc.decompress(f),
});
try {
  const native = await import('@toondepauw/node-zstd');
  const encoder = new native.Encoder(3);
  const decoder = new native.Decoder();
  candidates.push({
    name: 'zstd 3 · @toondepauw/node-zstd 1.2.0 (native, prebuilt)',
    compress: (d) => encoder.encodeSync(d),
    decompress: (f) => decoder.decodeSync(Buffer.from(f.buffer, f.byteOffset, f.byteLength)),
  });
} catch (error) {
  console.log(`skipped @toondepauw/node-zstd: ${String(error)}`);
}
const z = zlib as unknown as Record<string, unknown>;
if (typeof z.zstdCompressSync === 'function') {
  const c = z.zstdCompressSync as (d: Uint8Array, o: object) => Buffer;
  const d = z.zstdDecompressSync as (d: Uint8Array, o: object) => Buffer;
  candidates.push({
    name: 'zstd 3 · node:zlib',
    compress: (data) => c(data, { params: { 100: 3 }, pledgedSrcSize: data.length }),
    decompress: (f, n) => d(f, { maxOutputLength: n }),
  });
}
for (const level of [6, 9]) {
  candidates.push({
    name: `gzip ${level} · node:zlib`,
    compress: (d) => zlib.gzipSync(d, { level }),
    decompress: (f, n) => zlib.gunzipSync(f, { maxOutputLength: n }),
  });
}
for (const level of [5, 9, 11]) {
  candidates.push({
    name: `brotli ${level} · node:zlib`,
    compress: (d) => zlib.brotliCompressSync(d, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: level } }),
    decompress: (f, n) => zlib.brotliDecompressSync(f, { maxOutputLength: n }),
  });
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(`# @gosync/compress codecs — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${availableParallelism()} × ${cpu}`);
console.log(`input: ${pair.new} (${mb.toFixed(1)} MB), 64 KiB groups compressed independently, one thread\n`);
console.log('| codec · package | size % | compress MB/s | decompress MB/s |');
console.log('| --- | ---: | ---: | ---: |');
for (const c of candidates) {
  for (const g of groups.slice(0, 16)) c.decompress(c.compress(g), g.length); // warm-up
  let t = performance.now();
  const frames = groups.map((g) => c.compress(g));
  const ct = (performance.now() - t) / 1000;
  t = performance.now();
  for (let i = 0; i < frames.length; i++) {
    const out = c.decompress(frames[i] as Uint8Array, (groups[i] as Buffer).length);
    if (out.length !== (groups[i] as Buffer).length) throw new Error(`${c.name}: wrong length`);
  }
  const dt = (performance.now() - t) / 1000;
  const size = frames.reduce((sum, f) => sum + f.length, 0);
  console.log(`| ${c.name} | ${((100 * size) / input.length).toFixed(1)} | ${(mb / ct).toFixed(0)} | ${(mb / dt).toFixed(0)} |`);
}

console.log('\nGroup size (zstd 3, @bokuweb/zstd-wasm): one block per group fetches finest, larger groups compress better\n');
console.log('| group | size % |');
console.log('| ---: | ---: |');
for (const size of [4096, 16_384, 65_536, 262_144, 1_048_576]) {
  const total = cut(size).reduce((sum, g) => sum + bokuweb.compress(g, 3).length, 0);
  console.log(`| ${size / 1024} KiB | ${((100 * total) / input.length).toFixed(1)} |`);
}

console.log(`\ncompressFile (${pair.new} → artifact, blockSize 4096, 16 blocks per group, zstd backend ${zstdBackend()})\n`);
console.log('| codec | level | MB/s | artifact % |');
console.log('| --- | ---: | ---: | ---: |');
const dir = await mkdtemp(join(tmpdir(), 'gosync-compress-bench-'));
try {
  for (const codec of ['zstd', 'brotli', 'gzip'] as const) {
    let best = Infinity;
    let ratio = 0;
    let level = 0;
    for (let run = 0; run < 3; run++) {
      const t = performance.now();
      const layout = await compressFile(pair.new, join(dir, `artifact.${codec}`), { codec, blockSize: 4096, blocksPerGroup: 16 });
      best = Math.min(best, (performance.now() - t) / 1000);
      ratio = layout.sizes.reduce((a, b) => a + b, 0) / layout.length;
      level = layout.level;
    }
    console.log(`| ${codec} | ${level} | ${(mb / best).toFixed(0)} | ${(100 * ratio).toFixed(1)} |`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
