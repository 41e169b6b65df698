import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { throwIfAborted } from '@gosync/core';
import type { ProgressListener } from '@gosync/core';
import { compressBytes, resolveLevel } from './codecs.js';
import type { CompressionCodec } from './codecs.js';
import { CompressError } from './errors.js';
import { MAX_GROUP_SIZE, maxFrameSize } from './layout.js';
import type { CompressedLayout } from './layout.js';

/** Options of {@link compressFile}. */
export interface CompressFileOptions {
  /** The codec (default `zstd`). */
  readonly codec?: CompressionCodec | undefined;
  /** The codec's level (default {@link DEFAULT_LEVELS}: zstd 3, brotli 5, gzip 6). */
  readonly level?: number | undefined;
  /** The target's block size in bytes (the index's), in [1, 2^26]. */
  readonly blockSize: number;
  /**
   * Blocks per group (default: as many as fit in 64 KiB, at least 1). Each group is one frame,
   * so it is the unit a client fetches and decompresses. The trade-off: one block per group gives
   * the finest fetches (a client downloads only the blocks it lacks) but a worse ratio for small
   * blocks, because every frame starts with an empty window and pays its own header (at 4 KiB
   * blocks zstd saves far less than at 64 KiB groups); larger groups compress better but a client
   * that lacks one block fetches its whole group. 64 KiB is where zstd and gzip get most of their
   * ratio (see the README's table).
   */
  readonly blocksPerGroup?: number | undefined;
  /**
   * Groups compressed at once (default: twice the number of CPUs). zlib codecs and Node's zstd
   * run on libuv's thread pool, so this uses several cores; the wasm zstd runs on the calling thread.
   */
  readonly concurrency?: number | undefined;
  /** Aborts between groups; the partial artifact is removed and the abort reason rethrown. */
  readonly signal?: AbortSignal | undefined;
  /** Called after each group with `{ phase: 'index', done, total }` in bytes of input. */
  readonly onProgress?: ProgressListener | undefined;
}

/** Input read per call when the input is a path: one group, so the bytes are never copied. */
async function* groupsOfFile(handle: FileHandle, groupSize: number): AsyncGenerator<Uint8Array> {
  let position = 0;
  for (;;) {
    const buffer = new Uint8Array(groupSize);
    let filled = 0;
    while (filled < groupSize) {
      const { bytesRead } = await handle.read(buffer, filled, groupSize - filled, position);
      if (bytesRead === 0) break;
      filled += bytesRead;
      position += bytesRead;
    }
    if (filled > 0) yield filled === groupSize ? buffer : buffer.subarray(0, filled);
    if (filled < groupSize) return;
  }
}

async function* groupsOfStream(input: AsyncIterable<Uint8Array>, groupSize: number): AsyncGenerator<Uint8Array> {
  let buffer = new Uint8Array(groupSize);
  let filled = 0;
  for await (const chunk of input) {
    if (!(chunk instanceof Uint8Array)) {
      throw new CompressError('ERR_COMPRESS_INVALID_OPTION', `input yielded ${typeof chunk}, expected Uint8Array chunks`);
    }
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(groupSize - filled, chunk.length - offset);
      buffer.set(chunk.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === groupSize) {
        yield buffer;
        buffer = new Uint8Array(groupSize);
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
 * groups of `blocksPerGroup × blockSize` bytes, each group compressed on its own (several at once),
 * and the frames written one after another to `artifactPath` (through a temporary file in the same
 * directory, renamed into place when complete). Memory stays bounded by `concurrency` groups.
 *
 * @param input - the target: a file path or a stream of chunks
 * @param artifactPath - where the artifact goes
 * @param options - codec, level, block size, group size, concurrency, signal, progress
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
  const blocksPerGroup = checkInteger(
    'blocksPerGroup',
    options.blocksPerGroup ?? Math.max(1, Math.floor(65_536 / blockSize)),
    1,
    Math.floor(MAX_GROUP_SIZE / blockSize),
  );
  const concurrency = checkInteger('concurrency', options.concurrency ?? 2 * availableParallelism(), 1, 256);
  const groupSize = blockSize * blocksPerGroup;

  const temp = join(dirname(artifactPath), `.${basename(artifactPath)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let inputHandle: FileHandle | undefined;
  let output: FileHandle | undefined;
  let renamed = false;
  const pending: { promise: Promise<Uint8Array>; length: number }[] = [];
  let sizes = new Uint32Array(1024);
  let count = 0;
  let length = 0;
  let total = 0;
  try {
    let groups: AsyncIterable<Uint8Array>;
    try {
      if (typeof input === 'string') {
        inputHandle = await open(input, 'r');
        total = (await inputHandle.stat()).size;
        groups = groupsOfFile(inputHandle, groupSize);
      } else {
        groups = groupsOfStream(input, groupSize);
      }
      output = await open(temp, 'wx');
    } catch (cause) {
      throw ioError(`opening ${typeof input === 'string' ? input : 'the input'} or ${temp}`, cause);
    }
    const out = output;
    const writeNext = async (): Promise<void> => {
      const next = pending.shift();
      if (next === undefined) return;
      const frame = await next.promise;
      if (frame.length < 1 || frame.length > maxFrameSize(next.length)) {
        throw new CompressError(
          'ERR_COMPRESS_CORRUPT',
          `group ${count}: the ${codec} encoder wrote ${frame.length} bytes for ${next.length}, outside [1, ${maxFrameSize(next.length)}]`,
        );
      }
      try {
        let written = 0;
        while (written < frame.length) {
          const { bytesWritten } = await out.write(frame, written, frame.length - written);
          written += bytesWritten;
        }
      } catch (cause) {
        throw ioError(`writing ${temp}`, cause);
      }
      if (count === sizes.length) {
        const grown = new Uint32Array(sizes.length * 2);
        grown.set(sizes);
        sizes = grown;
      }
      sizes[count++] = frame.length;
      length += next.length;
      onProgress?.({ phase: 'index', done: length, total: Math.max(length, total) });
    };
    const iterator = groups[Symbol.asyncIterator]();
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
      const group = step.value;
      const promise = compressBytes(codec, group, { level });
      promise.catch(() => undefined);
      pending.push({ promise, length: group.length });
      if (pending.length >= concurrency) await writeNext();
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
    await output?.close().catch(() => undefined);
    await inputHandle?.close().catch(() => undefined);
    if (!renamed) await unlink(temp).catch(() => undefined);
  }
  return { codec, level, blockSize, groupSize, length, sizes: sizes.slice(0, count) };
}

function ioError(what: string, cause: unknown): CompressError {
  return new CompressError('ERR_COMPRESS_IO', `${what} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
}
