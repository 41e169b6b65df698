import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { throwIfAborted } from '@gosync/core';
import type { AbortOptions, BlockSource, ByteRange, RangeData, RangeVerifier } from '@gosync/core';
import { checkRanges } from './check-ranges.js';
import { BlockSourceError, describeRange } from './errors.js';

/** Options of {@link FileSource}. */
export interface FileSourceOptions {
  /** Checks every range before it is yielded; a bad one fails with `ERR_BLOCKSOURCE_VERIFY_FAILED`. */
  readonly verifier?: RangeVerifier | undefined;
}

interface OpenFile {
  readonly handle: FileHandle;
  readonly size: number;
}

/**
 * A {@link BlockSource} over a local file, read with positional reads through one
 * `FileHandle` that is opened on the first fetch and released by `close()`. Offsets beyond
 * 4 GiB work.
 *
 * @example
 * ```ts
 * const source = new FileSource('/var/cache/app-1.2.bin');
 * try {
 *   for await (const { range, data } of source.fetch([{ start: 0, end: 4096 }])) write(range, data);
 * } finally {
 *   await source.close();
 * }
 * ```
 */
export class FileSource implements BlockSource {
  readonly #path: string;
  readonly #verifier: RangeVerifier | undefined;
  #file: Promise<OpenFile> | undefined;
  #closed = false;

  /**
   * @param path - the file to read; it is not opened until the first fetch
   * @param options - verifier
   */
  constructor(path: string, options: FileSourceOptions = {}) {
    this.#path = path;
    this.#verifier = options.verifier;
  }

  #open(): Promise<OpenFile> {
    this.#file ??= (async () => {
      let handle: FileHandle;
      try {
        handle = await open(this.#path, 'r');
      } catch (cause) {
        throw new BlockSourceError('ERR_BLOCKSOURCE_IO', `${this.#path}: cannot open: ${String(cause)}`, {
          cause,
        });
      }
      try {
        const stat = await handle.stat();
        return { handle, size: stat.size };
      } catch (cause) {
        await handle.close();
        throw new BlockSourceError('ERR_BLOCKSOURCE_IO', `${this.#path}: cannot stat: ${String(cause)}`, {
          cause,
        });
      }
    })();
    // A failed open is not cached: the next fetch tries again.
    this.#file.catch(() => {
      this.#file = undefined;
    });
    return this.#file;
  }

  /**
   * Yields each requested range, in ascending order, read with positional reads.
   *
   * @param ranges - non-overlapping ranges inside the file
   * @param options - abort signal, checked between ranges
   * @returns the ranges' bytes
   * @throws {@link BlockSourceError} `ERR_BLOCKSOURCE_INVALID_RANGE`, `ERR_BLOCKSOURCE_OUT_OF_BOUNDS`
   *   (also when the file shrinks while reading), `ERR_BLOCKSOURCE_VERIFY_FAILED`,
   *   `ERR_BLOCKSOURCE_IO`, `ERR_BLOCKSOURCE_CLOSED`; the abort reason on abort
   */
  async *fetch(ranges: readonly ByteRange[], options: AbortOptions = {}): AsyncGenerator<RangeData> {
    const { signal } = options;
    throwIfAborted(signal);
    this.#checkOpen();
    const sorted = checkRanges(ranges, this.#path);
    const { handle, size } = await this.#open();
    throwIfAborted(signal);
    for (const range of sorted) {
      if (range.end > size) {
        throw new BlockSourceError(
          'ERR_BLOCKSOURCE_OUT_OF_BOUNDS',
          `${this.#path}: range ${describeRange(range)} ends past the end of the file (${size} bytes)`,
        );
      }
    }
    for (const range of sorted) {
      throwIfAborted(signal);
      this.#checkOpen();
      const data = new Uint8Array(range.end - range.start);
      let filled = 0;
      while (filled < data.length) {
        let bytesRead: number;
        try {
          ({ bytesRead } = await handle.read(data, filled, data.length - filled, range.start + filled));
        } catch (cause) {
          this.#checkOpen();
          throw new BlockSourceError(
            'ERR_BLOCKSOURCE_IO',
            `${this.#path}: reading range ${describeRange(range)} failed: ${String(cause)}`,
            { cause },
          );
        }
        if (bytesRead === 0) {
          throw new BlockSourceError(
            'ERR_BLOCKSOURCE_OUT_OF_BOUNDS',
            `${this.#path}: the file ended at ${range.start + filled} inside range ${describeRange(range)} (it shrank while reading)`,
          );
        }
        filled += bytesRead;
      }
      if (this.#verifier !== undefined && !this.#verifier.verify(range, data)) {
        throw new BlockSourceError(
          'ERR_BLOCKSOURCE_VERIFY_FAILED',
          `${this.#path}: range ${describeRange(range)} failed verification`,
        );
      }
      yield { range, data };
    }
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new BlockSourceError('ERR_BLOCKSOURCE_CLOSED', `${this.#path}: fetch after close()`);
    }
  }

  /** Closes the file handle (if it was opened); later fetches fail with `ERR_BLOCKSOURCE_CLOSED`. */
  async close(): Promise<void> {
    this.#closed = true;
    const file = this.#file;
    this.#file = undefined;
    if (file !== undefined) {
      const opened = await file.catch(() => undefined);
      await opened?.handle.close();
    }
  }
}
