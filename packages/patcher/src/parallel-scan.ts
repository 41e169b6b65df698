import type { Worker } from 'node:worker_threads';
import type { BlockIndex, BlockIndexInit } from '@gosync/index';
import { PatcherError } from './errors.js';
import type { Matches } from './matches.js';
import type { SeedSection } from './scan.js';
import type { ScanJob, ScanPrepare, ScanReply } from './scan-worker.js';
import { keepFirst, scanClaimed, SectionBoard, sectionLayout, ThreadFindings, type SectionResult } from './section-scan.js';
import { scanThreads } from './scan-threads.js';

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
    const where = `${seed} (thread ${job.id})`;
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
 * Scans one seed file with `workers` threads. The seed is cut into sections (sectionLayout),
 * large ones first; every thread claims the first open section, scans it as if nothing had been
 * found before it, and claims the next, until none is left. So a thread that starts late (a new
 * thread takes about 0.1 s) or is slowed scans less, and all finish at nearly the same time. The
 * calling thread is one of them (`scanHere`); the others are those in `started` (taken out of
 * it), then idle ones of the pool ({@link scanThreads}), then new ones. While the calling thread
 * goes at 1 GB/s or more (near-identical data), the others leave the sections to it.
 *
 * Each section's result depends only on the section, so the merged result does not depend on
 * who scanned what: per block, the first section that found it (the smallest offset). Threads
 * whose job ended normally go back to the pool; the others (a failure, an abort) are terminated.
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
  const sections = sectionLayout(seedLength, workers, index.blockSize);
  const given = started.splice(0);
  /** Per thread (0: this one), what it found. */
  const found: { readonly offsetOf: Float64Array; readonly jumps: Float64Array }[] = [];
  const board = new SectionBoard(sections.length);
  /** Threads with a job not yet ended: terminated on an abort or a failure. */
  const busy = new Set<Worker>();
  const onAbort = (): void => {
    for (const t of busy) void t.terminate();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let ok = false;
  try {
    const jobs: Promise<void>[] = [];
    for (let t = 1; t < Math.min(workers, sections.length); t++) {
      const thread = given.shift() ?? scanThreads.takeOne();
      busy.add(thread);
      prepareThreads([thread], index);
      const job: ScanJob = { kind: 'scan', id: t, indexId, seed, sections, board: board.buffer };
      const run = runJob(thread, job, seed, options.onBytes, options.signal).then(
        (reply) => {
          busy.delete(thread);
          scanThreads.give(thread);
          if (reply.kind === 'done') found[t] = reply;
        },
        (error: unknown) => {
          void thread.terminate();
          throw error;
        },
      );
      // Observed now: the job of a thread that claims no section is not awaited.
      run.catch(() => undefined);
      jobs[t] = run;
    }
    // Threads a small seed left without a part.
    for (const thread of given) scanThreads.give(thread);
    const onBytes = options.onBytes ?? ((): void => undefined);
    board.start();
    const onOwnBytes = (bytes: number): void => {
      board.advance(bytes);
      onBytes(bytes);
    };
    const mine = await scanClaimed((section) => scanHere(section, onOwnBytes), sections, board, 0, index.count);
    found[0] = { offsetOf: mine.offsetOf, jumps: mine.jumps };
    // Every section is claimed now. A thread that claimed none answers `skipped` when it gets
    // there (one still starting, say), and goes back to the pool then: it is not waited for.
    const owners = new Set<number>();
    for (let i = 0; i < sections.length; i++) owners.add(board.owner(i));
    await Promise.all([...owners].filter((t) => t > 0).map((t) => jobs[t] as Promise<void>));
    ok = true;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (!ok) await Promise.all([...busy].map((t) => t.terminate()));
  }
  await mergeFindings(found, sections, seedId, matches, rescan);
}

/**
 * Records, per block, the first section that found it (the smallest offset of any thread), then
 * looks again where a section matched a block an earlier one had found.
 *
 * @internal
 */
export async function mergeFindings(
  found: readonly ({ readonly offsetOf: Float64Array; readonly jumps: Float64Array } | undefined)[],
  sections: readonly SeedSection[],
  seedId: number,
  matches: Matches,
  rescan: (section: SeedSection) => Promise<void>,
): Promise<void> {
  const first = new Float64Array(matches.seedOf.length).fill(-1);
  const jumpsOf: Float64Array[] = [];
  for (const f of found) {
    if (f === undefined) continue;
    keepFirst(first, f.offsetOf);
    ThreadFindings.jumpsBySection(f.jumps, jumpsOf);
  }
  for (let b = 0; b < first.length; b++) if ((first[b] as number) >= 0) matches.record(b, seedId, first[b] as number);
  // A section's thread did not know what earlier sections found: where it matched a block at
  // its second copy and jumped, one thread would have rolled on (the block was known) and could
  // have found a block overlapping it. Look again at the windows of every jump that matched a
  // block some earlier section also found, in order, with everything found so far: windows are
  // only added to, so this finds at least what one thread finds there (on the 557 MB pair, with
  // one section per thread: 65.88 MB reused against 64.41 MB without it; one thread 65.86 MB),
  // and the result still does not depend on timing.
  for (const [k, section] of sections.entries()) {
    const jumps = jumpsOf[k];
    if (jumps === undefined) continue;
    for (let j = 0; j + 2 < jumps.length; j += 3 + (jumps[j + 2] as number)) {
      const n = jumps[j + 2] as number;
      let known = false;
      for (let q = 0; q < n && !known; q++) {
        const block = jumps[j + 3 + q] as number;
        known = (matches.seedOf[block] as number) === seedId && (matches.offsetOf[block] as number) < section.from;
      }
      if (known) await rescan({ from: jumps[j] as number, to: jumps[j + 1] as number });
    }
  }
}
