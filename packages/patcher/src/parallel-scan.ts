import type { Worker } from 'node:worker_threads';
import type { BlockIndex, BlockIndexInit } from '@gosync/index';
import { PatcherError } from './errors.js';
import type { Matches } from './matches.js';
import type { SeedSection } from './scan.js';
import type { ScanJob, ScanPrepare, ScanReply, ScanRescan } from './scan-worker.js';
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
 * windows the merge picks are looked at again (see mergeFindings), in shares (shareRescans): the
 * first here (`rescan`), the others on threads from the pool (those that just scanned), each from
 * what the sections found; their finds are recorded share by share. Threads whose job ended
 * normally go back to the pool; the others (a failure, an abort) are terminated.
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
    const mine = await scanClaimed((section) => scanHere(section, onOwnBytes), sections, board, 0, index.count);
    found[0] = { offsetOf: mine.offsetOf, jumps: mine.jumps };
    // Every section is claimed now. A thread that claimed none answers `skipped` when it gets
    // there (one still starting, say), and goes back to the pool then: it is not waited for.
    const owners = new Set<number>();
    for (let i = 0; i < sections.length; i++) owners.add(board.owner(i));
    await Promise.all([...owners].filter((t) => t > 0).map((t) => jobs[t] as Promise<void>));
    const windows = mergeFindings(found, sections, seedId, matches);
    const shares = shareRescans(windows, Math.min(workers, sections.length));
    // The other shares go to threads (those that just scanned, back from the pool), before this
    // thread adds to the matches: each share starts from what the sections found.
    const elsewhere = shares.slice(1).map(async (share, k) => {
      const job: ScanRescan = { kind: 'rescan', id: k + 1, indexId, seed, seedId, seedOf: matches.seedOf, offsetOf: matches.offsetOf, windows: windowsOf(share) };
      const reply = await lend(scanThreads.takeOne(), job);
      if (reply.kind !== 'rescanned') throw new PatcherError('ERR_PATCHER_IO', `scan worker for ${seed} answered a re-scan with ${reply.kind}`);
      return reply;
    });
    for (const share of elsewhere) share.catch(() => undefined);
    for (const window of shares[0] ?? []) await rescan(window);
    for (const window of recordShares(await Promise.all(elsewhere), seedId, matches)) await rescan(window);
    ok = true;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (!ok) await Promise.all([...busy].map((t) => t.terminate()));
  }
}

/**
 * Re-scans of a parallel scan shorter than this in all stay on the calling thread: a thread's
 * share costs a few milliseconds before it starts (the matches sent, its filter rebuilt).
 */
const SHARED_RESCANS_FROM = 2 << 20;

/**
 * Deals the windows to look at again into at most `threads` shares of consecutive windows and
 * about equal bytes (the first share is the calling thread's), or one share when they are few
 * (SHARED_RESCANS_FROM). Depends only on its arguments: each share starts from what the sections
 * found and adds what it finds, so the result does not depend on timing.
 *
 * @internal
 */
export function shareRescans(windows: readonly SeedSection[], threads: number): SeedSection[][] {
  const total = windows.reduce((n, w) => n + (w.to - w.from), 0);
  const count = total < SHARED_RESCANS_FROM ? 1 : Math.max(1, Math.min(threads, windows.length));
  const shares: SeedSection[][] = [[]];
  let done = 0;
  for (const window of windows) {
    const length = window.to - window.from;
    // A window goes to the next share when its middle is past this share's part of the bytes.
    if (shares.length < count && done + length / 2 > (shares.length * total) / count && (shares.at(-1) as SeedSection[]).length > 0) shares.push([]);
    (shares.at(-1) as SeedSection[]).push(window);
    done += length;
  }
  return shares;
}

/**
 * Records what the shares after the first found (the first one's finds are in `matches`
 * already), share by share, in order: a block two shares found keeps the first share's offset,
 * the smaller one (shares are in seed order). Returns the windows to look at again: a share did
 * not know what the shares before it found, so where it matched such a block and jumped (its
 * match at `from` − 1), one thread would have rolled on, as for the sections (mergeFindings).
 *
 * @internal
 */
export function recordShares(
  shares: readonly { readonly found: Float64Array; readonly jumps: Float64Array }[],
  seedId: number,
  matches: Matches,
): SeedSection[] {
  for (const { found } of shares) {
    for (let i = 0; i + 1 < found.length; i += 2) matches.record(found[i] as number, seedId, found[i + 1] as number);
  }
  const again: SeedSection[] = [];
  for (const { jumps } of shares) forEachKnownJump(jumps, matches, seedId, (from) => from - 1, (w) => again.push(w));
  return again;
}

function windowsOf(share: readonly SeedSection[]): Float64Array {
  const out = new Float64Array(2 * share.length);
  for (const [i, w] of share.entries()) {
    out[2 * i] = w.from;
    out[2 * i + 1] = w.to;
  }
  return out;
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
