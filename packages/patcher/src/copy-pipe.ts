import { throwIfAborted } from '@gosync/core';
import { WriteQueue } from './write-queue.js';

/** Reads `n` bytes at `offset`, into `into` or elsewhere; returns them. */
export type PieceRead = (offset: number, n: number, into: Uint8Array) => Promise<Uint8Array>;

/**
 * Copies byte ranges into the output through two buffers, so that the next piece is read while
 * the last one is written: one write in flight at a time, always from the buffer not being read
 * into. Copies run in the order they are asked for; {@link CopyPipe.drain} waits for the last
 * write. Not for concurrent use.
 *
 * @internal
 */
export class CopyPipe {
  readonly #buffers: readonly [Uint8Array, Uint8Array];
  readonly #write: (bytes: Uint8Array, offset: number) => Promise<void>;
  /** One write at a time: a buffer is read into again only after the write from it ended. */
  readonly #writes = new WriteQueue(1);
  #turn = 0;

  /**
   * @param pieceSize - bytes per piece (two buffers of this size are kept)
   * @param write - writes a piece at an output offset
   */
  constructor(pieceSize: number, write: (bytes: Uint8Array, offset: number) => Promise<void>) {
    this.#buffers = [new Uint8Array(pieceSize), new Uint8Array(pieceSize)];
    this.#write = write;
  }

  /**
   * Copies `length` bytes from `from` (read with `read`) to output offset `to`, piece by piece.
   * Resolves once the last piece is read and its write started: `onWritten(start, end)` is called
   * as each piece's write ends; a failed write is thrown by a later call or {@link CopyPipe.drain}.
   */
  async copy(read: PieceRead, from: number, to: number, length: number, signal: AbortSignal | undefined, onWritten: (start: number, end: number) => void): Promise<void> {
    const size = this.#buffers[0].length;
    try {
      for (let done = 0; done < length; ) {
        throwIfAborted(signal);
        const n = Math.min(size, length - done);
        const bytes = await read(from + done, n, this.#buffers[this.#turn] as Uint8Array);
        this.#turn ^= 1;
        const at = to + done;
        await this.#writes.add(
          () => this.#write(bytes, at),
          () => {
            onWritten(at, at + n);
          },
        );
        done += n;
      }
    } catch (error) {
      // No write is left running into a file the caller is about to close.
      await this.#writes.settle();
      throw error;
    }
  }

  /** Waits for the write in flight; throws its failure. */
  async drain(): Promise<void> {
    await this.#writes.drain();
  }
}
