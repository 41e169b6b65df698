/**
 * The group size and level trade-off behind `defaultGroupSize` and `DEFAULT_LEVELS.zstd`: for the
 * new file of each corpus pair, the artifact's size as % of the file and the compression speed
 * on one thread for each group size and zstd level, then `compressFile` end to end with its
 * defaults (worker threads with the wasm zstd) and on the calling thread only.
 *
 * Run with `pnpm --filter @gosync/compress bench:groups [pair…]` (default: ts-minor swc-large).
 * Bytes on the wire need a client and a seed: see apps/cli's HTTP bench and docs/benchmarks.md.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { corpusPair } from '@gosync/testkit/corpus';
import { compressBytes, zstdBackend } from './codecs.js';
import { compressFile } from './compress-file.js';
import { defaultGroupSize } from './group-size.js';

const pairs = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['ts-minor', 'swc-large'];
const GROUPS = [4096, 16_384, 65_536, 131_072, 262_144];
const LEVELS = [3, 6];

const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(`# @gosync/compress groups — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${availableParallelism()} × ${cpu}`);
console.log(`zstd backend: ${zstdBackend()}; load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);

const dir = await mkdtemp(join(tmpdir(), 'gosync-groups-bench-'));
try {
  for (const name of pairs) {
    const pair = await corpusPair(name);
    const input = await readFile(pair.new);
    const mb = input.length / 1e6;
    console.log(`## ${name}: ${pair.new} (${mb.toFixed(1)} MB); defaultGroupSize → ${defaultGroupSize(input.length, input.length < 100e6 ? 2048 : 4096)} bytes\n`);
    console.log(`| group | ${LEVELS.map((l) => `zstd ${l} size %`).join(' | ')} | ${LEVELS.map((l) => `zstd ${l} MB/s, 1 thread`).join(' | ')} |`);
    console.log(`| ---: | ${LEVELS.map(() => '---:').join(' | ')} | ${LEVELS.map(() => '---:').join(' | ')} |`);
    for (const groupSize of GROUPS) {
      const sizes: string[] = [];
      const speeds: string[] = [];
      for (const level of LEVELS) {
        let total = 0;
        const t = performance.now();
        for (let offset = 0; offset < input.length; offset += groupSize) {
          total += (await compressBytes('zstd', input.subarray(offset, offset + groupSize), { level })).length;
        }
        const seconds = (performance.now() - t) / 1000;
        sizes.push(((100 * total) / input.length).toFixed(1));
        speeds.push((mb / seconds).toFixed(0));
      }
      console.log(`| ${groupSize / 1024} KiB | ${sizes.join(' | ')} | ${speeds.join(' | ')} |`);
    }
    console.log('\ncompressFile with its defaults (group from the file size, zstd 6), best of 3:\n');
    console.log('| workers | MB/s | artifact % |');
    console.log('| --- | ---: | ---: |');
    const blockSize = input.length < 100e6 ? 2048 : 4096;
    for (const workers of [undefined, 0]) {
      let best = Infinity;
      let ratio = 0;
      for (let run = 0; run < 3; run++) {
        const t = performance.now();
        const layout = await compressFile(pair.new, join(dir, 'artifact.gsz'), { blockSize, ...(workers === undefined ? {} : { workers }) });
        best = Math.min(best, (performance.now() - t) / 1000);
        ratio = layout.sizes.reduce((a, b) => a + b, 0) / layout.length;
      }
      console.log(`| ${workers === undefined ? `default (${availableParallelism()} with the wasm zstd)` : String(workers)} | ${(mb / best).toFixed(0)} | ${(100 * ratio).toFixed(1)} |`);
    }
    console.log('');
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
