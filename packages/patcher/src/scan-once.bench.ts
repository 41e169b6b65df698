// One scan, timed: planPatch of an index file against a seed, with wall and CPU time.
// Run: pnpm --filter @gosync/patcher bench:scan <index file> <seed> [workers, e.g. 1,2] [runs]
// (after a build: measures the built package). Two of these started at once show what the
// machine gives two independent processes (docs/benchmarks.md § @gosync/patcher).
import { readIndexFile } from '@gosync/index';
import { planPatch } from '@gosync/patcher';

const [file, seed, workersArg, runsArg] = process.argv.slice(2);
if (file === undefined || seed === undefined) {
  console.error('usage: bench:scan <index file> <seed> [workers, e.g. 1,2] [runs]');
  process.exit(2);
}
const { index } = await readIndexFile(file);
for (const workers of (workersArg ?? '1').split(',').map(Number)) {
  let wall = Infinity;
  let cpu = Infinity;
  let reused = 0;
  for (let i = 0; i < Number(runsArg ?? 2); i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const plan = await planPatch(index, { seeds: [seed], workers });
    wall = Math.min(wall, performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu = Math.min(cpu, (c.user + c.system) / 1000);
    reused = plan.reusedBytes;
  }
  console.log(
    `${file} workers=${workers}: ${(wall / 1000).toFixed(2)} s, ${(index.fileLength / 1e3 / wall).toFixed(0)} MB/s, reused ${(reused / 1e6).toFixed(2)} MB, CPU of this process and its workers ${(cpu / 1000).toFixed(2)} s`,
  );
}
