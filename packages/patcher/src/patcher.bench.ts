// Patcher benchmarks on real pairs (tools/testkit/src/corpus.ts): scan throughput with 1 and 2
// worker threads, and a whole local sync (scan + copy + fetch from a local file + verify) next to
// rdiff (signature + delta + patch) on the same pair, in the same run.
// Run: pnpm --filter @gosync/patcher bench [pair…]   (default: ts-minor swc-large)
// Measures the built package (dist), so that worker threads run the compiled code.
import { execFileSync } from 'node:child_process';
import { open, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlockSource, ByteRange, RangeData } from '@gosync/core';
import { buildIndex } from '@gosync/index';
import { corpusPair } from '@gosync/testkit/corpus';
import { patch, planPatch } from '@gosync/patcher';

/** Reads the missing ranges from the new file itself: a sync with no network in the way. */
function localSource(path: string): BlockSource {
  return {
    async *fetch(ranges: readonly ByteRange[]): AsyncIterable<RangeData> {
      const file = await open(path, 'r');
      try {
        for (const range of ranges) {
          const data = new Uint8Array(range.end - range.start);
          await file.read(data, 0, data.length, range.start);
          yield { range, data };
        }
      } finally {
        await file.close();
      }
    },
  };
}

function hasTool(name: string): boolean {
  try {
    execFileSync('which', [name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const mbps = (bytes: number, ms: number): string => `${(bytes / 1e3 / ms).toFixed(0)} MB/s`;
const pairs = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['ts-minor', 'swc-large'];
const dir = await mkdtemp(join(tmpdir(), 'gosync-bench-'));
try {
  for (const name of pairs) {
    const pair = await corpusPair(name);
    console.log(`\n${pair.name}: ${pair.description}; old ${(pair.oldSize / 1e6).toFixed(1)} MB, new ${(pair.newSize / 1e6).toFixed(1)} MB`);
    const index = await buildIndex(pair.new, { hashLengths: 'full' });
    console.log(`  index: ${index.count} blocks of ${index.blockSize} B`);
    for (const seed of [pair.new, pair.old]) {
      const label = seed === pair.new ? 'near-identical (seed = new)' : 'old → new';
      for (const workers of [1, 2]) {
        let best = Infinity;
        let reused = 0;
        for (let i = 0; i < 3; i++) {
          const t0 = performance.now();
          const plan = await planPatch(index, { seeds: [seed], workers });
          best = Math.min(best, performance.now() - t0);
          reused = plan.reusedBytes;
        }
        console.log(`  scan ${label.padEnd(28)} ${workers} worker${workers > 1 ? 's' : ' '}  ${mbps(pair.oldSize, best).padStart(10)}  (best of 3; reused ${((100 * reused) / pair.newSize).toFixed(1)} %)`);
      }
    }
    const output = join(dir, 'out');
    let t0 = performance.now();
    const result = await patch(index, { seeds: [pair.old], output, source: localSource(pair.new), resume: false });
    const ours = performance.now() - t0;
    console.log(`  gosync patch (scan+copy+fetch+verify): ${(ours / 1000).toFixed(2)} s, fetched ${(result.fetchedBytes / 1e6).toFixed(1)} MB in ${result.requests} ranges, rss ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
    if (hasTool('rdiff')) {
      const sig = join(dir, `${name}.sig`);
      const delta = join(dir, `${name}.delta`);
      t0 = performance.now();
      execFileSync('rdiff', ['signature', pair.old, sig]);
      execFileSync('rdiff', ['delta', sig, pair.new, delta]);
      execFileSync('rdiff', ['patch', pair.old, delta, join(dir, `${name}.rdiff-out`)]);
      const rdiff = performance.now() - t0;
      const deltaSize = (await open(delta, 'r').then(async (f) => { const s = await f.stat(); await f.close(); return s.size; }));
      console.log(`  rdiff signature+delta+patch: ${(rdiff / 1000).toFixed(2)} s, delta ${(deltaSize / 1e6).toFixed(1)} MB`);
    } else {
      console.log('  rdiff: not installed (apt-get install rdiff), skipped');
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
