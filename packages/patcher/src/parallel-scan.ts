import type { Worker } from 'node:worker_threads';
import type { BlockIndex, BlockIndexInit } from '@gosync/index';
import { PatcherError } from './errors.js';
import type { Matches } from './matches.js';
import type { SeedSection } from './scan.js';
import type { ScanJob, ScanPrepare, ScanReply } from './scan-worker.js';
import { CLAIM, SectionBoard, type SectionResult } from './section-scan.js';
import { scanThreads } from './scan-threads.js';

/**
 * How much longer the calling thread's section is than another thread's, per thread: a new thread
 * starts about 0.1 s later (a thread, its modules, its own tables), one kept from an earlier scan
 * at once (see ScanThreadPool). A constant, so that the sections, and with them the plan,
 * depend only on the seed's length and the thread count, not on which threads were kept. On the
 * 557 MB swc pair with 2 threads, 6 scans in a row per process (2026-11-22, four processes each,
 * interleaved): 48 MiB took 1.16–1.23 s on the first scan (new thread) and 0.86–1.02 s after
 * (kept); 24 MiB took 1.11–1.23 s and 0.85–0.98 s.
 */
const HEAD_START = 24 << 20;

/** The index as a worker receives it (structured clone of its arrays). @internal */
export function initOf(index: BlockIndex): BlockIndexInit {
  return {
    kind: index.kind,
    fileLength: index.fileLength,
    blockSize: index.blockSize,
    weakSums: index.weakSums,
    strongHashes: index.strongHashes,
    strongHash: index.strongHash,
    strongBytes: index.strongBytes,
    weakBytes: index.weakBytes,
    seqMatches: index.seqMatches,
    padLastBlock: index.padLastBlock,
    ...(index.offsets === undefined ? {} : { offsets: index.offsets }),
    ...(index.chunking === undefined ? {} : { chunking: index.chunking }),
    fileHashes: index.fileHashes,
    metadata: index.metadata,
  };
}

/** Names every index a parallel scan was given, for the threads' cache (see ScanJob.indexId). */
const indexIds = new WeakMap<BlockIndex, number>();
let lastIndexId = 0;
/** The index each thread was last sent (it keeps that index's tables). */
const indexOfThread = new WeakMap<Worker, number>();

function indexIdOf(index: BlockIndex): number {
  let id = indexIds.get(index);
  if (id === undefined) indexIds.set(index, (id = ++lastIndexId));
  return id;
}

/**
 * Sends the index to those of `threads` that do not have it, so that they build their tables
 * now, while the calling thread builds its own (a thread handles its messages in order: a job
 * sent later finds them).
 *
 * @internal
 */
export function prepareThreads(threads: readonly Worker[], index: BlockIndex): void {
  const indexId = indexIdOf(index);
  let init: BlockIndexInit | undefined;
  for (const thread of threads) {
    if (indexOfThread.get(thread) === indexId) continue;
    init ??= initOf(index);
    thread.postMessage({ kind: 'prepare', indexId, index: init } satisfies ScanPrepare);
    indexOfThread.set(thread, indexId);
  }
}

/**
 * Runs one job on a thread: resolves with its answer (`done` or `skipped`), after which the
 * thread waits for the next job; rejects if it fails or exits.
 */
function runJob(thread: Worker, job: ScanJob, seed: string, onBytes: ((bytes: number) => void) | undefined, signal: AbortSignal | undefined): Promise<ScanReply> {
  return new Promise<ScanReply>((resolve, reject) => {
    const where = `${seed} [${job.section.from}, ${job.section.to})`;
    const settle = (): void => {
      thread.off('message', onMessage);
      thread.off('error', onError);
      thread.off('exit', onExit);
    };
    const onMessage = (reply: ScanReply): void => {
      if (reply.kind === 'progress') {
        onBytes?.(reply.bytes);
        return;
      }
      settle();
      if (reply.kind === 'error') {
        reject(new PatcherError(reply.code === 'ERR_PATCHER_SEED' ? 'ERR_PATCHER_SEED' : 'ERR_PATCHER_IO', `scanning ${where} in a worker: ${reply.message}`));
      } else {
        resolve(reply);
      }
    };
    const onError = (e: Error): void => {
      settle();
      reject(new PatcherError('ERR_PATCHER_IO', `scan worker for ${where} failed: ${e.message}`, { cause: e }));
    };
    const onExit = (code: number): void => {
      settle();
      if (signal?.aborted === true) reject(signal.reason as Error);
      else reject(new PatcherError('ERR_PATCHER_IO', `scan worker for ${where} exited with code ${code}`));
    };
    thread.on('message', onMessage);
    thread.on('error', onError);
    thread.on('exit', onExit);
    thread.postMessage(job);
  });
}

/**
 * Scans one seed file with `workers` threads, each over a section of it (sections overlap
 * by a block so that no window is missed), and merges their matches in section order: a block
 * is taken from the first section that found it. The calling thread scans the first section
 * itself (`scanHere`) while `workers − 1` threads scan the others: those in `started` first
 * (taken out of it), then idle ones of the pool ({@link scanThreads}), then new ones. A section
 * whose thread has not started scanning when the calling thread is done with its own
 * (near-identical data goes by at 2–3 GB/s, faster than a thread starts) is scanned by the
 * calling thread instead. Each section is scanned as if nothing had been found before it,
 * whoever scans it, so the result does not depend on timing. Threads whose job ended normally go
 * back to the pool; the others (a failure, an abort) are terminated.
 *
 * @internal
 */
