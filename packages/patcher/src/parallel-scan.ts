import { Worker } from 'node:worker_threads';
import type { BlockIndex, BlockIndexInit } from '@gosync/index';
import { PatcherError } from './errors.js';
import { Matches } from './matches.js';
import type { SeedSection } from './scan.js';
import type { ScanJob, ScanReply } from './scan-worker.js';

function initOf(index: BlockIndex): BlockIndexInit {
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

function startWorker(): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // Running from the TypeScript sources (tests): load the worker through tsx's loader.
    const url = new URL('./scan-worker.ts', here).href;
    return new Worker(`import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(url)}); });`, { eval: true });
  }
  return new Worker(new URL('./scan-worker.js', here));
}

/**
 * Scans one seed file with `workers` threads, each over an equal section of it (sections overlap
 * by a block so that no window is missed), and merges their matches in section order: a block
 * is taken from the first section that found it, so the result does not depend on timing. The
 * calling thread scans the first section itself (`scanHere`) while `workers − 1` worker threads
 * start up and scan the others.
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
  scanHere: (section: SeedSection, matches: Matches) => Promise<void>,
): Promise<void> {
  const init = initOf(index);
  // Sections start on block boundaries: where the seed is aligned with the target (the common
  // case of an unchanged prefix), the scan then stays in step exactly as one thread would.
  const w = index.blockSize;
  const sectionLength = Math.ceil(seedLength / workers / w) * w;
  const threads: Worker[] = [];
  const results: { seedOf: Int32Array; offsetOf: Float64Array }[] = [];
  const here = new Matches(index.count);
  const onAbort = (): void => {
    for (const t of threads) void t.terminate();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const jobs: Promise<void>[] = [];
    for (let i = 1; i < workers; i++) {
      const from = i * sectionLength;
      const to = Math.min(seedLength, from + sectionLength);
      if (from >= to) break;
      const thread = startWorker();
      threads.push(thread);
      jobs.push(
        new Promise<void>((resolve, reject) => {
          thread.on('message', (reply: ScanReply) => {
            if (reply.kind === 'progress') options.onBytes?.(reply.bytes);
            else if (reply.kind === 'done') {
              results[i] = { seedOf: reply.seedOf, offsetOf: reply.offsetOf };
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
          thread.postMessage({ id: i, index: init, seed, section: { from, to } } satisfies ScanJob);
        }),
      );
    }
    const local = scanHere({ from: 0, to: Math.min(seedLength, sectionLength) }, here).then(() => {
      results[0] = { seedOf: here.seedOf, offsetOf: here.offsetOf };
    });
    // Wait for every thread even when one fails, so none is left writing into `results`.
    const settled = await Promise.allSettled([local, ...jobs]);
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await Promise.all(threads.map((t) => t.terminate()));
  }
  for (const result of results) {
    for (let b = 0; b < index.count; b++) {
      if ((result.seedOf[b] as number) >= 0) matches.record(b, seedId, result.offsetOf[b] as number);
    }
  }
}
