// Worker-thread entry of the parallel scan: claims and scans sections of one seed file until
// none is left, and posts back, per block, the smallest offset it was found at, with each
// section's jumps; then, when asked, looks again at a share of the windows the merge picked
// (ScanRescan). The thread then waits for its next job (it is kept in a pool between scans),
// with the last index it was sent and its tables.
import { parentPort } from 'node:worker_threads';
import { BlockIndex, WeakSumTable, type BlockIndexInit } from '@gosync/index';
import { BlockCheck } from './block-check.js';
import { Matches } from './matches.js';
import { ScanPrefilter } from './prefilter.js';
import { scanBlocks, type SeedSection } from './scan.js';
import { JumpLog, scanClaimed, scanSection, SectionBoard } from './section-scan.js';
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
 * A share of the re-scans after a parallel scan (see shareRescans): the windows to look at again,
 * in order, with what the scan found (per block, as in Matches) and what this share finds.
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
  /** from, to of each window. */
  readonly windows: Float64Array;
}

/** A worker's answer: progress, a result, a section the calling thread took, or an error. @internal */
export type ScanReply =
  | { readonly id: number; readonly kind: 'progress'; readonly bytes: number }
  | { readonly id: number; readonly kind: 'done'; readonly offsetOf: Float64Array; readonly jumps: Float64Array }
  /**
   * What a share of re-scans found: block, offset, per block; and its jumps after new matches (as
   * SectionResult.jumps).
   */
  | { readonly id: number; readonly kind: 'rescanned'; readonly found: Float64Array; readonly jumps: Float64Array }
  | { readonly id: number; readonly kind: 'skipped' }
  | { readonly id: number; readonly kind: 'error'; readonly message: string; readonly code?: string | undefined };

/** What a thread keeps of an index between jobs. */
interface Prepared {
  readonly index: BlockIndex;
  readonly table: WeakSumTable;
  readonly check: BlockCheck;
  /** The thread's scanner, restarted for each section. */
  readonly prefilter: ScanPrefilter;
}

/** The index of the last ScanPrepare, with its tables (being) built. */
let last: { readonly id: number; readonly ready: Promise<Prepared> } | undefined;

/** Builds the tables of index `id` from `init`, unless they are those of the last index. */
function prepare(id: number, init: BlockIndexInit): void {
  if (last?.id === id) return;
  const ready = (async (): Promise<Prepared> => {
    const index = new BlockIndex(init);
    const table = new WeakSumTable(index);
    return { index, table, check: await BlockCheck.create(index), prefilter: new ScanPrefilter(index, table) };
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
              ? [reply.found.buffer as ArrayBuffer, reply.jumps.buffer as ArrayBuffer]
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
  const { index, table, check, prefilter } = await prepared(job.indexId);
  // Until its first claim, the calling thread may take every section; and one going fast
  // (near-identical data) is left to scan them all (see scanClaimed).
  const board = new SectionBoard(job.board);
  const reader = await SeedReader.open(job.seed, 0);
  try {
    const onBytes = (bytes: number): void => {
      port?.postMessage({ id: job.id, kind: 'progress', bytes } satisfies ScanReply);
    };
    const found = await scanClaimed((section) => scanSection({ index, table, check, onBytes, prefilter }, reader, section), job.sections, board, job.id, index.count);
    return found.sections === 0 ? { id: job.id, kind: 'skipped' } : { id: job.id, kind: 'done', offsetOf: found.offsetOf, jumps: found.jumps };
  } finally {
    await reader.close();
  }
}

/** Looks again at a share of the windows, in order, with what the scan found and what the share finds. */
async function rescan(job: ScanRescan): Promise<ScanReply> {
  const { index, table, check, prefilter } = await prepared(job.indexId);
  const matches = Matches.of(job.seedOf, job.offsetOf);
  const jumps = new JumpLog();
  // Rebuilt for these matches at the first window.
  prefilter.restart();
  const reader = await SeedReader.open(job.seed, job.seedId);
  try {
    const ctx = { index, table, check, matches, prefilter, onJump: jumps.onJump };
    for (let w = 0; w + 1 < job.windows.length; w += 2) {
      await scanBlocks(ctx, job.seedId, reader, { from: job.windows[w] as number, to: job.windows[w + 1] as number });
    }
  } finally {
    await reader.close();
  }
  const found: number[] = [];
  for (let b = 0; b < index.count; b++) if ((job.seedOf[b] as number) < 0 && (matches.seedOf[b] as number) >= 0) found.push(b, matches.offsetOf[b] as number);
  return { id: job.id, kind: 'rescanned', found: Float64Array.from(found), jumps: jumps.array() };
}
