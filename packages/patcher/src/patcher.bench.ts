// Patcher benchmarks on real pairs (tools/testkit/src/corpus.ts): scan throughput with 1 and 2
// threads, and a whole local sync (scan + copy + fetch from a local file + verify) next to rdiff
// (signature + delta + patch) on the same pair, in the same run. Scans and syncs run in child
// processes of their own (plain Node on the built packages, the index read from a file; see
// in-child.bench.ts), so that threads start and memory peaks as in a user's process.
// Run: pnpm --filter @gosync/patcher bench [pair…]   (default: ts-minor swc-large), after a build.
import { execFileSync } from 'node:child_process';
import { open, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildIndex, encodeIndex } from '@gosync/index';
import { corpusPair } from '@gosync/testkit/corpus';
import { bestAfterFirst, firstThenBest, scansInChild, syncInChild, type ChildSync } from './in-child.bench.js';

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
    const indexFile = join(dir, `${name}.gsi`);
    await writeFile(indexFile, encodeIndex(index));
    for (const seed of [pair.new, pair.old]) {
      const label = seed === pair.new ? 'near-identical (seed = new)' : 'old → new';
      const seedSize = seed === pair.new ? pair.newSize : pair.oldSize;
      for (const scans of await scansInChild(dir, indexFile, seed, [1, 2], 4)) {
        const best = bestAfterFirst(scans.ms);
        const threads = `${scans.workers} thread${scans.workers > 1 ? 's' : ' '}`;
        console.log(`  scan ${label.padEnd(28)} ${threads}  ${mbps(seedSize, best).padStart(10)}  ${firstThenBest(scans.ms)}, reused ${((100 * scans.reused) / pair.newSize).toFixed(1)} %`);
      }
    }
    const runs: ChildSync[] = [];
    for (let i = 0; i < 3; i++) runs.push(await syncInChild(dir, indexFile, pair.old, pair.new, join(dir, 'out')));
    const best = Math.min(...runs.map((r) => r.ms));
    const rss = runs.map((r) => (r.rss / 1e6).toFixed(0)).join(', ');
    const last = runs[runs.length - 1] as ChildSync;
    console.log(`  gosync patch (scan+copy+fetch+verify, own process): ${(best / 1000).toFixed(2)} s (best of 3), fetched ${(last.fetched / 1e6).toFixed(1)} MB in ${last.requests} ranges, peak RSS ${rss} MB`);
    if (hasTool('rdiff')) {
      const sig = join(dir, `${name}.sig`);
      const delta = join(dir, `${name}.delta`);
      const t0 = performance.now();
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
