import { createHash, type Hash } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { startWorkerBeside, throwIfAborted, type AbortOptions, type ProgressListener } from '@gosync/core';
import { Chunker, Rollsum32 } from '@gosync/rollsum';
import {
  BlockIndex,
  type ChunkParameters,
  type FileHash,
  type IndexKind,
  type FileHashName,
  type IndexMetadata,
} from './block-index.js';
import { hashBlocks } from './block-hasher.js';
import { IndexError } from './errors.js';
import {
  assertBlockSize,
  type BlockSizeRule,
  defaultBlockSize,
  nativeHashLengths,
  zsyncHashLengths,
  type HashLengths,
} from './hash-lengths.js';
import { createStrongHasher, strongHashInfo, type StrongHashName } from './hashes.js';
import type { HashReply, HashRequest } from './hash-worker.js';

/**
 * Which format the index is meant for; it sets the defaults of the other options.
 *
 * | profile | strong hash | hash lengths | last block | file hashes | block size rule |
 * |---|---|---|---|---|---|
 * | `native` | xxh128 | `'native'` | own bytes | sha256 | √ length |
 * | `zsync` | md4 | `'zsync'` | zero-padded | sha1 | zsyncmake's |
 * | `gosync` | md5 | `'full'` (4 + 16 bytes) | own bytes | sha256 | √ length |
 */
export type BuildProfile = 'native' | 'zsync' | 'gosync';

/** Options of {@link buildIndex}. Every field is optional. */
export interface BuildIndexOptions extends AbortOptions {
  /**
   * `'blocks'` (default): fixed-size blocks. `'chunks'`: content-defined chunks from
   * `@gosync/rollsum`'s `Chunker` (FastCDC), so an insertion moves only nearby boundaries;
   * hashed on the calling thread.
   */
  readonly kind?: IndexKind;
  /** Chunk sizes for `kind: 'chunks'` (defaults: the chunker's 16/64/256 KiB, level 2). */
  readonly chunking?: Partial<ChunkParameters>;
  /** Sets the defaults below for one output format. Default `'native'`. */
  readonly profile?: BuildProfile;
  /** Block size in bytes; default from the file length (see {@link defaultBlockSize}). */
  readonly blockSize?: number;
  /** Per-block strong hash. */
  readonly strongHash?: StrongHashName;
  /**
   * `'full'` keeps 4 weak bytes and the whole digest with single-block matching; `'zsync'`
   * computes them as zsyncmake does (see {@link zsyncHashLengths}); or give them.
   */
  readonly hashLengths?: 'full' | 'zsync' | 'native' | HashLengths;
  /** Hash a short last block zero-padded to the block size (zsync's rule). */
  readonly padLastBlock?: boolean;
  /** Whole-file hashes to compute. */
  readonly fileHashes?: readonly FileHashName[];
  /**
   * The input length when `input` is a stream (for the default block size, progress and
   * preallocation). When given, the stream must have exactly this many bytes.
   */
  readonly length?: number;
  /**
   * Worker threads hashing blocks in parallel; 0 hashes on the calling thread, which always
   * reads and computes the file hash. Default: for inputs of 32 MiB or more (a path, or a
   * stream with `length`), `availableParallelism() − 1` clamped to [1, 4], else 0. The index
   * is byte-identical whatever the count.
   */
  readonly workers?: number;
  /** Metadata stored in the index; for a path, `filename` and `mtime` default from the file. */
  readonly metadata?: IndexMetadata;
  /** Called after each batch with `{ phase: 'index', done, total }` in bytes. */
  readonly onProgress?: ProgressListener;
}

const PROFILES: Readonly<
  Record<
    BuildProfile,
    {
      strongHash: StrongHashName;
      hashLengths: 'full' | 'zsync' | 'native';
      padLastBlock: boolean;
      fileHashes: readonly FileHashName[];
      rule: BlockSizeRule;
    }
  >
> = {
  native: { strongHash: 'xxh128', hashLengths: 'native', padLastBlock: false, fileHashes: ['sha256'], rule: 'balanced' },
  zsync: { strongHash: 'md4', hashLengths: 'zsync', padLastBlock: true, fileHashes: ['sha1'], rule: 'zsync' },
  gosync: { strongHash: 'md5', hashLengths: 'full', padLastBlock: false, fileHashes: ['sha256'], rule: 'sqrt' },
};

