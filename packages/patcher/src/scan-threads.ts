import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { PatcherError } from './errors.js';
import type { PlanOptions } from './patch.js';
import { startPatcherWorker } from './worker-start.js';

/**
 * How long a scan thread is kept after its last scan. Long enough for the seeds of one plan and
 * the plans of a batch of files; short enough that a program done syncing soon frees the memory
 * (an idle thread holds about 10 MB, more with a large index cached).
 */
const IDLE_MS = 10_000;

/** At most this many idle threads are kept (the default `workers` is at most 4: 3 threads). */
const MAX_IDLE = 8;

/**
 * The scan threads kept between parallel scans. A new thread costs about 0.12 s before it scans
 * at full speed: the thread and its modules (70–80 ms), the weak-sum tables of the index (25–35
 * ms) and compiling its hot code. A thread that has scanned once keeps all three (it caches the
 * last index it was sent), so the next seed of a plan, and the next plan of a program that syncs
 * several files, scans at full speed from its first byte.
 *
 * Idle threads are unref'd: they never keep a process alive. They end {@link IDLE_MS} after the
 * last scan, or at {@link ScanThreadPool.end}.
 *
 * @internal
 */
export class ScanThreadPool {
  readonly #idle: Worker[] = [];
  /** Threads taken and not yet given back (nor exited). */
  readonly #lent = new Set<Worker>();
  readonly #start: () => Worker;
  readonly #idleMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param start - starts one thread (default: the patcher's scan worker)
   * @param idleMs - how long idle threads are kept
   */
  constructor(start: () => Worker = () => startPatcherWorker('scan-worker'), idleMs: number = IDLE_MS) {
    this.#start = start;
    this.#idleMs = idleMs;
  }

  /** Idle threads. */
  get idle(): number {
    return this.#idle.length;
  }

  /** Threads taken and neither given back nor exited yet. */
  get lent(): number {
    return this.#lent.size;
  }

  /**
   * `count` threads for a scan, the most recently used idle ones first, started for the rest.
   * They belong to the caller until it gives them back or terminates them.
   */
  take(count: number): Worker[] {
    const taken = this.#idle.splice(Math.max(0, this.#idle.length - count)).reverse();
    for (const thread of taken) {
      thread.removeListener('error', endIdle);
      thread.ref();
    }
    while (taken.length < count) {
      const thread = this.#start();
      thread.once('exit', () => {
        this.#lent.delete(thread);
        const at = this.#idle.indexOf(thread);
        if (at >= 0) this.#idle.splice(at, 1);
      });
      taken.push(thread);
    }
    for (const thread of taken) this.#lent.add(thread);
    if (this.#idle.length === 0) this.#stopTimer();
    return taken;
  }

  /** One thread, as {@link ScanThreadPool.take} gives them. */
  takeOne(): Worker {
    const [thread] = this.take(1);
    if (thread === undefined) throw new Error('unreachable: take(1) gave no thread');
    return thread;
  }

  /**
   * Takes back a thread taken from this pool whose job ended normally (it waits for the next
   * one). A thread that exited, or was not taken from this pool, is let go; the oldest idle
   * thread ends when more than {@link MAX_IDLE} are idle.
   */
  give(thread: Worker): void {
    if (!this.#lent.delete(thread) || thread.threadId < 0) return;
    thread.unref();
    // An error in an idle thread (which runs nothing) only ends that thread.
    thread.on('error', endIdle);
    this.#idle.push(thread);
    if (this.#idle.length > MAX_IDLE) void this.#idle.shift()?.terminate();
    this.#stopTimer();
    this.#timer = setTimeout(() => void this.end(), this.#idleMs);
    this.#timer.unref();
  }

  /** Ends the idle threads. */
  async end(): Promise<void> {
    this.#stopTimer();
    await Promise.all(this.#idle.splice(0).map((t) => t.terminate()));
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Starts threads until `count` (at most 8) are idle. */
  warm(count: number): void {
    const missing = Math.min(MAX_IDLE, count) - this.#idle.length;
    if (missing > 0) for (const thread of this.take(missing)) this.give(thread);
  }
}

function endIdle(this: Worker): void {
  void this.terminate();
}

/** The pool every scan of this module instance uses. @internal */
export const scanThreads: ScanThreadPool = new ScanThreadPool();

/**
 * The smallest seed that automatic `workers` scans with more than one thread. A worker thread
 * costs about 0.12 s to start and scans cold, so below this one thread is as fast or faster:
 * measured on the 557 MB swc pair cut short, 2 threads against 1 took 0.27 s against 0.13 s for
 * 64 MB of near-identical data, 0.49 against 0.46 s for 128 MB and 0.74 against 0.78 s for
 * 256 MB of dissimilar data, 1.22 against 1.62 s for all 557 MB of it.
 */
const AUTO_PARALLEL_FROM = 512 << 20;

/** How many threads scan a seed of `seedLength` bytes (see PlanOptions.workers). @internal */
export function workerCount(option: number | undefined, seedLength: number): number {
  if (option === undefined) return seedLength >= AUTO_PARALLEL_FROM ? Math.min(4, Math.max(1, availableParallelism())) : 1;
  if (!Number.isSafeInteger(option) || option < 1 || option > 256) {
    throw new PatcherError('ERR_PATCHER_INVALID_OPTION', `workers: expected an integer in [1, 256], got ${String(option)}`);
  }
  return option;
}

/**
 * Starts, ahead of {@link planPatch} or {@link patch}, the threads a parallel scan of these seeds
 * will use. A program that fetches the index first calls this before, so that the threads start
 * while the index arrives (the `gosync` CLI does). `planPatch` keeps its threads for the next
 * scan in any case (`patch` ends them when its scan is done): they wait, unref'd (they never keep
 * a process alive), and end 10 s after their last scan, or at {@link endScanThreads}.
 *
 * @param options - the seeds and `workers` that will be passed to `planPatch` or `patch`
 * @returns how many threads are waiting (0 when the first seed is scanned by the calling thread
 *   alone, or is not a file)
 * @throws {@link PatcherError} `ERR_PATCHER_INVALID_OPTION` for a bad `workers`
 * @example
 * ```ts
 * const threads = startScanThreads({ seeds: ['app-1.0.tar'] });
 * const index = decodeIndex(await download('app-2.0.tar.gsi'));
 * await threads;
 * await patch(index, { seeds: ['app-1.0.tar'], output: 'app-2.0.tar', source });
 * ```
 */
export async function startScanThreads(options: Pick<PlanOptions, 'seeds' | 'workers'>): Promise<number> {
  workerCount(options.workers, 0);
  const first = options.seeds[0];
  if (typeof first !== 'string') return 0;
  let length: number;
  try {
    length = (await stat(first)).size;
  } catch {
    // planPatch reports an unreadable seed.
    return 0;
  }
  const count = workerCount(options.workers, length) - 1;
  scanThreads.warm(count);
  return Math.min(count, scanThreads.idle);
}

/**
 * Ends the scan threads waiting for another scan now, to free their memory (about 10 MB each,
 * more with a large index) before they end on their own, 10 s after their last scan.
 *
 * @example
 * ```ts
 * await patch(index, { seeds, output, source });
 * await endScanThreads();
 * ```
 */
export function endScanThreads(): Promise<void> {
  return scanThreads.end();
}
