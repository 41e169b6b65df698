import { IndexError } from './errors.js';

/** Bounds every decoder enforces before it allocates anything large. */
export interface DecodeOptions {
  /**
   * The most blocks an index may have (default 2^27 ≈ 134 million, a 512 GiB file at 4 KiB).
   * Larger counts fail with `ERR_INDEX_LIMIT_EXCEEDED`.
   */
  readonly maxBlocks?: number;
  /** A name for the input used in error messages (a file name or URL). */
  readonly source?: string;
}

/** The default of {@link DecodeOptions.maxBlocks}. */
export const DEFAULT_MAX_BLOCKS: number = 2 ** 27;

/** @internal */
export interface ResolvedDecodeOptions {
  readonly maxBlocks: number;
  readonly where: string;
}

/** @internal */
export function resolveDecodeOptions(options: DecodeOptions | undefined, format: string): ResolvedDecodeOptions {
  const maxBlocks = options?.maxBlocks ?? DEFAULT_MAX_BLOCKS;
  if (!Number.isSafeInteger(maxBlocks) || maxBlocks < 0) {
    throw new IndexError('ERR_INDEX_INVALID_OPTION', `maxBlocks: expected a non-negative safe integer, got ${String(maxBlocks)}`);
  }
  const where = options?.source === undefined ? format : `${format} ${options.source}`;
  return { maxBlocks, where };
}

/** @internal */
export function assertBytes(bytes: unknown): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) {
    throw new IndexError('ERR_INDEX_INVALID_OPTION', `bytes: expected a Uint8Array, got ${typeof bytes}`);
  }
}