const BATCH_TARGET = 4 * 1024 * 1024;
const PARALLEL_THRESHOLD = 32 * 1024 * 1024;
/** Batches queued per worker: enough to keep it busy while the reader refills. */
const IN_FLIGHT = 2;

function invalid(message: string): IndexError {
  return new IndexError('ERR_INDEX_INVALID_OPTION', message);
}

/** Grows the per-block result arrays as blocks arrive. */
class Results {
  weak: Uint32Array;
  strong: Uint8Array;
  readonly #digestLength: number;

  constructor(capacity: number, digestLength: number) {
    this.#digestLength = digestLength;
    this.weak = new Uint32Array(capacity);
    this.strong = new Uint8Array(capacity * digestLength);
  }

  ensure(blocks: number): void {
    if (blocks <= this.weak.length) return;
    const capacity = Math.max(blocks, this.weak.length * 2, 1024);
    const weak = new Uint32Array(capacity);
    weak.set(this.weak);
    const strong = new Uint8Array(capacity * this.#digestLength);
    strong.set(this.strong);
    this.weak = weak;
    this.strong = strong;
  }
}

/** Yields block-aligned batches (the last may end short) from a file or a stream. */
async function* batches(
  input: string | AsyncIterable<Uint8Array>,
  batchSize: number,
  acquire: () => Uint8Array,
): AsyncGenerator<{ data: Uint8Array; last: boolean }> {
  if (typeof input === 'string') {
    let handle: FileHandle;
    try {
      handle = await open(input, 'r');
    } catch (e) {
      throw new IndexError('ERR_INDEX_IO', `cannot open ${input}: ${(e as Error).message}`, { cause: e });
    }
    try {
      for (;;) {
        const buf = acquire();
        let filled = 0;
        while (filled < batchSize) {
          let bytesRead: number;
          try {
            ({ bytesRead } = await handle.read(buf, filled, batchSize - filled, null));
          } catch (e) {
            throw new IndexError('ERR_INDEX_IO', `cannot read ${input}: ${(e as Error).message}`, { cause: e });
          }
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        const last = filled < batchSize;
        yield { data: buf.subarray(0, filled), last };
        if (last) return;
      }
    } finally {
      await handle.close();
    }
  }
  let buf = acquire();
  let filled = 0;
  for await (const piece of input) {
    if (!(piece instanceof Uint8Array)) {
      throw invalid(`input: expected a stream of Uint8Array, got ${typeof piece}`);
    }
    let offset = 0;
    while (offset < piece.length) {
      const n = Math.min(batchSize - filled, piece.length - offset);
      buf.set(piece.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === batchSize) {
        yield { data: buf, last: false };
        buf = acquire();
        filled = 0;
      }
    }
  }
  yield { data: buf.subarray(0, filled), last: true };
}

interface PendingJob {
  resolve: (reply: HashReply) => void;
  reject: (error: unknown) => void;
}

/** A small pool of hashing workers; replies are matched to requests by id. */
class WorkerPool {
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, PendingJob>();
  #next = 0;
  #failure: Error | undefined;

  constructor(count: number) {
    for (let i = 0; i < count; i++) {
      const worker = startWorkerBeside(import.meta.url, 'hash-worker');
      worker.on('message', (reply: HashReply) => {
        const job = this.#pending.get(reply.id);
        if (job === undefined) return;
        this.#pending.delete(reply.id);
        if (reply.error === undefined) job.resolve(reply);
        else job.reject(new IndexError('ERR_INDEX_IO', `hashing worker failed: ${reply.error}`));
      });
      worker.on('error', (e) => {
        this.#fail(new IndexError('ERR_INDEX_IO', `hashing worker failed: ${e.message}`, { cause: e }));
      });
      worker.on('exit', (code) => {
        // A worker that stops while jobs wait would leave them pending forever.
        if (this.#pending.size > 0) this.#fail(new IndexError('ERR_INDEX_IO', `hashing worker exited with code ${code}`));
      });
      this.#workers.push(worker);
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const job of this.#pending.values()) job.reject(error);
    this.#pending.clear();
  }

  run(request: HashRequest): Promise<HashReply> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const worker = this.#workers[request.id % this.#workers.length] as Worker;
    return new Promise<HashReply>((resolve, reject) => {
      this.#pending.set(request.id, { resolve, reject });
      worker.postMessage(request, [request.buffer]);
    });
  }

  nextId(): number {
    return this.#next++;
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}

function resolveLengths(
  spec: 'full' | 'zsync' | 'native' | HashLengths,
  fileLength: number,
  blockSize: number,
  digestLength: number,
): HashLengths {
  if (spec === 'full') return { seqMatches: 1, weakBytes: 4, strongBytes: digestLength };
  if (spec === 'zsync') {
    const z = zsyncHashLengths(fileLength, blockSize);
    return { ...z, strongBytes: Math.min(z.strongBytes, digestLength) };
  }
  if (spec === 'native') return nativeHashLengths(fileLength, blockSize, digestLength);
  return spec;
}

function checkLengths(spec: 'full' | 'zsync' | 'native' | HashLengths, digestLength: number): void {
  if (spec === 'full' || spec === 'zsync' || spec === 'native') return;
  const loose: unknown = spec;
  if (typeof loose !== 'object' || loose === null) throw invalid(`hashLengths: expected 'full', 'zsync' or an object, got ${String(loose)}`);
  const { seqMatches, weakBytes, strongBytes } = loose as Record<string, unknown>;
  if (seqMatches !== 1 && seqMatches !== 2) throw invalid(`hashLengths.seqMatches: expected 1 or 2, got ${String(seqMatches)}`);
  if (weakBytes !== 2 && weakBytes !== 3 && weakBytes !== 4) throw invalid(`hashLengths.weakBytes: expected 2, 3 or 4, got ${String(weakBytes)}`);
  if (typeof strongBytes !== 'number' || !Number.isInteger(strongBytes) || strongBytes < 3 || strongBytes > digestLength) {
    throw invalid(`hashLengths.strongBytes: expected an integer in [3, ${digestLength}], got ${String(strongBytes)}`);
  }
}

/**
 * Builds a block index of a target, reading it once. Memory stays at a few batches of 4 MiB
 * plus the sums themselves (`4 + digest length` bytes per block while building).
 *
 * @param input - a file path, or the target's bytes as a stream
 * @param options - see {@link BuildIndexOptions}
 * @returns the index
 * @throws {@link IndexError} `ERR_INDEX_INVALID_OPTION` for a bad option or a stream whose
 *   length differs from `options.length`; `ERR_INDEX_IO` when the file cannot be read;
 *   `signal.reason` when aborted
 * @example
 * ```ts
 * const index = await buildIndex('target.iso', { blockSize: 4096 });
 * await writeFile('target.iso.gsi', encodeIndex(index));
 * ```
 */
export async function buildIndex(
  input: string | AsyncIterable<Uint8Array>,
  options: BuildIndexOptions = {},
): Promise<BlockIndex> {
  const { signal, onProgress } = options;
  throwIfAborted(signal);
  const profileName = options.profile ?? 'native';
  const profile = Object.hasOwn(PROFILES, profileName) ? PROFILES[profileName] : undefined;
  if (profile === undefined) throw invalid(`profile: expected native, zsync or gosync, got ${profileName}`);
  const strongHash = options.strongHash ?? profile.strongHash;
  const digestLength = strongHashInfo(strongHash).digestLength;
  const lengthSpec = options.hashLengths ?? profile.hashLengths;
  checkLengths(lengthSpec, digestLength);
  const padLastBlock = options.padLastBlock ?? profile.padLastBlock;
  const fileHashNames = options.fileHashes ?? profile.fileHashes;
  for (const name of fileHashNames as readonly unknown[]) {
    if (name !== 'sha256' && name !== 'sha1') throw invalid(`fileHashes: expected sha256 or sha1, got ${String(name)}`);
  }

  let knownLength = options.length;
  let metadata: IndexMetadata = options.metadata ?? {};
  if (knownLength !== undefined && (!Number.isSafeInteger(knownLength) || knownLength < 0)) {
    throw invalid(`length: expected a non-negative safe integer, got ${String(knownLength)}`);
  }
  if (typeof input === 'string') {
    let info;
    try {
      info = await stat(input);
    } catch (e) {
      throw new IndexError('ERR_INDEX_IO', `cannot stat ${input}: ${(e as Error).message}`, { cause: e });
    }
    if (!info.isFile()) throw new IndexError('ERR_INDEX_IO', `${input} is not a regular file`);
    knownLength = info.size;
    metadata = {
      filename: basename(input),
      mtime: Math.floor(info.mtimeMs / 1000),
      ...metadata,
    };
  }
  const blockSize = options.blockSize ?? defaultBlockSize(knownLength ?? 0, profile.rule);
  assertBlockSize(blockSize);
  const workerCount =
    options.workers ??
    ((knownLength ?? 0) >= PARALLEL_THRESHOLD ? Math.min(4, Math.max(1, availableParallelism() - 1)) : 0);
  if (!Number.isInteger(workerCount) || workerCount < 0 || workerCount > 64) {
    throw invalid(`workers: expected an integer in [0, 64], got ${String(workerCount)}`);
  }

  const kind = options.kind ?? 'blocks';
  if (kind === 'chunks') {
    return buildChunkIndex(input, options, {
      strongHash, digestLength, lengthSpec, fileHashNames, knownLength, metadata,
    });
  }
  if ((kind as unknown) !== 'blocks') throw invalid(`kind: expected blocks or chunks, got ${kind as string}`);
  const batchSize = Math.max(1, Math.floor(BATCH_TARGET / blockSize)) * blockSize;
  const pool: Uint8Array[] = [];
  const acquire = (): Uint8Array => pool.pop() ?? new Uint8Array(batchSize);
  const results = new Results(knownLength === undefined ? 0 : Math.ceil(knownLength / blockSize), digestLength);
  const fileHashers: [FileHashName, Hash][] = fileHashNames.map((n) => [n, createHash(n)]);
  const workers = workerCount > 0 ? new WorkerPool(workerCount) : undefined;
  const hasher = workers === undefined ? await createStrongHasher(strongHash) : undefined;
  const inFlight = new Set<Promise<void>>();
  let done = 0;
  let blocks = 0;

  const report = (): void => {
    onProgress?.({ phase: 'index', done, total: knownLength ?? done });
  };

  try {
    for await (const { data, last } of batches(input, batchSize, acquire)) {
      throwIfAborted(signal);
      if (knownLength !== undefined && done + data.length > knownLength && typeof input !== 'string') {
        throw invalid(`input: the stream is longer than length ${knownLength}`);
      }
      for (const [, h] of fileHashers) h.update(data);
      const first = blocks;
      const count = Math.ceil(data.length / blockSize);
      blocks += count;
      done += data.length;
      results.ensure(blocks);
      if (hasher !== undefined) {
        hashBlocks(data, blockSize, padLastBlock && last, hasher, results.weak, results.strong, first);
        if (data.length === batchSize) pool.push(data);
        report();
      } else if (workers !== undefined && count > 0) {
        const request: HashRequest = {
          id: workers.nextId(),
          buffer: data.buffer as ArrayBuffer,
          length: data.length,
          blockSize,
          padLast: padLastBlock && last,
          strongHash,
        };
        const job = workers.run(request).then((reply) => {
          results.weak.set(reply.weak, first);
          results.strong.set(reply.strong, first * digestLength);
          pool.push(new Uint8Array(reply.buffer));
          report();
        });
        const tracked: Promise<void> = job.finally(() => inFlight.delete(tracked));
        inFlight.add(tracked);
        while (inFlight.size >= workerCount * IN_FLIGHT) await Promise.race(inFlight);
      }
    }
    await Promise.all(inFlight);
  } finally {
    // Settle every job before the workers go, so no rejection is left unhandled.
    await Promise.allSettled(inFlight);
    await workers?.close();
  }
  throwIfAborted(signal);
  if (knownLength !== undefined && done !== knownLength) {
    const what = typeof input === 'string' ? `file ${input} changed while being read:` : 'input:';
    throw new IndexError(
      typeof input === 'string' ? 'ERR_INDEX_IO' : 'ERR_INDEX_INVALID_OPTION',
      `${what} expected ${knownLength} bytes, read ${done}`,
    );
  }
  if (knownLength === undefined) report();

  const lengths = resolveLengths(lengthSpec, done, blockSize, digestLength);
  const weakSums = results.weak.length === blocks ? results.weak : results.weak.slice(0, blocks);
  const mask = lengths.weakBytes === 4 ? 0xffffffff : lengths.weakBytes === 3 ? 0xffff00ff : 0xffff0000;
  for (let i = 0; i < blocks; i++) weakSums[i] = ((weakSums[i] as number) & mask) >>> 0;
  const strongHashes = truncateStrong(results.strong, blocks, digestLength, lengths.strongBytes);
  const fileHashes: FileHash[] = fileHashers.map(([algorithm, h]) => ({
    algorithm,
    digest: new Uint8Array(h.digest()),
  }));
  return new BlockIndex({
    kind: 'blocks',
    fileLength: done,
    blockSize,
    weakSums,
    strongHashes,
    strongHash,
    ...lengths,
    padLastBlock,
    fileHashes,
    metadata,
  });
}

function truncateStrong(full: Uint8Array, blocks: number, from: number, to: number): Uint8Array {
  if (from === to) return full.length === blocks * from ? full : full.slice(0, blocks * from);
  const out = new Uint8Array(blocks * to);
  for (let i = 0; i < blocks; i++) out.set(full.subarray(i * from, i * from + to), i * to);
  return out;
}

interface ChunkBuildContext {
  readonly strongHash: StrongHashName;
  readonly digestLength: number;
  readonly lengthSpec: 'full' | 'zsync' | 'native' | HashLengths;
  readonly fileHashNames: readonly FileHashName[];
  readonly knownLength: number | undefined;
  readonly metadata: IndexMetadata;
}

async function buildChunkIndex(
  input: string | AsyncIterable<Uint8Array>,
  options: BuildIndexOptions,
  ctx: ChunkBuildContext,
): Promise<BlockIndex> {
  const { signal, onProgress } = options;
  let chunker: Chunker;
  try {
    chunker = new Chunker(options.chunking ?? {});
  } catch (e) {
    throw new IndexError('ERR_INDEX_INVALID_OPTION', `chunking: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const { digestLength, knownLength } = ctx;
  const hasher = await createStrongHasher(ctx.strongHash);
  const rollsum = new Rollsum32();
  const fileHashers: [FileHashName, Hash][] = ctx.fileHashNames.map((n) => [n, createHash(n)]);
  const results = new Results(knownLength === undefined ? 0 : Math.ceil(knownLength / chunker.avgSize) + 16, digestLength);
  let offsets = new Float64Array(results.weak.length + 1);
  let count = 0;
  let done = 0;
  const pool: Uint8Array[] = [];
  const acquire = (): Uint8Array => pool.pop() ?? new Uint8Array(BATCH_TARGET);
  hasher.init();
  const endChunk = (end: number): void => {
    results.ensure(count + 1);
    if (offsets.length < count + 2) {
      const grown = new Float64Array(Math.max(count + 2, offsets.length * 2));
      grown.set(offsets);
      offsets = grown;
    }
    results.weak[count] = rollsum.value();
    hasher.digestInto(results.strong, count * digestLength);
    count++;
    offsets[count] = end;
    rollsum.reset();
    hasher.init();
  };
  for await (const { data } of batches(input, BATCH_TARGET, acquire)) {
    throwIfAborted(signal);
    for (const [, h] of fileHashers) h.update(data);
    let at = 0;
    for (const end of chunker.push(data)) {
      const piece = data.subarray(at, end - done);
      rollsum.update(piece);
      hasher.update(piece);
      endChunk(end);
      at = end - done;
    }
    const rest = data.subarray(at);
    rollsum.update(rest);
    hasher.update(rest);
    done += data.length;
    if (data.length === BATCH_TARGET) pool.push(data);
    onProgress?.({ phase: 'index', done, total: knownLength ?? done });
  }
  const last = chunker.finish();
  if (last !== undefined) endChunk(last);
  throwIfAborted(signal);
  if (knownLength !== undefined && done !== knownLength) {
    throw new IndexError(typeof input === 'string' ? 'ERR_INDEX_IO' : 'ERR_INDEX_INVALID_OPTION', `input: expected ${knownLength} bytes, read ${done}`);
  }
  const chunking: ChunkParameters = {
    minSize: chunker.minSize,
    avgSize: chunker.avgSize,
    maxSize: chunker.maxSize,
    normalization: chunker.normalization,
  };
  const lengths = resolveLengths(ctx.lengthSpec, done, chunking.avgSize, digestLength);
  const mask = lengths.weakBytes === 4 ? 0xffffffff : lengths.weakBytes === 3 ? 0xffff00ff : 0xffff0000;
  const weakSums = results.weak.slice(0, count);
  for (let i = 0; i < count; i++) weakSums[i] = ((weakSums[i] as number) & mask) >>> 0;
  return new BlockIndex({
    kind: 'chunks',
    fileLength: done,
    blockSize: chunking.maxSize,
    offsets: offsets.slice(0, count + 1),
    chunking,
    weakSums,
    strongHashes: truncateStrong(results.strong, count, digestLength, lengths.strongBytes),
    strongHash: ctx.strongHash,
    ...lengths,
    padLastBlock: false,
    fileHashes: fileHashers.map(([algorithm, h]) => ({ algorithm, digest: new Uint8Array(h.digest()) })),
    metadata: ctx.metadata,
  });
}
