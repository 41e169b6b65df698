import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { throwIfAborted } from '@gosync/core';
import type { ProgressListener } from '@gosync/core';
import {
  BLOCK_STORE_MANIFEST_NAME,
  DEFAULT_BLOCK_STORE_OBJECT_SIZE,
  MAX_BLOCK_STORE_OBJECT_SIZE,
  blockStoreDigestLength,
  encodeBlockStoreManifest,
} from './block-store-manifest.js';
import type { BlockStoreHash, BlockStoreManifest } from './block-store-manifest.js';
import { BlockSourceError } from './errors.js';

/** Options of {@link writeBlockStore}. */
export interface WriteBlockStoreOptions {
  /**
   * Bytes per object (default 256 KiB, at most 1 GiB). The trade-off: a reader fetches whole
   * objects, so a changed byte costs one object and a small requested range wastes up to two
   * objects' worth of transfer; smaller objects waste less but mean more files on the host and
   * more requests (one GET per object), and a larger manifest (32 bytes per object). Pick it
   * near the block size of the index the clients use, or a small multiple of it.
   */
  readonly objectSize?: number | undefined;
  /** The hash that names objects (default and only value in format version 1: `sha256`). */
  readonly hash?: BlockStoreHash | undefined;
  /** Aborts the write between chunks; objects already written stay (they are complete). */
  readonly signal?: AbortSignal | undefined;
  /** Called after each object with `{ phase: 'index', done, total }` in bytes of input. */
  readonly onProgress?: ProgressListener | undefined;
}

const READ_CHUNK = 1024 * 1024;

