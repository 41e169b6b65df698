// Worker-thread entry of the parallel scan: scans one section of one seed file and posts back,
// per block, the offset of its first match in that section.
import { parentPort } from 'node:worker_threads';
import { BlockIndex, WeakSumTable, type BlockIndexInit } from '@gosync/index';
import { BlockCheck } from './block-check.js';
import { Matches } from './matches.js';
import { scanBlocks, type SeedSection } from './scan.js';
import { SeedReader } from './seed-reader.js';

/** A job for one worker. @internal */
export interface ScanJob {
  readonly id: number;
  readonly index: BlockIndexInit;
  readonly seed: string;
  readonly section: SeedSection;
}

/** A worker's answer: progress, a result, or an error. @internal */
export type ScanReply =
  | { readonly id: number; readonly kind: 'progress'; readonly bytes: number }
  | {
      readonly id: number;
      readonly kind: 'done';
      readonly seedOf: Int32Array;
      readonly offsetOf: Float64Array;
      /** The jumps after new matches (see ScanContext.onJump): from, to, n, then n blocks found (at most 64), per jump. */
      readonly jumps: Float64Array;
    }
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
  const matches = new Matches(index.count);
  const reader = await SeedReader.open(job.seed, 0);
  const jumps: number[] = [];
  try {
    await scanBlocks(
      {
        index,
        table: new WeakSumTable(index),
        check: await BlockCheck.create(index),
        matches,
        onBytes: (bytes) => {
          port?.postMessage({ id: job.id, kind: 'progress', bytes } satisfies ScanReply);
        },
        onJump: (from, to, blocks) => {
          // At most 64 blocks a jump: enough to tell a chain of known blocks (no spread of a
          // list that can be a million long).
          const n = Math.min(64, blocks.length);
          jumps.push(from, to, n);
          for (let k = 0; k < n; k++) jumps.push(blocks[k] as number);
        },
      },
      0,
      reader,
      job.section,
    );
  } finally {
    await reader.close();
  }
  return { id: job.id, kind: 'done', seedOf: matches.seedOf, offsetOf: matches.offsetOf, jumps: Float64Array.from(jumps) };
}
