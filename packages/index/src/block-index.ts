import type { ByteRange } from '@gosync/core';
import { zsyncRsumMask } from '@gosync/rollsum';
import { IndexError } from './errors.js';
import { type HashLengths } from './hash-lengths.js';
import { isStrongHashName, strongHashInfo, type StrongHashName } from './hashes.js';

/** Whether an index cuts its target into fixed-size blocks or content-defined chunks. */
export type IndexKind = 'blocks' | 'chunks';

/** The names of whole-file hashes. */
export type FileHashName = 'sha256' | 'sha1';

/** A whole-target hash. */
export interface FileHash {
  /** The algorithm. */
  readonly algorithm: FileHashName;
  /** The digest (32 bytes for SHA-256, 20 for SHA-1). */
  readonly digest: Uint8Array;
}

/** Free-form facts about the target that travel with the index. */
export interface IndexMetadata {
  /** The target's file name (no directory). */
  readonly filename?: string;
  /** The target's modification time, in whole seconds since the Unix epoch. */
  readonly mtime?: number;
  /** Where the target's bytes can be fetched; may be relative to the index's own URL. */
  readonly urls?: readonly string[];
  /**
   * Opaque named binary attachments: information other packages own and this one only carries
   * (e.g. `compress`, the layout of a compressed artifact from `@gosync/compress`). Only the
   * native `.gsi` format stores them: names of 1–64 characters, at most 16 entries, the header
   * holding them at most 4 MiB. `.zsync` and `.gosync` cannot carry them.
   */
  readonly attachments?: Readonly<Record<string, Uint8Array>>;
}

/** The content-defined chunking parameters a chunk-based index was built with. */
export interface ChunkParameters {
  /** Shortest chunk (except the last). */
  readonly minSize: number;
  /** Target average chunk size (a power of two). */
  readonly avgSize: number;
  /** Longest chunk. */
  readonly maxSize: number;
  /** FastCDC normalisation level. */
  readonly normalization: 0 | 1 | 2 | 3;
}

/** Everything needed to construct a {@link BlockIndex}. */
export interface BlockIndexInit extends HashLengths {
  /** Blocks or chunks. */
  readonly kind: IndexKind;
  /** Target length in bytes. */
  readonly fileLength: number;
  /** Block size (blocks); for chunks the chunker's `maxSize`. */
  readonly blockSize: number;
  /** One masked weak sum per block, `a | b << 16` as `@gosync/rollsum` computes it. */
  readonly weakSums: Uint32Array;
  /** `count × strongBytes` bytes: each block's strong hash, truncated. */
  readonly strongHashes: Uint8Array;
  /** The strong hash algorithm. */
  readonly strongHash: StrongHashName;
  /**
   * Whether the short last block's sums were computed over the block zero-padded to
   * `blockSize` (zsync) instead of over its own bytes (native, go-sync).
   */
  readonly padLastBlock: boolean;
  /** Chunks only: `count + 1` ascending offsets, the first 0 and the last `fileLength`. */
  readonly offsets?: Float64Array;
  /** Chunks only: the chunking parameters. */
  readonly chunking?: ChunkParameters;
  /** Whole-target hashes (none for .gosync). */
  readonly fileHashes?: readonly FileHash[];
  /** Facts about the target. */
  readonly metadata?: IndexMetadata;
}

function invalid(what: string): IndexError {
  return new IndexError('ERR_INDEX_INVALID_OPTION', `BlockIndex: ${what}`);
}

/**
 * An index of one target: its length, how it is cut, and per block a weak sum and a strong
 * hash. Sums live in typed arrays (no per-block objects), so a 10-million-block index is
 * about 10 M × (4 + strongBytes) bytes. Instances are frozen; treat the arrays as read-only.
 *
 * Blocks are numbered from 0; block `i` of a block-based index is
 * `[i · blockSize, min((i + 1) · blockSize, fileLength))`, of a chunk-based index
 * `[offsets[i], offsets[i + 1])`.
 *
 * @example
 * ```ts
 * const index = await buildIndex('target.iso');
 * console.log(index.count, index.blockRange(index.count - 1));
 * ```
 */
export class BlockIndex implements HashLengths {
  /** Blocks or chunks. */
  readonly kind: IndexKind;
  /** Target length in bytes. */
  readonly fileLength: number;
  /** Block size in bytes (for chunks: the chunker's maximum chunk size). */
  readonly blockSize: number;
  /** Number of blocks (or chunks). */
  readonly count: number;
  /** Masked weak sums, one per block. */
  readonly weakSums: Uint32Array;
  /** Truncated strong hashes, `strongBytes` per block, packed. */
  readonly strongHashes: Uint8Array;
  /** The strong hash algorithm. */
  readonly strongHash: StrongHashName;
  /** Bytes of each strong hash kept. */
  readonly strongBytes: number;
  /** Bytes of each weak sum kept (2–4). */
  readonly weakBytes: 2 | 3 | 4;
  /** The mask applied to weak sums before they are stored or compared. */
  readonly weakMask: number;
  /** 1 or 2 blocks that must match in a row. */
  readonly seqMatches: 1 | 2;
  /** Whether the last block's sums cover it zero-padded to `blockSize`. */
  readonly padLastBlock: boolean;
  /** Chunk offsets (`count + 1` values) or undefined for a block-based index. */
  readonly offsets: Float64Array | undefined;
  /** Chunking parameters of a chunk-based index. */
  readonly chunking: ChunkParameters | undefined;
  /** Whole-target hashes. */
  readonly fileHashes: readonly FileHash[];
  /** Facts about the target. */
  readonly metadata: IndexMetadata;

