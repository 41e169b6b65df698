import { createHash, randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { throwIfAborted } from '@gosync/core';
import type { ProgressListener } from '@gosync/core';
import { MAX_DICTIONARY_SIZE, resolveLevel, zstdBackend, zstdDictionaryId } from './codecs.js';
import type { CompressionCodec } from './codecs.js';
import { compressGroups } from './compress-batch.js';
import type { CompressedBatch } from './compress-batch.js';
import { CompressPool } from './compress-pool.js';
import { defaultGroupSize } from './group-size.js';
import { CompressError } from './errors.js';
import { MAX_GROUP_SIZE, maxFrameSize } from './layout.js';
import type { CompressedLayout } from './layout.js';

/** Options of {@link compressFile}. */
export interface CompressFileOptions {
  /** The codec (default `zstd`). */
  readonly codec?: CompressionCodec | undefined;
  /** The codec's level (default {@link DEFAULT_LEVELS}: zstd 6, brotli 5, gzip 6). */
  readonly level?: number | undefined;
  /** The target's block size in bytes (the index's), in [1, 2^26]. */
  readonly blockSize: number;
  /**
   * Blocks per group. Each group is one frame, so it is the unit a client fetches and
   * decompresses. Default: for a path, {@link defaultGroupSize} of the file's size (4 KiB up to
   * 32 MiB, doubling with the size up to 128 KiB from 512 MiB); for a stream, whose size is not
   * known in advance, as many blocks as fit in 64 KiB; at least one block. The trade-off: small
   * groups fetch less where changes are scattered (a client lacking one block fetches its whole
   * group), large groups compress better (every frame starts with an empty window and pays its own
   * header), which decides the bytes where most of a file changes, and are cheaper to publish.
   */
  readonly blocksPerGroup?: number | undefined;
  /**
   * Groups in flight at once, which bounds memory, in [1, 65536]. Groups travel in batches of up to
   * 256 KiB (one job and one write per batch). Default: two batches per CPU or worker, whichever
   * is more (about 1 MiB of input on two CPUs). zlib codecs and Node's zstd run on libuv's thread
   * pool, so this alone uses several cores; the wasm zstd (Node < 22.15) needs `workers` for that.
   */
  readonly concurrency?: number | undefined;
  /**
   * Worker threads that compress groups, in [0, 64]; 0 compresses on the calling thread. Default:
   * with the wasm zstd (Node < 22.15, or a dictionary on any Node) and a path input of at least
   * 16 MiB, one per CPU (`availableParallelism()`, at most 8); otherwise 0, since zlib codecs and
   * Node's own zstd already run on libuv's thread pool. The artifact is the same for any number
   * of workers.
   * Workers run `compress-worker.js` from beside the module that starts them: an application
   * bundle must ship it beside the bundle as its own entry (see the README), or the default is 0.
   */
  readonly workers?: number | undefined;
  /**
   * zstd only: a dictionary every group is compressed with (raw content such as
   * {@link sampleDictionary}'s, or a dictionary in zstd's format), 1 byte to
   * {@link MAX_DICTIONARY_SIZE}. It is written at the start of the artifact and referenced by the
   * layout (length and SHA-256), so a client fetches it once before its first group. It pays where
   * groups are small and the content repeats across the file (text: the README measures it), and
   * costs its own size on every sync plus publishing speed (zstd digests it for every group).
   */
  readonly dictionary?: Uint8Array | undefined;
  /** Aborts between batches of groups; the partial artifact is removed and the abort reason rethrown. */
  readonly signal?: AbortSignal | undefined;
  /** Called after each batch of groups is written with `{ phase: 'index', done, total }` in bytes of input. */
  readonly onProgress?: ProgressListener | undefined;
}

/** The smallest input for which compressing on worker threads is the default (their start costs ~50 ms). */
const WORKER_THRESHOLD = 16 * 1024 * 1024;
/** Input bytes per batch: whole groups handed to a worker (or compressed) as one job, so small groups cost one message and one write per batch. */
const BATCH_BYTES = 256 * 1024;
/** The group size when the input's length is unknown (a stream) and none is given. */
const STREAM_GROUP_SIZE = 65_536;

/** Reads `batchSize` bytes per call into a fresh buffer (its ownership may move to a worker). */
async function* batchesOfFile(handle: FileHandle, batchSize: number): AsyncGenerator<Uint8Array> {
  let position = 0;
  for (;;) {
    const buffer = new Uint8Array(batchSize);
    let filled = 0;
    while (filled < batchSize) {
      const { bytesRead } = await handle.read(buffer, filled, batchSize - filled, position);
      if (bytesRead === 0) break;
      filled += bytesRead;
      position += bytesRead;
    }
    if (filled > 0) yield filled === batchSize ? buffer : buffer.subarray(0, filled);
    if (filled < batchSize) return;
  }
}

async function* batchesOfStream(input: AsyncIterable<Uint8Array>, batchSize: number): AsyncGenerator<Uint8Array> {
  let buffer = new Uint8Array(batchSize);
  let filled = 0;
  for await (const chunk of input) {
    if (!(chunk instanceof Uint8Array)) {
      throw new CompressError('ERR_COMPRESS_INVALID_OPTION', `input yielded ${typeof chunk}, expected Uint8Array chunks`);
    }
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(batchSize - filled, chunk.length - offset);
      buffer.set(chunk.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === batchSize) {
        yield buffer;
        buffer = new Uint8Array(batchSize);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buffer.subarray(0, filled);
}

function checkInteger(name: string, value: unknown, low: number, high: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < low || value > high) {
    throw new CompressError('ERR_COMPRESS_INVALID_OPTION', `${name} must be an integer in [${low}, ${high}], got ${String(value)}`);
  }
  return value;
}

/**
 * Writes the compressed artifact of a target: the target is read once as a stream, cut into
 * groups of `blocksPerGroup × blockSize` bytes, each group compressed on its own (several at once,
 * on worker threads with the wasm zstd), and the frames written one after another to
 * `artifactPath` (through a temporary file in the same directory, renamed into place when
 * complete). Memory stays bounded by `concurrency` groups. The artifact's bytes depend on the
 * codec, level, block and group size only, never on `workers` or `concurrency`.
 *
 * @param input - the target: a file path or a stream of chunks
 * @param artifactPath - where the artifact goes
 * @param options - codec, level, block size, group size, concurrency, workers, signal, progress
 * @returns the layout to store next to the index (see {@link encodeLayout})
 * @throws {@link CompressError} `ERR_COMPRESS_INVALID_OPTION`, `ERR_COMPRESS_IO`; the abort reason on abort
 * @example
 * ```ts
 * const layout = await compressFile('app-2.0.tar', 'app-2.0.tar.zst-groups', { blockSize: 4096 });
 * await writeFile('app-2.0.tar.layout', encodeLayout(layout));
 * ```
 */
export async function compressFile(
  input: string | AsyncIterable<Uint8Array>,
  artifactPath: string,
  options: CompressFileOptions,
): Promise<CompressedLayout> {
  const { signal, onProgress } = options;
  throwIfAborted(signal);
  const codec = options.codec ?? 'zstd';
  const level = resolveLevel(codec, options.level);
  const blockSize = checkInteger('blockSize', options.blockSize, 1, MAX_GROUP_SIZE);
  const maxBlocksPerGroup = Math.floor(MAX_GROUP_SIZE / blockSize);
  const blocksPerGroupOption =
    options.blocksPerGroup === undefined ? undefined : checkInteger('blocksPerGroup', options.blocksPerGroup, 1, maxBlocksPerGroup);
  const workerOption = options.workers === undefined ? undefined : checkInteger('workers', options.workers, 0, 64);
  const concurrencyOption = options.concurrency === undefined ? undefined : checkInteger('concurrency', options.concurrency, 1, 65_536);
  const { dictionary } = options;
  if (dictionary !== undefined) {
    if (codec !== 'zstd') throw new CompressError('ERR_COMPRESS_INVALID_OPTION', `dictionary: works with zstd only, not ${codec}`);
    if (!(dictionary instanceof Uint8Array) || dictionary.length < 1 || dictionary.length > MAX_DICTIONARY_SIZE) {
      throw new CompressError('ERR_COMPRESS_INVALID_OPTION', `dictionary must be a Uint8Array of 1 to ${MAX_DICTIONARY_SIZE} bytes`);
    }
  }

  const temp = join(dirname(artifactPath), `.${basename(artifactPath)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let inputHandle: FileHandle | undefined;
  let output: FileHandle | undefined;
  let pool: CompressPool | undefined;
  let renamed = false;
  const pending: { promise: Promise<CompressedBatch>; length: number }[] = [];
  let sizes = new Uint32Array(1024);
  let count = 0;
  let length = 0;
  let total = 0;
  let groupSize = 0;
  try {
    try {
      if (typeof input === 'string') {
        inputHandle = await open(input, 'r');
        total = (await inputHandle.stat()).size;
      }
      output = await open(temp, 'wx');
    } catch (cause) {
      throw ioError(`opening ${typeof input === 'string' ? input : 'the input'} or ${temp}`, cause);
    }
    groupSize =
      blocksPerGroupOption !== undefined
        ? blocksPerGroupOption * blockSize
        : typeof input === 'string'
          ? defaultGroupSize(total, blockSize)
          : Math.max(1, Math.floor(STREAM_GROUP_SIZE / blockSize)) * blockSize;
    // Only the wasm zstd runs on the calling thread; zlib's codecs and Node's zstd use libuv's pool.
    const wasmZstd = codec === 'zstd' && (zstdBackend() === '@bokuweb/zstd-wasm' || dictionary !== undefined);
    const workers =
      workerOption ??
      (wasmZstd && typeof input === 'string' && total >= WORKER_THRESHOLD && CompressPool.available() ? Math.min(8, availableParallelism()) : 0);
    // Groups in flight: by default two batches per thread at work, so no thread waits for input.
    const groupsPerBatch = Math.max(1, Math.floor(BATCH_BYTES / groupSize));
    const concurrency = concurrencyOption ?? 2 * Math.max(availableParallelism(), workers) * groupsPerBatch;
    // A batch never holds more groups than may be in flight.
    const batchGroups = Math.min(groupsPerBatch, Math.max(1, Math.floor(concurrency / 2)));
    const maxBatches = Math.max(1, Math.floor(concurrency / batchGroups));
    const batches = inputHandle !== undefined
      ? batchesOfFile(inputHandle, batchGroups * groupSize)
      : batchesOfStream(input as AsyncIterable<Uint8Array>, batchGroups * groupSize);
    if (workers > 0) pool = new CompressPool(workers, codec, level, groupSize, dictionary);
    const out = output;
    const writeAll = async (bytes: Uint8Array): Promise<void> => {
      try {
        let written = 0;
        while (written < bytes.length) {
          const { bytesWritten } = await out.write(bytes, written, bytes.length - written);
          written += bytesWritten;
        }
      } catch (cause) {
        throw ioError(`writing ${temp}`, cause);
      }
    };
    if (dictionary !== undefined) await writeAll(dictionary);
    const writeNext = async (): Promise<void> => {
      const next = pending.shift();
      if (next === undefined) return;
      const batch = await next.promise;
      let done = 0;
      for (let i = 0; i < batch.sizes.length; i++) {
        const inLength = Math.min(groupSize, next.length - i * groupSize);
        const size = batch.sizes[i] as number;
        if (size < 1 || size > maxFrameSize(inLength)) {
          throw new CompressError(
            'ERR_COMPRESS_CORRUPT',
            `group ${count + i}: the ${codec} encoder wrote ${size} bytes for ${inLength}, outside [1, ${maxFrameSize(inLength)}]`,
          );
        }
        done += size;
      }
      if (done !== batch.frames.length || batch.sizes.length !== Math.ceil(next.length / groupSize)) {
        throw new CompressError('ERR_COMPRESS_CORRUPT', `groups ${count}…: the encoder returned frames that disagree with their sizes`);
      }
      await writeAll(batch.frames);
      while (count + batch.sizes.length > sizes.length) {
        const grown = new Uint32Array(sizes.length * 2);
        grown.set(sizes);
        sizes = grown;
      }
      sizes.set(batch.sizes, count);
      count += batch.sizes.length;
      length += next.length;
      onProgress?.({ phase: 'index', done: length, total: Math.max(length, total) });
    };
    const iterator = batches[Symbol.asyncIterator]();
    for (;;) {
      throwIfAborted(signal);
      let step: IteratorResult<Uint8Array>;
      try {
        step = await iterator.next();
      } catch (cause) {
        if (cause instanceof CompressError) throw cause;
        throwIfAborted(signal);
        throw ioError(`reading ${typeof input === 'string' ? input : 'the input'}`, cause);
      }
      if (step.done === true) break;
      const data = step.value;
      const dataLength = data.length; // read first: a worker takes the buffer
      const promise = pool === undefined ? compressGroups(codec, level, groupSize, data, dictionary) : pool.compress(data);
      promise.catch(() => undefined);
      pending.push({ promise, length: dataLength });
      if (pending.length >= maxBatches) await writeNext();
    }
    while (pending.length > 0) {
      throwIfAborted(signal);
      await writeNext();
    }
    try {
      await out.sync();
      await out.close();
      output = undefined;
      await rename(temp, artifactPath);
      renamed = true;
    } catch (cause) {
      throw ioError(`writing ${artifactPath}`, cause);
    }
  } finally {
    await Promise.allSettled(pending.map((p) => p.promise));
    await pool?.close();
    await output?.close().catch(() => undefined);
    await inputHandle?.close().catch(() => undefined);
    if (!renamed) await unlink(temp).catch(() => undefined);
  }
  const layout: CompressedLayout = { codec, level, blockSize, groupSize, length, sizes: sizes.slice(0, count) };
  if (dictionary === undefined) return layout;
  const sha256 = new Uint8Array(createHash('sha256').update(dictionary).digest());
  return { ...layout, dictionary: { id: zstdDictionaryId(dictionary), length: dictionary.length, sha256 } };
}

function ioError(what: string, cause: unknown): CompressError {
  return new CompressError('ERR_COMPRESS_IO', `${what} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
}
