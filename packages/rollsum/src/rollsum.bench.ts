// Throughput of the weak sum at every offset and of the prefiltered rolling scan.
// Run: pnpm --filter @gosync/rollsum bench   (GOSYNC_BENCH_MB sets the input size, default 256)
import { rollingSums } from './rollsum32.js';
import { WeakScanner } from './weak-scanner.js';
import { WeakSumFilter } from './weak-sum-filter.js';
import { randomBytes } from './test-random.js';

const MB = Number(process.env['GOSYNC_BENCH_MB'] ?? 256);
const PIECE = 1 << 20;
const WINDOW = 2048;


/**
 * Runs `run` once to warm up, then 7 times; reports the best run by process CPU time (user +
 * system, all threads), which the other processes on a shared 2-core machine do not inflate,
 * next to its wall time.
 */
function best(label: string, bytes: number, run: () => number): void {
  run();
  let bestCpu = Infinity;
  let wallOfBest = 0;
  let result = 0;
  for (let i = 0; i < 7; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    result = run();
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1000;
    if (cpu < bestCpu) {
      bestCpu = cpu;
      wallOfBest = wall;
    }
  }
  const rate = (ms: number): string => (bytes / 1e6 / (ms / 1000)).toFixed(0).padStart(6);
  console.log(
    `${label.padEnd(44)} ${rate(bestCpu)} MB/s   (wall ${rate(wallOfBest).trim()} MB/s; ${(bytes / 2 ** 20).toFixed(0)} MiB, best of 7 by CPU time, check ${result})`,
  );
}

const data = randomBytes(MB * 2 ** 20, 0x9e3779b9);

const sums = new Uint32Array(PIECE);
best(`rollingSums  window=${WINDOW}`, data.length, () => {
  let acc = 0;
  for (let off = 0; off + PIECE <= data.length; off += PIECE) {
    const piece = data.subarray(off, Math.min(data.length, off + PIECE + WINDOW - 1));
    const out = rollingSums(piece, WINDOW, sums);
    acc ^= out[out.length - 1] ?? 0;
  }
  return acc >>> 0;
});

const prefilter = WeakSumFilter.from(new Uint32Array(randomBytes(4 * 100_000, 7).buffer));
best(`WeakScanner  window=${WINDOW} prefilter=100000 sums`, data.length, () => {
  const scanner = new WeakScanner({ windowSize: WINDOW, filter: prefilter });
  let hits = 0;
  const onHit = (): undefined => {
    hits++;
    return undefined;
  };
  for (let off = 0; off < data.length; off += PIECE) scanner.update(data.subarray(off, off + PIECE), onHit);
  return hits;
});