  /**
   * @param init - the fields; the arrays are kept, not copied
   * @throws {@link IndexError} `ERR_INDEX_INVALID_OPTION` when sizes, counts, lengths or
   *   offsets are inconsistent
   */
  constructor(init: BlockIndexInit) {
    const { fileLength, blockSize, kind } = init;
    // Typed, but checked: JavaScript callers and casts can pass anything.
    const loose: Record<string, unknown> = { ...init };
    if (loose['kind'] !== 'blocks' && loose['kind'] !== 'chunks') throw invalid(`unknown kind ${String(loose['kind'])}`);
    if (!Number.isSafeInteger(fileLength) || fileLength < 0) {
      throw invalid(`fileLength must be a non-negative safe integer, got ${fileLength}`);
    }
    if (!Number.isSafeInteger(blockSize) || blockSize < 1 || blockSize > 2 ** 30) {
      throw invalid(`blockSize must be an integer in [1, 2^30], got ${blockSize}`);
    }
    if (!isStrongHashName(init.strongHash)) throw invalid(`unknown strong hash ${String(init.strongHash)}`);
    const digestLength = strongHashInfo(init.strongHash).digestLength;
    if (!Number.isInteger(init.strongBytes) || init.strongBytes < 3 || init.strongBytes > digestLength) {
      throw invalid(`strongBytes must be in [3, ${digestLength}] for ${init.strongHash}, got ${init.strongBytes}`);
    }
    if (loose['weakBytes'] !== 2 && loose['weakBytes'] !== 3 && loose['weakBytes'] !== 4) {
      throw invalid(`weakBytes must be 2, 3 or 4, got ${String(loose['weakBytes'])}`);
    }
    if (loose['seqMatches'] !== 1 && loose['seqMatches'] !== 2) {
      throw invalid(`seqMatches must be 1 or 2, got ${String(loose['seqMatches'])}`);
    }
    let count: number;
    if (kind === 'blocks') {
      if (init.offsets !== undefined) throw invalid('offsets are only for chunk-based indexes');
      count = Math.ceil(fileLength / blockSize);
    } else {
      const offsets = init.offsets;
      if (offsets === undefined) throw invalid('a chunk-based index needs offsets');
      count = offsets.length - 1;
      if (count < 0 || offsets[0] !== 0 || offsets[count] !== fileLength) {
        throw invalid(`offsets must run from 0 to fileLength ${fileLength}`);
      }
      for (let i = 0; i < count; i++) {
        const len = (offsets[i + 1] as number) - (offsets[i] as number);
        if (!(len >= 1 && len <= blockSize) || !Number.isInteger(offsets[i + 1])) {
          throw invalid(`chunk ${i} has length ${len}; expected an integer in [1, ${blockSize}]`);
        }
      }
      if (count === 0 && fileLength !== 0) throw invalid('offsets do not cover the file');
    }
    if (init.weakSums.length !== count) {
      throw invalid(`expected ${count} weak sums, got ${init.weakSums.length}`);
    }
    if (init.strongHashes.length !== count * init.strongBytes) {
      throw invalid(`expected ${count * init.strongBytes} strong hash bytes, got ${init.strongHashes.length}`);
    }
    for (const h of init.fileHashes ?? []) {
      const algorithm: unknown = h.algorithm;
      const want = algorithm === 'sha256' ? 32 : algorithm === 'sha1' ? 20 : -1;
      if (h.digest.length !== want) {
        throw invalid(`file hash ${String(algorithm)} must have ${want} bytes, got ${h.digest.length}`);
      }
    }
    this.kind = kind;
    this.fileLength = fileLength;
    this.blockSize = blockSize;
    this.count = count;
    this.weakSums = init.weakSums;
    this.strongHashes = init.strongHashes;
    this.strongHash = init.strongHash;
    this.strongBytes = init.strongBytes;
    this.weakBytes = init.weakBytes;
    this.weakMask = zsyncRsumMask(init.weakBytes);
    this.seqMatches = init.seqMatches;
    this.padLastBlock = init.padLastBlock;
    this.offsets = init.offsets;
    this.chunking = init.chunking;
    this.fileHashes = Object.freeze([...(init.fileHashes ?? [])]);
    this.metadata = Object.freeze({ ...(init.metadata ?? {}) });
    Object.freeze(this);
  }

