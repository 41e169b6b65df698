import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { throwIfAborted } from '@gosync/core';
import { PatcherError } from './errors.js';

/** A seed: a file path, or bytes already in memory. */
export type SeedInput = string | Uint8Array;

/** Bytes per piece of {@link SeedReader.pieces}. @internal */
export const PIECE: number = 2 << 20;

/**
 * Reads up to this long are done on the calling thread (a small read-ahead too: it is done
 * before the piece before it is handed over). Such a copy takes microseconds; handing it to
 * libuv's thread pool and back costs more, and far more while the cores are busy: during the
 * re-scans that end a parallel scan (two threads scanning, V8 compiling and collecting beside
 * them), reads of 8–36 KiB took 3–6 ms each, and one of 750 KiB 15 ms, waiting for a core.
 */
const READ_HERE_MAX = 256 << 10;

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

  /**
   * Reads `[offset, offset + length)`, clamped to the seed's end: on the calling thread up to
   * {@link READ_HERE_MAX} bytes, or when `here` (a read nothing else waits beside), else on
   * libuv's thread pool.
   */
  async read(offset: number, length: number, into?: Uint8Array, here = false): Promise<Uint8Array> {
    const end = Math.min(this.length, offset + length);
    const n = Math.max(0, end - offset);
    if (this.#bytes !== undefined) return this.#bytes.subarray(offset, offset + n);
    const buffer = into !== undefined && into.length >= n ? into.subarray(0, n) : new Uint8Array(n);
    const file = this.#file as FileHandle;
    const now = here || n <= READ_HERE_MAX;
    let done = 0;
    try {
      while (done < n) {
        const bytesRead = now ? readSync(file.fd, buffer, done, n - done, offset + done) : (await file.read(buffer, done, n - done, offset + done)).bytesRead;
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
   * The bytes `[from, to)` of the seed (default: all of it) in order, in pieces of up to {@link PIECE} bytes (2 MiB).
   * For files, the first piece is read on the calling thread (nothing could be done beside it),
   * then the next piece is read while the caller works on this one, into the other of two
   * reused buffers (`into`, of at least PIECE bytes or what is read, else new ones): a piece
   * stays valid until the caller asks for the one after it.
   */
  async *pieces(signal?: AbortSignal, from = 0, to: number = this.length, into?: readonly [Uint8Array, Uint8Array]): AsyncIterable<Uint8Array> {
    const end = Math.min(to, this.length);
    if (this.#bytes !== undefined) {
      for (let offset = from; offset < end; offset += PIECE) {
        throwIfAborted(signal);
        yield this.#bytes.subarray(offset, Math.min(end, offset + PIECE));
      }
      return;
    }
    if (from >= end) return;
    const size = this.pieceLength(from, to);
    const buffers = into !== undefined && into[0].length >= size && into[1].length >= size ? into : ([new Uint8Array(size), new Uint8Array(size)] as const);
    const readAt = (offset: number, i: number): Promise<Uint8Array> => {
      const read = this.read(offset, Math.min(PIECE, end - offset), buffers[i & 1], i === 0);
      // Handled here too, so that a failure while the caller is busy is not an unhandled
      // rejection; the caller still gets it when it awaits this piece.
      read.catch(() => undefined);
      return read;
    };
    let next: Promise<Uint8Array> | undefined = readAt(from, 0);
    try {
      for (let offset = from, i = 0; next !== undefined; offset += PIECE, i++) {
        const piece: Uint8Array = await next;
        next = offset + PIECE < end ? readAt(offset + PIECE, i + 1) : undefined;
        throwIfAborted(signal);
        yield piece;
      }
    } finally {
      // Stopped early (an abort, an error, a break): let the read in flight settle, unobserved.
      await next?.then(() => undefined, () => undefined);
    }
  }

  /** The length of the longest piece {@link SeedReader.pieces} gives for `[from, to)` (at least 1): what buffers passed to it need. */
  pieceLength(from: number, to: number): number {
    return Math.min(PIECE, Math.max(1, Math.min(to, this.length) - from));
  }

  async close(): Promise<void> {
    await this.#file?.close();
  }
}
