import type { Worker } from 'node:worker_threads';
import type { BlockIndex, BlockIndexInit } from '@gosync/index';
import { PatcherError } from './errors.js';
import type { Matches } from './matches.js';
import type { SeedSection } from './scan.js';
import type { ScanJob, ScanReply } from './scan-worker.js';
import { CLAIM, SectionBoard, type SectionResult } from './section-scan.js';
import { startPatcherWorker } from './worker-start.js';

/**
 * How much longer the calling thread's section is than a worker's, per worker: a worker starts
 * about 0.11–0.15 s later (a thread, its modules, its own tables), in which the calling thread
 * scans some 40 MB of dissimilar data (more of near-identical). A constant, so that the sections,
 * and with them the plan, depend only on the seed's length and the thread count. On the 557 MB
 * swc pair with 2 threads (best of 3, four rounds each, 2026-11-22, with the prefilter that drops
 * found blocks): 1.06–1.12 s with 16 MiB, 1.01–1.02 s with 32, 0.98–1.04 s with 48, 1.02–1.08 s
 * with 64 (one thread: 1.45–1.46 s).
 */
const HEAD_START = 48 << 20;

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

/**
 * Starts `count` scan threads ahead of {@link scanInParallel}, so that they load their modules
 * while the calling thread builds its own tables (10–25 ms on the 557 MB pair). Give them to
 * `scanInParallel`, which terminates them when it is done, or terminate them yourself.
 *
 * @internal
 */
export function startScanThreads(count: number): Worker[] {
  const threads: Worker[] = [];
  for (let i = 0; i < count; i++) threads.push(startPatcherWorker('scan-worker'));
  return threads;
}

/**
 * Scans one seed file with `workers` threads, each over a section of it (sections overlap
 * by a block so that no window is missed), and merges their matches in section order: a block
 * is taken from the first section that found it. The calling thread scans the first section
 * itself (`scanHere`) while `workers − 1` worker threads start up and scan the others; threads
 * from {@link startScanThreads} in `started` are used first. A section whose worker has not
 * started scanning when the calling thread is done with its own (near-identical data goes by
 * at 2–3 GB/s, faster than a thread starts) is scanned by the calling thread instead. Each
 * section is scanned as if nothing had been found before it, whoever scans it, so the result
 * does not depend on timing.
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
  started: readonly Worker[] = [],
): Promise<void> {
  const init = initOf(index);
  // Sections start on block boundaries: where the seed is aligned with the target (the common
  // case of an unchanged prefix), the scan then stays in step exactly as one thread would.
  const w = index.blockSize;
  // The calling thread starts at once, a worker about 0.12 s later: the first section is longer by
  // HEAD_START per worker (see there), at most a quarter of a section, so that every thread has
  // a share of a small seed too.
  const extra = Math.min(HEAD_START, Math.floor(seedLength / (4 * workers)));
  const firstLength = Math.min(seedLength, Math.ceil((seedLength + (workers - 1) * extra) / workers / w) * w);
  const sectionLength = workers > 1 ? Math.ceil((seedLength - firstLength) / (workers - 1) / w) * w : firstLength;
  const sectionFrom = (i: number): number => (i === 0 ? 0 : firstLength + (i - 1) * sectionLength);
  // All of them, so that the finally below terminates any that a small seed leaves without a section.
  const threads: Worker[] = [...started];
  const results: (SectionResult & { readonly from: number })[] = [];
  const board = new SectionBoard(workers);
  const ranges: SeedSection[] = [];
  const threadOf: Worker[] = [];
  const onAbort = (): void => {
    for (const t of threads) void t.terminate();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const jobs: Promise<void>[] = [];
    for (let i = 1; i < workers; i++) {
      const from = sectionFrom(i);
      const to = Math.min(seedLength, sectionFrom(i + 1));
      if (from >= to) break;
      ranges[i] = { from, to };
      let thread = started[i - 1];
      if (thread === undefined) {
        thread = startPatcherWorker('scan-worker');
        threads.push(thread);
      }
      threadOf[i] = thread;
      jobs.push(
        new Promise<void>((resolve, reject) => {
          thread.on('message', (reply: ScanReply) => {
            if (reply.kind === 'progress') options.onBytes?.(reply.bytes);
            else if (reply.kind === 'done') {
              results[i] = { seedOf: reply.seedOf, offsetOf: reply.offsetOf, jumps: reply.jumps, from };
              resolve();
            } else if (reply.kind === 'skipped') {
              resolve();
            } else {
              reject(new PatcherError(reply.code === 'ERR_PATCHER_SEED' ? 'ERR_PATCHER_SEED' : 'ERR_PATCHER_IO', `scanning ${seed} [${from}, ${to}) in a worker: ${reply.message}`));
            }
          });
          thread.on('error', (e) => {
            reject(new PatcherError('ERR_PATCHER_IO', `scan worker for ${seed} failed: ${e.message}`, { cause: e }));
          });
          thread.on('exit', (code) => {
            if (options.signal?.aborted === true) reject(options.signal.reason as Error);
            else if (results[i] === undefined) reject(new PatcherError('ERR_PATCHER_IO', `scan worker for ${seed} exited with code ${code}`));
          });
          thread.postMessage({ id: i, index: init, seed, section: { from, to }, board: board.buffer } satisfies ScanJob);
        }),
      );
      // Observed now: a job whose section the calling thread takes is not awaited.
      jobs[jobs.length - 1]?.catch(() => undefined);
    }
    const onBytes = options.onBytes ?? ((): void => undefined);
    board.start();
    const onOwnBytes = (bytes: number): void => {
      board.advance(bytes);
      onBytes(bytes);
    };
    results[0] = { ...(await scanHere({ from: 0, to: firstLength }, onOwnBytes)), from: 0 };
    const waiting: Promise<void>[] = [];
    for (let i = 1; i < ranges.length; i++) {
      const range = ranges[i] as SeedSection;
      if (board.claim(i, CLAIM.caller)) {
        // Its worker is still starting, or left it: scan the section here, and let the worker go.
        void threadOf[i]?.terminate();
        results[i] = { ...(await scanHere(range, onBytes)), from: range.from };
      } else {
        waiting.push(jobs[i - 1] as Promise<void>);
      }
    }
    await Promise.all(waiting);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await Promise.all(threads.map((t) => t.terminate()));
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