function tempName(base: string): string {
  return `.${base}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

/** Writes `bytes` to `path` through a temporary file in the same directory, fsync'd, then renamed. */
async function writeAtomically(dir: string, name: string, bytes: Uint8Array): Promise<void> {
  const temp = join(dir, tempName(name));
  let renamed = false;
  try {
    const handle = await open(temp, 'wx');
    try {
      let written = 0;
      while (written < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
        written += bytesWritten;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, join(dir, name));
    renamed = true;
  } finally {
    if (!renamed) await unlink(temp).catch(() => undefined);
  }
}

async function* readPath(path: string): AsyncGenerator<Uint8Array> {
  const stream = createReadStream(path, { highWaterMark: READ_CHUNK });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) yield chunk;
  } catch (cause) {
    throw new BlockSourceError('ERR_BLOCKSOURCE_IO', `${path}: reading the input failed: ${String(cause)}`, {
      cause,
    });
  } finally {
    stream.destroy();
  }
}

/**
 * Writes a content-addressed block store of a target into `dir`, for static hosts that cannot
 * serve `Range` requests: the target is cut into objects of `objectSize` consecutive bytes, each
 * stored once under `dir/objects/<2 hex>/<hex digest>`, and `dir/manifest.gbs` lists them (see
 * `docs/formats/block-store.md`). A {@link BlockStoreSource} then serves any byte range with
 * whole-object GETs.
 *
 * Identical objects are stored once. Writing is idempotent and incremental: run it again for
 * the next version of the target into the same directory and only objects that are not there
 * yet are written, so publishing version N+1 uploads only the changed objects. Every object and
 * the manifest are written to a temporary file, fsync'd and renamed into place, and the manifest
 * is replaced only after all its objects exist: a crash leaves no damaged object and the old
 * manifest still valid. Old objects are never deleted.
 *
 * Memory: one object buffer plus one read chunk.
 *
 * @param input - a file path, or the target's bytes as a stream
 * @param dir - the store directory (created when missing)
 * @param options - object size, hash, abort signal, progress
 * @returns the manifest that was written
 * @throws {@link BlockSourceError} `ERR_BLOCKSOURCE_INVALID_OPTION` for a bad option,
 *   `ERR_BLOCKSOURCE_IO` when reading the input path or writing the store fails; the abort
 *   reason on abort; errors thrown by an `AsyncIterable` input unchanged
 * @example
 * ```ts
 * const manifest = await writeBlockStore('dist/app-2.0.bin', 'public/app/store');
 * console.log(`${manifest.count} objects for ${manifest.length} bytes`);
 * // upload public/app/store; clients read it with new BlockStoreSource({ url: 'https://static.example/app/store/' })
 * ```
 */
export async function writeBlockStore(
  input: string | AsyncIterable<Uint8Array>,
  dir: string,
  options: WriteBlockStoreOptions = {},
): Promise<BlockStoreManifest> {
  const { signal, onProgress } = options;
  throwIfAborted(signal);
  const objectSize = options.objectSize ?? DEFAULT_BLOCK_STORE_OBJECT_SIZE;
  if (!Number.isInteger(objectSize) || objectSize < 1 || objectSize > MAX_BLOCK_STORE_OBJECT_SIZE) {
    throw new BlockSourceError(
      'ERR_BLOCKSOURCE_INVALID_OPTION',
      `writeBlockStore: objectSize must be an integer in [1, 2^30], got ${String(objectSize)}`,
    );
  }
  const hash: string = options.hash ?? 'sha256';
  if (hash !== 'sha256') {
    throw new BlockSourceError(
      'ERR_BLOCKSOURCE_INVALID_OPTION',
      `writeBlockStore: hash must be 'sha256', got ${JSON.stringify(hash)}`,
    );
  }
  const digestLength = blockStoreDigestLength(hash);

  let knownLength: number | undefined;
  if (typeof input === 'string') {
    try {
      knownLength = (await stat(input)).size;
    } catch (cause) {
      throw new BlockSourceError('ERR_BLOCKSOURCE_IO', `${input}: cannot stat the input: ${String(cause)}`, {
        cause,
      });
    }
  }
  const objectsDir = join(dir, 'objects');
  const io = async <T>(what: string, path: string, op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch (cause) {
      if (signal?.aborted === true) throw signal.reason;
      throw new BlockSourceError('ERR_BLOCKSOURCE_IO', `${path}: ${what} failed: ${String(cause)}`, { cause });
    }
  };
  await io('creating the store directory', objectsDir, () => mkdir(objectsDir, { recursive: true }));

  let digests = new Uint8Array(digestLength * 64);
  let count = 0;
  let length = 0;
  const present = new Set<string>();

  const emit = async (bytes: Uint8Array): Promise<void> => {
    const digest = createHash(hash).update(bytes).digest();
    if ((count + 1) * digestLength > digests.length) {
      const grown = new Uint8Array(digests.length * 2);
      grown.set(digests);
      digests = grown;
    }
    digests.set(digest, count * digestLength);
    count++;
    length += bytes.length;
    const hex = digest.toString('hex');
    if (!present.has(hex)) {
      const shard = join(objectsDir, hex.slice(0, 2));
      const path = join(shard, hex);
      // An object with this name and length is complete (objects only appear by rename).
      const existing = await stat(path).catch(() => undefined);
      if (existing?.isFile() !== true || existing.size !== bytes.length) {
        await io('writing an object', path, async () => {
          await mkdir(shard, { recursive: true });
          await writeAtomically(shard, hex, bytes);
        });
      }
      present.add(hex);
    }
    onProgress?.({ phase: 'index', done: length, total: Math.max(length, knownLength ?? length) });
  };

  const buffer = new Uint8Array(objectSize);
  let fill = 0;
  const source = typeof input === 'string' ? readPath(input) : input;
  for await (const chunk of source) {
    throwIfAborted(signal);
    let offset = 0;
    while (offset < chunk.length) {
      if (fill === 0 && chunk.length - offset >= objectSize) {
        // A whole object inside the chunk: hash and write it without copying.
        await emit(chunk.subarray(offset, offset + objectSize));
        offset += objectSize;
        continue;
      }
      const n = Math.min(objectSize - fill, chunk.length - offset);
      buffer.set(chunk.subarray(offset, offset + n), fill);
      fill += n;
      offset += n;
      if (fill === objectSize) {
        await emit(buffer);
        fill = 0;
      }
    }
  }
  throwIfAborted(signal);
  if (fill > 0) await emit(buffer.subarray(0, fill));

  const manifest: BlockStoreManifest = {
    length,
    objectSize,
    hash,
    count,
    digests: digests.slice(0, count * digestLength),
  };
  const encoded = encodeBlockStoreManifest(manifest);
  await io('writing the manifest', join(dir, BLOCK_STORE_MANIFEST_NAME), () =>
    writeAtomically(dir, BLOCK_STORE_MANIFEST_NAME, encoded),
  );
  return manifest;
}
