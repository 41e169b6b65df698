// Worker-thread entry of the parallel scan: scans one section of one seed file and posts back,
// per block, the offset of its first match in that section, unless the calling thread claimed
// the section first.
import { parentPort } from 'node:worker_threads';
import { BlockIndex, WeakSumTable, type BlockIndexInit } from '@gosync/index';
import { BlockCheck } from './block-check.js';
import type { SeedSection } from './scan.js';
import { CLAIM, scanSection, SectionBoard, type SectionResult } from './section-scan.js';
import { SeedReader } from './seed-reader.js';

/** A job for one worker. @internal */
export interface ScanJob {
  readonly id: number;
  readonly index: BlockIndexInit;
  readonly seed: string;
  readonly section: SeedSection;
  /** The SectionBoard's buffer; the worker scans its section only if it claims it. */
  readonly board: SharedArrayBuffer;
}

/** A worker's answer: progress, a result, a section the calling thread took, or an error. @internal */
export type ScanReply =
  | { readonly id: number; readonly kind: 'progress'; readonly bytes: number }
  | ({ readonly id: number; readonly kind: 'done' } & SectionResult)
  | { readonly id: number; readonly kind: 'skipped' }
  | { readonly id: number; readonly kind: 'error'; readonly message: string; readonly code?: string | undefined };

const port = parentPort;
if (port !== null) {
  port.on('message', (job: ScanJob) => {
    void run(job).then(
      (reply) => {
        port.postMessage(
          reply,
          reply.kind === 'done' ? [reply.seedOf.buffer as ArrayBuffer, reply.offsetOf.buffer as ArrayBuffer, reply.jumps.buffer as ArrayBuffer] : [],
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
  const index = new BlockIndex(job.index);
  const table = new WeakSumTable(index);
  const check = await BlockCheck.create(index);
  // As late as possible: until here, a calling thread done with its own section may take this
  // one; and one going fast (near-identical data) is left to take it.
  const board = new SectionBoard(job.board);
  if (board.callerIsFast() || !board.claim(job.id, CLAIM.worker)) return { id: job.id, kind: 'skipped' };
  const reader = await SeedReader.open(job.seed, 0);
  try {
    const onBytes = (bytes: number): void => {
      port?.postMessage({ id: job.id, kind: 'progress', bytes } satisfies ScanReply);
    };
    return { id: job.id, kind: 'done', ...(await scanSection({ index, table, check, onBytes }, reader, job.section)) };
  } finally {
    await reader.close();
  }
}
