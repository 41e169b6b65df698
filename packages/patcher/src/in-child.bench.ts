// Runs a sync or a scan in a child process of its own, for the benchmarks: plain Node on the
// built packages (dist), the index read from a file. A child's peak RSS is what a user's sync
// needs, not what the bench process built before; and its worker threads start as a user's do
// (under tsx they would inherit its loader, and each take some 50–100 ms longer to start).
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The sync: reads the index file, patches `old` into `output` with the missing ranges read from
 * the new file itself (no network in the way), prints seconds, bytes and the peak RSS as JSON.
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

/**
 * The scan: planPatch `runs` times per thread count, each timed (wall and CPU of all threads). The
 * thread counts take turns, run by run, so that a slow spell of the machine (a shared VM has
 * them) falls on all of them alike.
 */
const SCAN_CHILD = `
const [indexUrl, patcherUrl, indexFile, seed, workersList, runs] = process.argv.slice(2);
const { readIndexFile } = await import(indexUrl);
const { planPatch } = await import(patcherUrl);
const { index } = await readIndexFile(indexFile);
const out = workersList.split(',').map((w) => ({ workers: Number(w), ms: [], cpuMs: [], reused: 0 }));
for (let i = 0; i < Number(runs); i++) {
  for (const scans of out) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const plan = await planPatch(index, { seeds: [seed], workers: scans.workers });
    scans.ms.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    scans.cpuMs.push((c.user + c.system) / 1000);
    scans.reused = plan.reusedBytes;
  }
}
console.log(JSON.stringify(out));
`;

/** One sync in a child. */
export interface ChildSync {
  readonly ms: number;
  readonly fetched: number;
  readonly requests: number;
  readonly rss: number;
}

/** The scans in a child, per thread count: every run's wall and CPU milliseconds. */
export interface ChildScans {
  readonly workers: number;
  readonly ms: readonly number[];
  readonly cpuMs: readonly number[];
  readonly reused: number;
}

/** Runs a script from a file in `dir` (`node -e` would pass `--input-type` on to the worker threads). */
async function runChild(dir: string, name: string, script: string, args: readonly string[]): Promise<unknown> {
  const file = join(dir, name);
  await writeFile(file, script);
  const urls = [import.meta.resolve('@gosync/index'), import.meta.resolve('@gosync/patcher')];
  return JSON.parse(execFileSync(process.execPath, [file, ...urls, ...args], { encoding: 'utf8' })) as unknown;
}

/** One whole sync (scan, copy, fetch from `newFile`, verify) in a child process. */
export async function syncInChild(dir: string, indexFile: string, seed: string, newFile: string, output: string): Promise<ChildSync> {
  return (await runChild(dir, 'patch-child.mjs', PATCH_CHILD, [indexFile, seed, newFile, output])) as ChildSync;
}

/** `runs` scans (planPatch) of `seed` per thread count in `workers`, in one child process. */
export async function scansInChild(dir: string, indexFile: string, seed: string, workers: readonly number[], runs: number): Promise<ChildScans[]> {
  return (await runChild(dir, 'scan-child.mjs', SCAN_CHILD, [indexFile, seed, workers.join(','), String(runs)])) as ChildScans[];
}

/**
 * The first of some timings, then the best and the median of the others, in seconds: the first
 * scan of a process starts its threads and compiles its code, the later ones find both ready
 * (threads are kept between scans).
 */
export function firstThenBest(ms: readonly number[]): string {
  const [first, ...rest] = ms;
  const s = (t: number): string => `${(t / 1000).toFixed(2)} s`;
  if (first === undefined) return 'no runs';
  if (rest.length === 0) return s(first);
  const sorted = [...rest].sort((a, b) => a - b);
  const median = sorted[Math.floor((sorted.length - 1) / 2)] as number;
  return `first ${s(first)}, then best ${s(sorted[0] as number)} (median ${s(median)} of ${rest.length})`;
}

/** The best of the runs after the first (the first alone if there is one). */
export function bestAfterFirst(ms: readonly number[]): number {
  return ms.length > 1 ? Math.min(...ms.slice(1)) : (ms[0] ?? Number.NaN);
}

/**
 * The speed-ups of `faster` over `base` run by run, after the first run of each (the runs of a
 * scan child take turns): their median, smallest and largest.
 */
export function speedUps(base: readonly number[], faster: readonly number[]): { median: number; min: number; max: number } {
  const ratios: number[] = [];
  for (let i = 1; i < Math.min(base.length, faster.length); i++) ratios.push((base[i] as number) / (faster[i] as number));
  ratios.sort((a, b) => a - b);
  if (ratios.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  const mid = ratios.length >> 1;
  const median = ratios.length % 2 === 1 ? (ratios[mid] as number) : ((ratios[mid - 1] as number) + (ratios[mid] as number)) / 2;
  return { median, min: ratios[0] as number, max: ratios.at(-1) as number };
}
