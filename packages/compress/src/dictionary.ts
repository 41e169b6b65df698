import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { throwIfAborted } from '@gosync/core';
import { MAX_DICTIONARY_SIZE } from './codecs.js';
import { CompressError } from './errors.js';

/** Options of {@link sampleDictionary}. */
export interface SampleDictionaryOptions {
  /** The dictionary's size in bytes, at most {@link MAX_DICTIONARY_SIZE} (rounded down to whole pieces). */
  readonly size: number;
  /** Bytes per piece (default 256): smaller pieces cover more of the file. */
  readonly pieceSize?: number | undefined;
  /** Checked before each read; the abort reason is rethrown. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Samples a raw-content zstd dictionary from a file: `size / pieceSize` pieces taken at evenly
 * spaced offsets, in file order. Compressing every group with it (`compressFile`'s `dictionary`)
 * gives each frame a history to refer to, which pays for small groups of text (the README
 * measures it). The file must be at least 16 times `size`; a smaller one gets a smaller
 * dictionary (empty below 16 pieces' worth: use none then).
 *
 * @param input - the target's path
 * @param options - size, piece size, signal
 * @returns the dictionary's bytes (possibly fewer than `size`, or none)
 * @throws {@link CompressError} `ERR_COMPRESS_INVALID_OPTION` for a bad size or piece size,
 *   `ERR_COMPRESS_IO` when reading fails; the abort reason on abort
 * @example
 * ```ts
 * const dictionary = await sampleDictionary('app-2.0.tar', { size: 16_384 });
 * const layout = await compressFile('app-2.0.tar', 'app-2.0.tar.gsz', { blockSize: 2048, dictionary });
 * ```
 */
export async function sampleDictionary(input: string, options: SampleDictionaryOptions): Promise<Uint8Array> {
  const { size, signal } = options;
  const pieceSize = options.pieceSize ?? 256;
  throwIfAborted(signal);
  if (!Number.isInteger(size) || size < 0 || size > MAX_DICTIONARY_SIZE) {
    throw new CompressError('ERR_COMPRESS_INVALID_OPTION', `size must be an integer in [0, ${MAX_DICTIONARY_SIZE}], got ${String(size)}`);
  }
  if (!Number.isInteger(pieceSize) || pieceSize < 1 || pieceSize > MAX_DICTIONARY_SIZE) {
    throw new CompressError('ERR_COMPRESS_INVALID_OPTION', `pieceSize must be an integer in [1, ${MAX_DICTIONARY_SIZE}], got ${String(pieceSize)}`);
  }
  let handle: FileHandle | undefined;
  try {
    handle = await open(input, 'r');
    const length = (await handle.stat()).size;
    const pieces = Math.min(Math.floor(size / pieceSize), Math.floor(length / (16 * pieceSize)));
    if (pieces < 1) return new Uint8Array(0);
    const out = new Uint8Array(pieces * pieceSize);
    const step = Math.floor(length / pieces);
    for (let i = 0; i < pieces; i++) {
      throwIfAborted(signal);
      let filled = 0;
      while (filled < pieceSize) {
        const { bytesRead } = await handle.read(out, i * pieceSize + filled, pieceSize - filled, i * step + filled);
        if (bytesRead === 0) throw new Error(`${input} ended at ${i * step + filled} bytes, before its stated ${length}`);
        filled += bytesRead;
      }
    }
    return out;
  } catch (cause) {
    if (cause instanceof CompressError) throw cause;
    throwIfAborted(signal);
    throw new CompressError('ERR_COMPRESS_IO', `sampling a dictionary from ${input} failed: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
