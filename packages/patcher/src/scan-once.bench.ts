// One scan, timed: planPatch of an index file against a seed, with wall and CPU time, in a child
// process of its own (plain Node on the built packages, see in-child.bench.ts).
// Run: pnpm --filter @gosync/patcher bench:scan <index file> <seed> [workers, e.g. 1,2] [runs]
// (after a build). The first scan of each thread count starts its threads and compiles its
// code; the later ones, in the same process, find both ready. Two of these started at once show what the machine gives two independent
// processes (docs/benchmarks.md § @gosync/patcher).
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bestAfterFirst, firstThenBest, scansInChild } from './in-child.bench.js';

const [file, seed, workersArg, runsArg] = process.argv.slice(2);
if (file === undefined || seed === undefined) {
  console.error('usage: bench:scan <index file> <seed> [workers, e.g. 1,2] [runs]');
  process.exit(2);
}
const seedSize = (await stat(seed)).size;
const dir = await mkdtemp(join(tmpdir(), 'gosync-scan-'));
try {
  const workers = (workersArg ?? '1').split(',').map(Number);
  for (const scans of await scansInChild(dir, resolve(file), resolve(seed), workers, Number(runsArg ?? 4))) {
    const best = bestAfterFirst(scans.ms);
    console.log(
      `${file} workers=${scans.workers}: ${firstThenBest(scans.ms)}, ${(seedSize / 1e3 / best).toFixed(0)} MB/s, reused ${(scans.reused / 1e6).toFixed(2)} MB, CPU of the process and its threads ${(Math.min(...scans.cpuMs) / 1000).toFixed(2)} s`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
