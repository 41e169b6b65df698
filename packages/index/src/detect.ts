import { readFile, stat } from 'node:fs/promises';
import type { BlockIndex } from './block-index.js';
import { IndexError } from './errors.js';
import { decodeGosync } from './gosync-format.js';
import { decodeIndex, GSI_MAGIC } from './gsi.js';
import { assertBytes, DEFAULT_MAX_BLOCKS, type DecodeOptions } from './limits.js';
import { decodeZsync } from './zsync.js';

function ascii(text: string): number[] {
  return Array.from({ length: text.length }, (_, i) => text.charCodeAt(i));
}

/** The index formats this library reads and writes. */
export type IndexFormat = 'native' | 'zsync' | 'gosync';

/**
 * Recognises an index format by its first bytes.
 *
 * @param bytes - the start of a file (8 bytes are enough)
 * @returns the format, or undefined when none matches
 * @example
 * ```ts
 * detectIndexFormat(new TextEncoder().encode('zsync: 0.6.2\n')); // 'zsync'
 * ```
 */
export function detectIndexFormat(bytes: Uint8Array): IndexFormat | undefined {
  assertBytes(bytes);
  const starts = (prefix: ArrayLike<number>): boolean => {
    if (bytes.length < prefix.length) return false;
    for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
    return true;
  };
  if (starts(GSI_MAGIC)) return 'native';
  if (starts(ascii('zsync: '))) return 'zsync';
  if (starts(ascii('G0S9NC'))) return 'gosync';
  return undefined;
}

/**
 * Decodes an index in any supported format, chosen by its magic bytes.
 *
 * @param bytes - the whole file
 * @param options - limits and a source name for messages
 * @returns the format and the index
 * @throws {@link IndexError} `ERR_INDEX_BAD_MAGIC` when no format matches, else any error of
 *   {@link decodeIndex}, {@link decodeZsync} or {@link decodeGosync}
 * @example
 * ```ts
 * const { format, index } = decodeAnyIndex(await readFile(path));
 * ```
 */
export function decodeAnyIndex(
  bytes: Uint8Array,
  options?: DecodeOptions,
): { format: IndexFormat; index: BlockIndex } {
  const format = detectIndexFormat(bytes);
  const where = options?.source ?? 'index';
  if (format === undefined) {
    throw new IndexError('ERR_INDEX_BAD_MAGIC', `${where}: not a native (.gsi), .zsync or .gosync index (first bytes ${Buffer.from(bytes.subarray(0, 8)).toString('hex')})`);
  }
  const index =
    format === 'native' ? decodeIndex(bytes, options) : format === 'zsync' ? decodeZsync(bytes, options) : decodeGosync(bytes, options);
  return { format, index };
}

/**
 * Reads and decodes an index file in any supported format.
 *
 * @param path - the file
 * @param options - limits and abort signal; `source` defaults to `path`
 * @returns the format and the index
 * @throws {@link IndexError} `ERR_INDEX_IO` when the file cannot be read,
 *   `ERR_INDEX_LIMIT_EXCEEDED` when it is larger than any index within `maxBlocks`, else as
 *   {@link decodeAnyIndex}
 * @example
 * ```ts
 * const { index } = await readIndexFile('target.iso.zsync');
 * ```
 */
export async function readIndexFile(
  path: string,
  options: DecodeOptions & { readonly signal?: AbortSignal } = {},
): Promise<{ format: IndexFormat; index: BlockIndex }> {
  let bytes: Uint8Array;
  // No index format needs more than 44 bytes per block (4 weak + 32 strong + 4 length + slack).
  const limit = (options.maxBlocks ?? DEFAULT_MAX_BLOCKS) * 44 + (1 << 20);
  try {
    const { size } = await stat(path);
    if (size > limit) {
      throw new IndexError('ERR_INDEX_LIMIT_EXCEEDED', `${path}: ${size} bytes is larger than any index of at most ${options.maxBlocks ?? DEFAULT_MAX_BLOCKS} blocks`);
    }
    bytes = await readFile(path, options.signal === undefined ? {} : { signal: options.signal });
  } catch (e) {
    if (options.signal?.aborted === true) throw options.signal.reason;
    if (e instanceof IndexError) throw e;
    throw new IndexError('ERR_INDEX_IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return decodeAnyIndex(bytes, { source: path, ...options });
}
