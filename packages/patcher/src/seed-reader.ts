import { open, type FileHandle } from 'node:fs/promises';
import { throwIfAborted } from '@gosync/core';
import { PatcherError } from './errors.js';

/** A seed: a file path, or bytes already in memory. */
export type SeedInput = string | Uint8Array;

const PIECE = 4 << 20;

/** Random and sequential access to one seed, file or memory. @internal */
export class SeedReader {
  readonly name: string;
  /** The file path, for file seeds. */
  readonly path: string | undefined;
  readonly length: number;
  readonly #bytes: Uint8Array | undefined;
  readonly #file: FileHandle | undefined;

  private constructor(name: string, length: number, bytes?: Uint8Array, file?: FileHandle) {
    this.name = name;
    this.path = file === undefined ? undefined : name;
    this.length = length;
    this.#bytes = bytes;
    this.#file = file;
  }

  static async open(seed: SeedInput, id: number): Promise<SeedReader> {
    if (typeof seed !== 'string') return new SeedReader(`seed #${id} (memory)`, seed.length, seed);
    let file: FileHandle | undefined;
    try {
      file = await open(seed, 'r');
      const stat = await file.stat();
      if (!stat.isFile()) throw new Error('not a regular file');
      return new SeedReader(seed, stat.size, undefined, file);
    } catch (cause) {
      await file?.close();
      throw new PatcherError('ERR_PATCHER_SEED', `cannot read seed ${seed}: ${(cause as Error).message}`, { cause });
    }
  }

  /** Reads `[offset, offset + length)`, clamped to the seed's end. */
  async read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    const end = Math.min(this.length, offset + length);
    const n = Math.max(0, end - offset);
    if (this.#bytes !== undefined) return this.#bytes.subarray(offset, offset + n);
    const buffer = into !== undefined && into.length >= n ? into.subarray(0, n) : new Uint8Array(n);
    let done = 0;
    try {
      while (done < n) {
        const { bytesRead } = await (this.#file as FileHandle).read(buffer, done, n - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (cause) {
      throw new PatcherError('ERR_PATCHER_SEED', `cannot read seed ${this.name} at offset ${offset + done}: ${(cause as Error).message}`, { cause });
    }
    if (done < n) {
      throw new PatcherError('ERR_PATCHER_SEED', `seed ${this.name} ended at ${offset + done}, expected ${this.length} bytes (changed while reading?)`);
    }
    return buffer;
  }

  /**
   * The bytes `[from, to)` of the seed (default: all of it) in order, in pieces of up to 1 MiB
   * (a reused buffer for files).
   */
  async *pieces(signal?: AbortSignal, from = 0, to: number = this.length): AsyncIterable<Uint8Array> {
    const buffer = this.#bytes === undefined ? new Uint8Array(PIECE) : undefined;
    const end = Math.min(to, this.length);
    for (let offset = from; offset < end; offset += PIECE) {
      throwIfAborted(signal);
      yield await this.read(offset, Math.min(PIECE, end - offset), buffer);
    }
  }

  async close(): Promise<void> {
    await this.#file?.close();
  }
}
