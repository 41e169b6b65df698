import { throwIfAborted } from '@gosync/core';
import type { AbortOptions, BlockSource, ByteRange, RangeData, RangeVerifier } from '@gosync/core';
import { checkRanges } from './check-ranges.js';
import { BlockSourceError, describeRange } from './errors.js';

/** Options of {@link MemorySource}. */
export interface MemorySourceOptions {
  /** Checks every range before it is yielded; a bad one fails with `ERR_BLOCKSOURCE_VERIFY_FAILED`. */
  readonly verifier?: RangeVerifier | undefined;
  /** Names the source in error messages (default `memory`). */
  readonly name?: string | undefined;
}

/**
 * A {@link BlockSource} over bytes in memory: for tests, and for targets already held in memory.
 * Each yielded range is a copy, so the receiver may keep or change it.
 *
 * @example
 * ```ts
 * const source = new MemorySource(new TextEncoder().encode('hello world'));
 * for await (const { range, data } of source.fetch([{ start: 6, end: 11 }])) {
 *   console.log(range.start, new TextDecoder().decode(data)); // 6 world
 * }
 * ```
 */
export class MemorySource implements BlockSource {
  readonly #bytes: Uint8Array;
  readonly #verifier: RangeVerifier | undefined;
  readonly #name: string;
  #closed = false;

  /**
   * @param bytes - the whole file (not copied: do not change it while fetching)
   * @param options - verifier and name
   */
  constructor(bytes: Uint8Array, options: MemorySourceOptions = {}) {
    this.#bytes = bytes;
    this.#verifier = options.verifier;
    this.#name = options.name ?? 'memory';
  }

  /** The length of the bytes, in bytes. */
  get size(): number {
    return this.#bytes.length;
  }

  /**
   * Yields a copy of each requested range, in ascending order.
   *
   * @param ranges - non-overlapping ranges inside the bytes
   * @param options - abort signal, checked between ranges
   * @returns the ranges' bytes
   * @throws {@link BlockSourceError} `ERR_BLOCKSOURCE_INVALID_RANGE`, `ERR_BLOCKSOURCE_OUT_OF_BOUNDS`,
   *   `ERR_BLOCKSOURCE_VERIFY_FAILED`, `ERR_BLOCKSOURCE_CLOSED`; the abort reason on abort
   */
  async *fetch(ranges: readonly ByteRange[], options: AbortOptions = {}): AsyncGenerator<RangeData> {
    const { signal } = options;
    throwIfAborted(signal);
    if (this.#closed) {
      throw new BlockSourceError('ERR_BLOCKSOURCE_CLOSED', `${this.#name}: fetch after close()`);
    }
    const sorted = checkRanges(ranges, this.#name);
    const size = this.#bytes.length;
    for (const range of sorted) {
      if (range.end > size) {
        throw new BlockSourceError(
          'ERR_BLOCKSOURCE_OUT_OF_BOUNDS',
          `${this.#name}: range ${describeRange(range)} ends past the end of the source (${size} bytes)`,
        );
      }
    }
    for (const range of sorted) {
      throwIfAborted(signal);
      const data = this.#bytes.slice(range.start, range.end);
      if (this.#verifier !== undefined && !this.#verifier.verify(range, data)) {
        throw new BlockSourceError(
          'ERR_BLOCKSOURCE_VERIFY_FAILED',
          `${this.#name}: range ${describeRange(range)} failed verification`,
        );
      }
      yield { range, data };
      await Promise.resolve();
    }
  }

  /** Marks the source closed; later fetches fail with `ERR_BLOCKSOURCE_CLOSED`. */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}
