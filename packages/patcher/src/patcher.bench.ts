// Patcher benchmarks on real pairs (tools/testkit/src/corpus.ts): scan throughput with 1 and 2
// worker threads, and a whole local sync (scan + copy + fetch from a local file + verify) next to
// rdiff (signature + delta + patch) on the same pair, in the same run. The sync runs in a child
// process of its own (plain Node, the built packages, the index read from a file), so that its
// peak RSS is what a user's sync needs, not what this process built and scanned before.
// Run: pnpm --filter @gosync/patcher bench [pair…]   (default: ts-minor swc-large)
// Measures the built package (dist), so that worker threads run the compiled code.
import { execFileSync } from 'node:child_process';
import { open, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildIndex, encodeIndex } from '@gosync/index';
import { corpusPair } from '@gosync/testkit/corpus';
import { planPatch } from '@gosync/patcher';

/**
 * The sync in a child process: reads the index file, patches `old` into `output` with the
 * missing ranges read from the new file itself (no network in the way), prints seconds, bytes
 * and the process's peak RSS as JSON.
 */
const PATCH_CHILD = `
const [indexUrl, patcherUrl, indexFile, seed, newFile, output] = process.argv.slice(2);
const { readIndexFile } = await import(indexUrl);
const { patch } = await import(patcherUrl);
const { open } = await import('node:fs/promises');
const source = {
  async *fetch(ranges) {
    const file = await open(newFile, 'r');
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
const t0 = performance.now();
const { index } = await readIndexFile(indexFile);
const result = await patch(index, { seeds: [seed], output, source, resume: false });
console.log(JSON.stringify({ ms: performance.now() - t0, fetched: result.fetchedBytes, requests: result.requests, rss: process.resourceUsage().maxRSS * 1024 }));
`;

interface ChildSync {
  readonly ms: number;
  readonly fetched: number;
  readonly requests: number;
  readonly rss: number;
}

/** Runs PATCH_CHILD from a file (`node -e` would pass `--input-type` on to the worker threads). */
async function syncInChild(dir: string, indexFile: string, seed: string, newFile: string, output: string): Promise<ChildSync> {
  const script = join(dir, 'patch-child.mjs');
  await writeFile(script, PATCH_CHILD);
  const args = [import.meta.resolve('@gosync/index'), import.meta.resolve('@gosync/patcher'), indexFile, seed, newFile, output];
  const out = execFileSync(process.execPath, [script, ...args], { encoding: 'utf8' });
  return JSON.parse(out) as ChildSync;
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
    const indexFile = join(dir, `${name}.gsi`);
    await writeFile(indexFile, encodeIndex(index));
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
