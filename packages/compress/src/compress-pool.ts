import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { startWorkerBeside } from '@gosync/core';
import type { CompressionCodec } from './codecs.js';
import type { CompressedBatch } from './compress-batch.js';
import type { CompressReply, CompressRequest, CompressWorkerData } from './compress-worker.js';
import { CompressError } from './errors.js';

function workerUrl(): URL {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './compress-worker.ts' : './compress-worker.js', here);
}

interface Job {
  readonly worker: number;
  readonly resolve: (batch: CompressedBatch) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Worker threads that compress batches of groups, each with its own codec instance (the wasm zstd runs on the
 * thread that calls it, so this is how it uses several cores). A job goes to the worker with the
 * fewest jobs in flight; replies are matched to jobs by id. Frames do not depend on which worker
 * wrote them.
 *
 * @internal
 */
export class CompressPool {
  readonly #workers: Worker[] = [];
  readonly #load: number[] = [];
  readonly #jobs = new Map<number, Job>();
  readonly #codec: CompressionCodec;
  readonly #level: number;
  readonly #groupSize: number;
  #next = 0;
  #failure: Error | undefined;

  /**
   * Whether the worker script is where the pool looks for it: beside this module. A bundle of an
   * application that leaves `compress-worker.js` out compresses on the calling thread instead.
   */
  static available(): boolean {
    return existsSync(fileURLToPath(workerUrl()));
  }

  constructor(count: number, codec: CompressionCodec, level: number, groupSize: number, dictionary: Uint8Array | undefined) {
    this.#codec = codec;
    this.#level = level;
    this.#groupSize = groupSize;
    const workerData: CompressWorkerData = { dictionary };
    for (let i = 0; i < count; i++) {
      const worker = startWorkerBeside(import.meta.url, 'compress-worker', { workerData });
      worker.on('message', (reply: CompressReply) => {
        const job = this.#jobs.get(reply.id);
        if (job === undefined) return;
        this.#jobs.delete(reply.id);
        this.#load[job.worker] = (this.#load[job.worker] ?? 1) - 1;
        if (reply.error === undefined) job.resolve({ frames: reply.frames, sizes: reply.sizes });
        else job.reject(new CompressError('ERR_COMPRESS_IO', `compression worker failed: ${reply.error}`));
      });
      worker.on('error', (e) => {
        this.#fail(new CompressError('ERR_COMPRESS_IO', `compression worker failed: ${e.message}`, { cause: e }));
      });
      worker.on('exit', (code) => {
        // A worker that stops while jobs wait would leave them pending forever.
        if (this.#jobs.size > 0) this.#fail(new CompressError('ERR_COMPRESS_IO', `compression worker exited with code ${code}`));
      });
      this.#workers.push(worker);
      this.#load.push(0);
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const job of this.#jobs.values()) job.reject(error);
    this.#jobs.clear();
  }

  /**
   * Compresses consecutive groups on a worker, each into one frame (see `compressGroups`). The
   * bytes' buffer moves to the worker: the caller must not use `groups` afterwards.
   */
  compress(groups: Uint8Array): Promise<CompressedBatch> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    let w = 0;
    for (let i = 1; i < this.#load.length; i++) if ((this.#load[i] as number) < (this.#load[w] as number)) w = i;
    const id = this.#next++;
    const request: CompressRequest = {
      id,
      codec: this.#codec,
      level: this.#level,
      groupSize: this.#groupSize,
      buffer: groups.buffer as ArrayBuffer,
      offset: groups.byteOffset,
      length: groups.byteLength,
    };
    return new Promise<CompressedBatch>((resolve, reject) => {
      this.#jobs.set(id, { worker: w, resolve, reject });
      this.#load[w] = (this.#load[w] as number) + 1;
      (this.#workers[w] as Worker).postMessage(request, [request.buffer]);
    });
  }

  /** Stops every worker; jobs still in flight fail. */
  async close(): Promise<void> {
    this.#fail(new CompressError('ERR_COMPRESS_IO', 'compression workers closed'));
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
