import type { Worker } from 'node:worker_threads';
import type { BlockIndex, BlockIndexInit } from '@gosync/index';
import { PatcherError } from './errors.js';
import type { ScanPrefilter } from './prefilter.js';
import type { Matches } from './matches.js';
import type { ScanJob, ScanPrepare, ScanReply, ScanRescan } from './scan-worker.js';
import type { JumpHandler, SeedSection } from './scan.js';
import { packShares, recordShares, rescanShare, shareRescans, unpackShareResults, type ShareResult } from './rescan-shares.js';
import { forEachKnownJump, keepFirst, scanClaimed, SectionBoard, sectionLayout, ThreadFindings, type SectionResult } from './section-scan.js';
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
function runJob(thread: Worker, job: ScanJob | ScanRescan, seed: string, onBytes: ((bytes: number) => void) | undefined, signal: AbortSignal | undefined): Promise<ScanReply> {
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
 * who scanned what: per block, the first section that found it (the smallest offset). Then the
 * windows the merge picks are looked at again (see mergeFindings), in shares (shareRescans)
 * that this thread (`rescan`) and threads from the pool (those that just scanned) claim as they
 * claim sections, each share from what the sections found; their finds are recorded share by
 * share, in order (recordShares), so that who looked at which does not change the result either.
 * Threads whose job ended normally go back to the pool; the others (a failure, an abort) are
 * terminated.
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
  options: { readonly signal?: AbortSignal | undefined; readonly onBytes?: ((bytes: number) => void) | undefined; readonly prefilter?: ScanPrefilter | undefined },
  scanHere: (section: SeedSection, onBytes: (bytes: number) => void, reported: Float64Array) => Promise<SectionResult>,
  rescan: (section: SeedSection, onJump?: JumpHandler) => Promise<void>,
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
    /**
     * Runs a job on a thread prepared for the index: it goes back to the pool once answered, and
     * is terminated if it fails (or at an abort, while `busy`).
     */
    const lend = async (thread: Worker, job: ScanJob | ScanRescan, onBytes?: (bytes: number) => void): Promise<ScanReply> => {
      busy.add(thread);
      prepareThreads([thread], index);
      try {
        const reply = await runJob(thread, job, seed, onBytes, options.signal);
        busy.delete(thread);
        scanThreads.give(thread);
        return reply;
      } catch (error) {
        void thread.terminate();
        throw error;
      }
    };
    const jobs: Promise<void>[] = [];
    for (let t = 1; t < Math.min(workers, sections.length); t++) {
      const job: ScanJob = { kind: 'scan', id: t, indexId, seed, sections, board: board.buffer };
      const run = lend(given.shift() ?? scanThreads.takeOne(), job, options.onBytes).then((reply) => {
        if (reply.kind === 'done') found[t] = reply;
      });
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
    const mine = await scanClaimed((section, reported) => scanHere(section, onOwnBytes, reported), sections, board, 0, index.count);
    found[0] = { offsetOf: mine.offsetOf, jumps: mine.jumps };
    // Every section is claimed now. A thread that claimed none answers `skipped` when it gets
    // there (one still starting, say), and goes back to the pool then: it is not waited for.
    await Promise.all(board.otherOwners().map((t) => jobs[t] as Promise<void>));
    const windows = mergeFindings(found, sections, seedId, matches);
    const threadsThatScanned = Math.min(workers, sections.length);
    const shares = shareRescans(windows, threadsThatScanned);
    if (shares.length <= 1) {
      for (const window of windows) await rescan(window);
    } else {
      // Shares are claimed on a board, as sections are: the calling thread takes the first and
      // goes on with the next open one, the threads (those that just scanned, back from the
      // pool) join as they get the job. Each share starts from what the sections found, so who
      // looks at which changes only the time.
      const shareBoard = new SectionBoard(shares.length);
      const packed = packShares(shares);
      const threads = Math.min(threadsThatScanned, shares.length) - 1;
      // Each job carries a copy of the matches as the sections left them, taken as it is posted
      // (lend posts at once): before this thread logs its shares' finds into them.
      const elsewhere = Array.from({ length: threads }, async (_, k) => {
        const job: ScanRescan = { kind: 'rescan', id: k + 1, indexId, seed, seedId, seedOf: matches.seedOf, offsetOf: matches.offsetOf, ...packed, board: shareBoard.buffer };
        const reply = await lend(scanThreads.takeOne(), job);
        if (reply.kind !== 'rescanned') throw new PatcherError('ERR_PATCHER_IO', `scan worker for ${seed} answered a re-scan with ${reply.kind}`);
        return reply.results;
      });
      for (const share of elsewhere) share.catch(() => undefined);
      const results: ShareResult[] = [];
      // The filter for the matches as the sections left them, kept for every share (see hold).
      options.prefilter?.hold();
      for (let s = shareBoard.claim(0); s >= 0; s = shareBoard.claim(0)) results[s] = await rescanShare(matches, shares[s] as SeedSection[], rescan);
      options.prefilter?.restart();
      // Every share is claimed now; a thread that claimed none (one still starting, say) answers
      // with nothing when it gets there, and is not waited for.
      for (const packedResults of await Promise.all(shareBoard.otherOwners().map((t) => elsewhere[t - 1] as Promise<Float64Array>))) {
        unpackShareResults(packedResults, results);
      }
      for (const window of recordShares(results, seedId, matches)) await rescan(window);
    }
    ok = true;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (!ok) await Promise.all([...busy].map((t) => t.terminate()));
  }
}

/**
 * Records, per block, the first section that found it (the smallest offset of any thread), and
 * returns the windows to look at again: those of every jump that matched a block an earlier
 * section also found, in order.
 *
 * A section's thread did not know what earlier sections found: where it matched a block at its
 * second copy and jumped, one thread would have rolled on (the block was known) and could have
 * found a block overlapping it. Looking again at those windows with what the sections found
 * finds at least what one thread finds there (on the 557 MB pair, one section per thread: 65.88
 * MB reused against 64.41 MB without it; one thread 65.86 MB), and the result does not depend on
 * timing.
 *
 * @internal
 */
export function mergeFindings(
  found: readonly ({ readonly offsetOf: Float64Array; readonly jumps: Float64Array } | undefined)[],
  sections: readonly SeedSection[],
  seedId: number,
  matches: Matches,
): SeedSection[] {
  const first = new Float64Array(matches.seedOf.length).fill(-1);
  const jumpsOf: Float64Array[] = [];
  for (const f of found) {
    if (f === undefined) continue;
    keepFirst(first, f.offsetOf);
    ThreadFindings.jumpsBySection(f.jumps, jumpsOf);
  }
  for (let b = 0; b < first.length; b++) if ((first[b] as number) >= 0) matches.record(b, seedId, first[b] as number);
  const windows: SeedSection[] = [];
  for (const [k, section] of sections.entries()) {
    const jumps = jumpsOf[k];
    if (jumps !== undefined) forEachKnownJump(jumps, matches, seedId, () => section.from, (w) => windows.push(w));
  }
  return windows;
}
