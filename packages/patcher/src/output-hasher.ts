import { createHash, type Hash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { throwIfAborted } from '@gosync/core';
import { PatcherError } from './errors.js';
import type { OutputFile } from './output-file.js';
import type { VerifyReply, VerifyRequest } from './verify-worker.js';
import { startPatcherWorker } from './worker-start.js';

/**
 * Computes the whole-file hashes of the output while the patch is still writing it: the written
 * prefix is hashed as it grows ({@link OutputHasher.advance}), so that at the end only the rest
 * is left. Targets of {@link WORKER_THRESHOLD} bytes or more are hashed on a worker thread (the
 * SHA-1 or SHA-256 of 557 MB costs 0.5 s of a core); smaller ones on the calling thread, in the
 * time it spends waiting for the disk and the network.
 *
 * @internal
 */
export interface OutputHasher {
  /** Where the digests were computed, once {@link OutputHasher.digests} returned them. */
  readonly hashedOn: 'inline' | 'worker' | undefined;
  /** The output is written without a gap up to `upTo`. */
  advance(upTo: number): void;
  /**
   * Hashes the rest of the output up to `length` and returns one digest per algorithm, in order.
   *
   * @throws {@link PatcherError} `ERR_PATCHER_VERIFY_FAILED` when the file is shorter,
   *   `ERR_PATCHER_IO` when it cannot be read
   */
  digests(length: number, signal?: AbortSignal): Promise<Uint8Array[]>;
  /** Stops hashing (after a failure or once done); may be called more than once. */
  close(): Promise<void>;
}

/** Targets from this size on are hashed on a worker thread (when there is more than one core). */
export const WORKER_THRESHOLD: number = 64 << 20;
const READ = 1 << 20;
/** How far the prefix must grow before it is hashed (inline) or announced (worker). */
const STEP = 4 << 20;

/**
 * @param mode - where to hash; by default on a worker for targets of {@link WORKER_THRESHOLD}
 *   bytes or more when there is more than one core, else on the calling thread
 * @internal
 */
export function createOutputHasher(
  out: OutputFile,
  algorithms: readonly string[],
  length: number,
  mode: 'inline' | 'worker' = length >= WORKER_THRESHOLD && availableParallelism() > 1 ? 'worker' : 'inline',
): OutputHasher {
  return mode === 'worker' ? new WorkerHasher(out, algorithms) : new InlineHasher(out, algorithms);
}

/** Hashes on the calling thread, a step at a time, whenever the prefix has grown by a step. */
class InlineHasher implements OutputHasher {
  readonly #out: OutputFile;
  readonly #hashes: Hash[];
  readonly #buffer = new Uint8Array(READ);
  #hashed = 0;
  #upTo = 0;
  #pump: Promise<void> | undefined;
  #error: unknown;
  #closed = false;
  hashedOn: 'inline' | undefined;

  constructor(out: OutputFile, algorithms: readonly string[]) {
    this.#out = out;
    this.#hashes = algorithms.map((a) => createHash(a));
  }

  advance(upTo: number): void {
    this.#upTo = Math.max(this.#upTo, upTo);
    if (this.#pump !== undefined || this.#error !== undefined || this.#closed || this.#upTo - this.#hashed < STEP) return;
    this.#pump = this.#hashTo(() => this.#upTo).then(
      () => {
        this.#pump = undefined;
      },
      (error: unknown) => {
        this.#error = error;
        this.#pump = undefined;
      },
    );
  }

  async #hashTo(limit: () => number, signal?: AbortSignal): Promise<void> {
    while (!this.#closed && this.#hashed < limit()) {
      throwIfAborted(signal);
      const n = Math.min(READ, limit() - this.#hashed);
      const bytes = await this.#out.read(this.#hashed, n, this.#buffer);
      if (bytes.length === 0) {
        throw new PatcherError('ERR_PATCHER_VERIFY_FAILED', `${this.#out.path} ended at ${this.#hashed} while being checked, expected at least ${limit()} bytes`);
      }
      for (const h of this.#hashes) h.update(bytes);
      this.#hashed += bytes.length;
    }
  }

  async digests(length: number, signal?: AbortSignal): Promise<Uint8Array[]> {
    await this.#pump;
    if (this.#error !== undefined) throw this.#error as Error;
    await this.#hashTo(() => length, signal);
    this.hashedOn = 'inline';
    return this.#hashes.map((h) => new Uint8Array(h.digest()));
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#pump;
  }
}

/**
 * Hashes on a worker thread that reads the output file itself. Should the worker fail to start
 * or die, the hashes are computed on the calling thread at the end instead: a sync never goes
 * unchecked, and a real read error shows up there with its own message.
 */
class WorkerHasher implements OutputHasher {
  readonly #out: OutputFile;
  readonly #algorithms: readonly string[];
  readonly #worker: Worker;
  readonly #reply: Promise<VerifyReply>;
  #posted = 0;
  #done = false;
  hashedOn: 'inline' | 'worker' | undefined;

  constructor(out: OutputFile, algorithms: readonly string[]) {
    this.#out = out;
    this.#algorithms = algorithms;
    const worker = startPatcherWorker('verify-worker');
    this.#worker = worker;
    this.#reply = new Promise<VerifyReply>((resolve) => {
      worker.on('message', resolve);
      worker.on('error', (e) => {
        resolve({ kind: 'error', message: e.message });
      });
      worker.on('exit', (code) => {
        resolve({ kind: 'error', message: `the verify worker exited with code ${code}` });
      });
    });
    this.#post({ kind: 'start', path: out.path, algorithms });
  }

  #post(request: VerifyRequest): void {
    if (!this.#done) this.#worker.postMessage(request);
  }

  advance(upTo: number): void {
    if (upTo - this.#posted < STEP) return;
    this.#posted = upTo;
    this.#post({ kind: 'upTo', upTo });
  }

  async digests(length: number, signal?: AbortSignal): Promise<Uint8Array[]> {
    this.#post({ kind: 'finish', length });
    const reply = await untilAborted(this.#reply, signal);
    await this.close();
    if (reply.kind === 'digests' && reply.hashed === length) {
      this.hashedOn = 'worker';
      return reply.digests.map((d) => new Uint8Array(d));
    }
    if (reply.kind === 'error' && reply.code === 'ERR_PATCHER_VERIFY_FAILED') throw new PatcherError('ERR_PATCHER_VERIFY_FAILED', reply.message);
    // The worker could not do it: hash here, from the start.
    const digests = await new InlineHasher(this.#out, this.#algorithms).digests(length, signal);
    this.hashedOn = 'inline';
    return digests;
  }

  async close(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#worker.terminate();
  }
}

/** `promise`, or a rejection with the signal's reason as soon as it is aborted. */
async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  throwIfAborted(signal);
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        onAbort = () => {
          reject(signal.reason as Error);
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}
