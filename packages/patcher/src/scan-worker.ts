// Worker-thread entry of the parallel scan: claims and scans sections of one seed file until
// none is left, and posts back, per block, the smallest offset it was found at, with each
// section's jumps; then, when asked, claims shares of the windows the merge picked and looks at
// them again (ScanRescan). The thread then waits for its next job (it is kept in a pool between
// scans), with the last index it was sent and its tables.
import { parentPort } from 'node:worker_threads';
import { BlockIndex, WeakSumTable, type BlockIndexInit } from '@gosync/index';
import { BlockCheck } from './block-check.js';
import { Matches } from './matches.js';
import { packShareResults, rescanShare, shareWindows, type ShareResult } from './rescan-shares.js';
import { PairScanMemory } from './pair-scan-memory.js';
import { ScanPrefilter } from './prefilter.js';
import { scanBlocks, type SeedSection } from './scan.js';
import { scanClaimed, scanSection, SectionBoard } from './section-scan.js';
import { SeedReader } from './seed-reader.js';

/**
 * Sent ahead of a job (as soon as the index is known): the thread builds its tables for the
 * index while the calling thread builds its own. @internal
 */
export interface ScanPrepare {
  readonly kind: 'prepare';
  readonly indexId: number;
  readonly index: BlockIndexInit;
}

/** A job for one worker. @internal */
export interface ScanJob {
  readonly kind: 'scan';
  readonly id: number;
  /** Names the index (per calling thread), sent to this thread before in a ScanPrepare. */
  readonly indexId: number;
  readonly seed: string;
  /** The sections of the seed (sectionLayout), claimed on the board. */
  readonly sections: readonly SeedSection[];
  /** The SectionBoard's buffer. */
  readonly board: SharedArrayBuffer;
}

/**
 * The re-scans after a parallel scan (see shareRescans): shares of windows to look at again, in
 * order, each from what the scan found (per block, as in Matches); the thread claims shares on
 * the board, as for sections, until none is left.
 * @internal
 */
export interface ScanRescan {
  readonly kind: 'rescan';
  readonly id: number;
  readonly indexId: number;
  readonly seed: string;
  /** The seed's number in the matches. */
  readonly seedId: number;
  readonly seedOf: Int32Array;
  readonly offsetOf: Float64Array;
  /** from, to of each window, share after share (packShares). */
  readonly windows: Float64Array;
  /** Where each share's windows start (in windows), and the end. */
  readonly shareStarts: Int32Array;
  /** The SectionBoard's buffer, a slot per share. */
  readonly board: SharedArrayBuffer;
}

/** A worker's answer: progress, a result, a section the calling thread took, or an error. @internal */
export type ScanReply =
  | { readonly id: number; readonly kind: 'progress'; readonly bytes: number }
  | { readonly id: number; readonly kind: 'done'; readonly offsetOf: Float64Array; readonly jumps: Float64Array }
  /** What the shares of re-scans this thread claimed found (packShareResults). */
  | { readonly id: number; readonly kind: 'rescanned'; readonly results: Float64Array }
  | { readonly id: number; readonly kind: 'skipped' }
  | { readonly id: number; readonly kind: 'error'; readonly message: string; readonly code?: string | undefined };

/** What a thread keeps of an index between jobs. */
interface Prepared {
  readonly index: BlockIndex;
  readonly table: WeakSumTable;
  readonly check: BlockCheck;
  /** The thread's scanner, restarted for each section. */
  readonly prefilter: ScanPrefilter;
  /** The matches of the section being scanned (see scanSection). */
  readonly scratch: Matches;
  /** The pair scan's kernel and buffers (.zsync indexes), kept for all the thread's scans. */
  readonly pairMemory: PairScanMemory;
}

/** The index of the last ScanPrepare, with its tables (being) built. */
let last: { readonly id: number; readonly ready: Promise<Prepared> } | undefined;

/** Builds the tables of index `id` from `init`, unless they are those of the last index. */
function prepare(id: number, init: BlockIndexInit): void {
  if (last?.id === id) return;
  const ready = (async (): Promise<Prepared> => {
    const index = new BlockIndex(init);
    const table = new WeakSumTable(index);
    return { index, table, check: await BlockCheck.create(index), prefilter: new ScanPrefilter(index, table), scratch: new Matches(index.count), pairMemory: new PairScanMemory() };
  })();
  // A failure is reported by the job that needs the tables.
  ready.catch(() => undefined);
  last = { id, ready };
}

/** The tables of index `id`, the last one this thread was sent. */
function prepared(id: number): Promise<Prepared> {
  if (last?.id === id) return last.ready;
  return Promise.reject(new Error(`index ${id} was not sent to this thread`));
}

const port = parentPort;
if (port !== null) {
  port.on('message', (message: ScanJob | ScanPrepare | ScanRescan) => {
    if (message.kind === 'prepare') {
      prepare(message.indexId, message.index);
      return;
    }
    const job = message;
    void (job.kind === 'scan' ? run(job) : rescan(job)).then(
      (reply) => {
        port.postMessage(
          reply,
          reply.kind === 'done'
            ? [reply.offsetOf.buffer as ArrayBuffer, reply.jumps.buffer as ArrayBuffer]
            : reply.kind === 'rescanned'
              ? [reply.results.buffer as ArrayBuffer]
              : [],
        );
      },
      (error: unknown) => {
        const e = error as { message?: string; code?: string };
        port.postMessage({ id: job.id, kind: 'error', message: e.message ?? String(error), code: e.code } satisfies ScanReply);
      },
    );
  });
}

async function run(job: ScanJob): Promise<ScanReply> {
  const { index, table, check, prefilter, scratch, pairMemory } = await prepared(job.indexId);
  // Until its first claim, the calling thread may take every section; and one going fast
  // (near-identical data) is left to scan them all (see scanClaimed).
  const board = new SectionBoard(job.board);
  const reader = await SeedReader.open(job.seed, 0);
  try {
    const onBytes = (bytes: number): void => {
      port?.postMessage({ id: job.id, kind: 'progress', bytes } satisfies ScanReply);
    };
    const found = await scanClaimed((section, reported) => scanSection({ index, table, check, onBytes, prefilter, pairMemory }, reader, section, scratch, reported), job.sections, board, job.id, index.count);
    return found.sections === 0 ? { id: job.id, kind: 'skipped' } : { id: job.id, kind: 'done', offsetOf: found.offsetOf, jumps: found.jumps };
  } finally {
    await reader.close();
  }
}

/** Claims shares of the windows and looks again at each, in order, from what the scan found. */
async function rescan(job: ScanRescan): Promise<ScanReply> {
  const { index, table, check, prefilter, pairMemory } = await prepared(job.indexId);
  const matches = Matches.of(job.seedOf, job.offsetOf);
  const board = new SectionBoard(job.board);
  const results: [number, ShareResult][] = [];
  // Rebuilt for these matches at the first window, and kept for every share (each starts from
  // them again).
  prefilter.hold();
  const reader = await SeedReader.open(job.seed, job.seedId);
  try {
    const ctx = { index, table, check, matches, prefilter, pairMemory };
    for (let s = board.claim(job.id); s >= 0; s = board.claim(job.id)) {
      results.push([s, await rescanShare(matches, shareWindows(job, s), (window, onJump) => scanBlocks({ ...ctx, onJump }, job.seedId, reader, window))]);
    }
  } finally {
    await reader.close();
  }
  return { id: job.id, kind: 'rescanned', results: packShareResults(results) };
}