export async function scanInParallel(
  index: BlockIndex,
  seed: string,
  seedId: number,
  seedLength: number,
  workers: number,
  matches: Matches,
  options: { readonly signal?: AbortSignal | undefined; readonly onBytes?: ((bytes: number) => void) | undefined },
  scanHere: (section: SeedSection, onBytes: (bytes: number) => void) => Promise<SectionResult>,
  rescan: (section: SeedSection) => Promise<void>,
  started: Worker[] = [],
): Promise<void> {
  const indexId = indexIdOf(index);
  // Sections start on block boundaries: where the seed is aligned with the target (the common
  // case of an unchanged prefix), the scan then stays in step exactly as one thread would.
  const w = index.blockSize;
  // The calling thread starts at once, a new thread about 0.12 s later: the first section is
  // longer by HEAD_START per worker (see there), at most a quarter of a section, so that every
  // thread has a share of a small seed too.
  const extra = Math.min(HEAD_START, Math.floor(seedLength / (4 * workers)));
  const firstLength = Math.min(seedLength, Math.ceil((seedLength + (workers - 1) * extra) / workers / w) * w);
  const sectionLength = workers > 1 ? Math.ceil((seedLength - firstLength) / (workers - 1) / w) * w : firstLength;
  const sectionFrom = (i: number): number => (i === 0 ? 0 : firstLength + (i - 1) * sectionLength);
  const given = started.splice(0);
  const results: (SectionResult & { readonly from: number })[] = [];
  const board = new SectionBoard(workers);
  const ranges: SeedSection[] = [];
  /** Threads with a job not yet ended: terminated on an abort or a failure. */
  const busy = new Set<Worker>();
  const onAbort = (): void => {
    for (const t of busy) void t.terminate();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let ok = false;
  try {
    const jobs: Promise<unknown>[] = [];
    for (let i = 1; i < workers; i++) {
      const from = sectionFrom(i);
      const to = Math.min(seedLength, sectionFrom(i + 1));
      if (from >= to) break;
      ranges[i] = { from, to };
      const thread = given.shift() ?? scanThreads.takeOne();
      busy.add(thread);
      prepareThreads([thread], index);
      const job: ScanJob = { kind: 'scan', id: i, indexId, seed, section: { from, to }, board: board.buffer };
      const run = runJob(thread, job, seed, options.onBytes, options.signal).then(
        (reply) => {
          busy.delete(thread);
          scanThreads.give(thread);
          if (reply.kind === 'done') results[i] = { seedOf: reply.seedOf, offsetOf: reply.offsetOf, jumps: reply.jumps, from };
        },
        (error: unknown) => {
          void thread.terminate();
          throw error;
        },
      );
      // Observed now: a job whose section the calling thread takes is not awaited.
      run.catch(() => undefined);
      jobs[i] = run;
    }
    // Threads a small seed left without a section.
    for (const thread of given) scanThreads.give(thread);
    const onBytes = options.onBytes ?? ((): void => undefined);
    board.start();
    const onOwnBytes = (bytes: number): void => {
      board.advance(bytes);
      onBytes(bytes);
    };
    results[0] = { ...(await scanHere({ from: 0, to: firstLength }, onOwnBytes)), from: 0 };
    const waiting: Promise<unknown>[] = [];
    for (let i = 1; i < ranges.length; i++) {
      const range = ranges[i] as SeedSection;
      // Its thread is still starting, or left it: scan the section here (the thread answers
      // `skipped` when it gets to it, and goes back to the pool).
      if (board.claim(i, CLAIM.caller)) results[i] = { ...(await scanHere(range, onBytes)), from: range.from };
      else waiting.push(jobs[i] as Promise<unknown>);
    }
    await Promise.all(waiting);
    ok = true;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (!ok) await Promise.all([...busy].map((t) => t.terminate()));
  }
  for (const result of results) {
    for (let b = 0; b < index.count; b++) {
      if ((result.seedOf[b] as number) >= 0) matches.record(b, seedId, result.offsetOf[b] as number);
    }
  }
  // A section's thread did not know what earlier sections found: where it matched a block at
  // its second copy and jumped, one thread would have rolled on (the block was known) and could
  // have found a block overlapping it. Look again at the windows of every jump that matched a
  // block some earlier section also found, in order, with everything found so far: windows are
  // only added to, so this finds at least what one thread finds there (on the 557 MB pair: 65.88
  // MB reused against 64.41 MB without it and 65.86 MB on one thread), and the result still does
  // not depend on timing.
  for (const result of results) {
    const jumps = result.jumps;
    for (let j = 0; j + 2 < jumps.length; j += 3 + (jumps[j + 2] as number)) {
      const n = jumps[j + 2] as number;
      let known = false;
      for (let k = 0; k < n && !known; k++) {
        const block = jumps[j + 3 + k] as number;
        known = (matches.seedOf[block] as number) === seedId && (matches.offsetOf[block] as number) < result.from;
      }
      if (known) await rescan({ from: jumps[j] as number, to: jumps[j + 1] as number });
    }
  }
}