  /**
   * Start offset of block `i`.
   *
   * @param i - block number in `[0, count)` (`count` gives `fileLength`)
   * @returns the offset of its first byte
   * @example
   * ```ts
   * index.blockStart(2); // 2 * index.blockSize for a block-based index
   * ```
   */
  blockStart(i: number): number {
    if (this.offsets !== undefined) return this.offsets[i] as number;
    return Math.min(i * this.blockSize, this.fileLength);
  }

  /**
   * End offset (exclusive) of block `i`; the last block may be short.
   *
   * @param i - block number in `[0, count)`
   * @returns one past its last byte
   * @example
   * ```ts
   * index.blockEnd(index.count - 1) === index.fileLength; // true
   * ```
   */
  blockEnd(i: number): number {
    if (this.offsets !== undefined) return this.offsets[i + 1] as number;
    return Math.min((i + 1) * this.blockSize, this.fileLength);
  }

  /**
   * Length of block `i` in bytes.
   *
   * @param i - block number in `[0, count)`
   * @returns `blockEnd(i) − blockStart(i)`
   * @example
   * ```ts
   * index.blockLength(0); // index.blockSize unless the file is shorter
   * ```
   */
  blockLength(i: number): number {
    return this.blockEnd(i) - this.blockStart(i);
  }

  /**
   * The byte range of block `i`.
   *
   * @param i - block number
   * @returns `{ start, end }`
   * @throws {@link IndexError} `ERR_INDEX_INVALID_OPTION` for a block number outside `[0, count)`
   * @example
   * ```ts
   * index.blockRange(0); // { start: 0, end: 4096 }
   * ```
   */
  blockRange(i: number): ByteRange {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) {
      throw invalid(`block ${i} is outside [0, ${this.count})`);
    }
    return { start: this.blockStart(i), end: this.blockEnd(i) };
  }

  /**
   * The stored (truncated) strong hash of block `i`, as a view into {@link strongHashes}.
   *
   * @param i - block number in `[0, count)`
   * @returns `strongBytes` bytes
   * @example
   * ```ts
   * toHex(index.strongHashOf(0));
   * ```
   */
  strongHashOf(i: number): Uint8Array {
    const n = this.strongBytes;
    return this.strongHashes.subarray(i * n, i * n + n);
  }

  /**
   * Compares block `i`'s stored strong hash with the first `strongBytes` of a digest, without
   * allocating.
   *
   * @param i - block number in `[0, count)`
   * @param digest - a full or truncated digest of the same algorithm
   * @returns true when the stored bytes equal the digest's first bytes
   * @example
   * ```ts
   * index.strongHashMatches(0, await strongDigest(index.strongHash, bytes));
   * ```
   */
  strongHashMatches(i: number, digest: Uint8Array): boolean {
    const n = this.strongBytes;
    if (digest.length < n) return false;
    const base = i * n;
    const h = this.strongHashes;
    for (let k = 0; k < n; k++) if (h[base + k] !== digest[k]) return false;
    return true;
  }

  /**
   * The whole-target hash of one algorithm, if the index has it.
   *
   * @param algorithm - `'sha256'` or `'sha1'`
   * @returns the digest or undefined
   * @example
   * ```ts
   * const sha = index.fileHash('sha256');
   * ```
   */
  fileHash(algorithm: FileHashName): Uint8Array | undefined {
    return this.fileHashes.find((h) => h.algorithm === algorithm)?.digest;
  }

  /**
   * A copy of this index with other metadata (the sum arrays are shared).
   *
   * @param metadata - the new metadata (replaces the old)
   * @returns a new index
   * @example
   * ```ts
   * const published = index.withMetadata({ ...index.metadata, urls: ['target.iso'] });
   * ```
   */
  withMetadata(metadata: IndexMetadata): BlockIndex {
    return new BlockIndex({ ...this.toInit(), metadata });
  }

  /**
   * The fields of this index, for building a changed copy.
   *
   * @returns a {@link BlockIndexInit} sharing this index's arrays
   * @example
   * ```ts
   * new BlockIndex({ ...index.toInit(), metadata: {} });
   * ```
   */
  toInit(): BlockIndexInit {
    return {
      kind: this.kind,
      fileLength: this.fileLength,
      blockSize: this.blockSize,
      weakSums: this.weakSums,
      strongHashes: this.strongHashes,
      strongHash: this.strongHash,
      strongBytes: this.strongBytes,
      weakBytes: this.weakBytes,
      seqMatches: this.seqMatches,
      padLastBlock: this.padLastBlock,
      ...(this.offsets === undefined ? {} : { offsets: this.offsets }),
      ...(this.chunking === undefined ? {} : { chunking: this.chunking }),
      fileHashes: this.fileHashes,
      metadata: this.metadata,
    };
  }
}
