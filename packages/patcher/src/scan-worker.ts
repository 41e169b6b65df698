// Worker-thread entry of the parallel scan: claims and scans sections of one seed file until
// none is left, and posts back, per block, the smallest offset it was found at, with each
// section's jumps. The thread then waits for its next job (it is kept in a pool between
// scans), with the last index it was sent and its tables.
import { parentPort } from 'node:worker_threads';
import { BlockIndex, WeakSumTable, type BlockIndexInit } from '@gosync/index';
import { BlockCheck } from './block-check.js';
import { ScanPrefilter } from './prefilter.js';
import type { SeedSection } from './scan.js';
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

/** A worker's answer: progress, a result, a section the calling thread took, or an error. @internal */
export type ScanReply =
  | { readonly id: number; readonly kind: 'progress'; readonly bytes: number }
  | { readonly id: number; readonly kind: 'done'; readonly offsetOf: Float64Array; readonly jumps: Float64Array }
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
  port.on('message', (message: ScanJob | ScanPrepare) => {
    if (message.kind === 'prepare') {
      prepare(message.indexId, message.index);
      return;
    }
    const job = message;
    void run(job).then(
      (reply) => {
        port.postMessage(
          reply,
          reply.kind === 'done' ? [reply.offsetOf.buffer as ArrayBuffer, reply.jumps.buffer as ArrayBuffer] : [],
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
