// One scan, timed: planPatch of an index file against a seed, with wall and CPU time, in a child
// process of its own (plain Node on the built packages, see in-child.bench.ts).
// Run: pnpm --filter @gosync/patcher bench:scan <index file> <seed> [workers, e.g. 1,2] [runs]
// (after a build). The first scan of each thread count starts its threads and compiles its
// code; the later ones, in the same process, find both ready. The thread counts take turns, and
// the last line gives each count's speed-up over the first, run by run (a pair of runs next to
// each other in time sees the same machine). Two of these started at once show what the machine
// gives two independent processes (docs/benchmarks.md § @gosync/patcher).
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bestAfterFirst, firstThenBest, scansInChild, speedUps } from './in-child.bench.js';

const [file, seed, workersArg, runsArg] = process.argv.slice(2);
if (file === undefined || seed === undefined) {
  console.error('usage: bench:scan <index file> <seed> [workers, e.g. 1,2] [runs]');
  process.exit(2);
}
const seedSize = (await stat(seed)).size;
const dir = await mkdtemp(join(tmpdir(), 'gosync-scan-'));
try {
  const workers = (workersArg ?? '1').split(',').map(Number);
  const all = await scansInChild(dir, resolve(file), resolve(seed), workers, Number(runsArg ?? 4));
  for (const scans of all) {
    const best = bestAfterFirst(scans.ms);
    console.log(
      `${file} workers=${scans.workers}: ${firstThenBest(scans.ms)}, ${(seedSize / 1e3 / best).toFixed(0)} MB/s, reused ${(scans.reused / 1e6).toFixed(2)} MB, CPU of the process and its threads ${(Math.min(...scans.cpuMs) / 1000).toFixed(2)} s`,
    );
  }
  const [base, ...others] = all;
  for (const scans of others) {
    if (base === undefined) break;
    const { median, min, max } = speedUps(base.ms, scans.ms);
    console.log(`workers=${scans.workers} against workers=${base.workers}, run by run after the first: median ${median.toFixed(2)}×, from ${min.toFixed(2)}× to ${max.toFixed(2)}×`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
