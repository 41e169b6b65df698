import { createHash } from 'node:crypto';
import { toHex } from '@gosync/core';
import type { ByteRange } from '@gosync/core';
import { BlockSourceError } from './errors.js';

/** The hash that names block store objects. Version 1 of the format knows only `sha256`. */
export type BlockStoreHash = 'sha256';

/**
 * Everything a reader needs to serve byte ranges from a block store: the target's length, the
 * object size and the digest of every object. Object `i` holds the target's bytes
 * `[i × objectSize, min((i + 1) × objectSize, length))` and is stored under
 * `objects/<first 2 hex digits>/<hex digest>` (see {@link blockStoreObjectPath}).
 */
export interface BlockStoreManifest {
  /** The target's length in bytes (a safe integer; files over 4 GiB work). */
  readonly length: number;
  /** Bytes per object, in [1, 2^30]; the last object may be shorter. */
  readonly objectSize: number;
  /** The hash that names the objects. */
  readonly hash: BlockStoreHash;
  /** Number of objects, `⌈length / objectSize⌉`. */
  readonly count: number;
  /** The objects' digests, concatenated in object order: `count × digest length` bytes. */
  readonly digests: Uint8Array;
}

/** Options of {@link decodeBlockStoreManifest}. */
export interface DecodeBlockStoreManifestOptions {
  /** The most objects accepted (default 2^22 = 4 Mi objects, a 128 MiB manifest; 1 TiB at 256 KiB objects). */
  readonly maxObjects?: number | undefined;
  /** Names the manifest (its URL or path) in error messages (default `manifest.gbs`). */
  readonly name?: string | undefined;
}

/** The manifest's file name inside a block store directory. */
export const BLOCK_STORE_MANIFEST_NAME = 'manifest.gbs';

/** The default object size of {@link BlockStoreManifest.objectSize}: 256 KiB. */
export const DEFAULT_BLOCK_STORE_OBJECT_SIZE: number = 256 * 1024;

/** The largest object size the format allows: 1 GiB. */
export const MAX_BLOCK_STORE_OBJECT_SIZE: number = 2 ** 30;

const MAGIC = Uint8Array.of(0x89, 0x47, 0x42, 0x53, 0x0d, 0x0a, 0x1a, 0x0a);
const VERSION = 1;
const HEADER = 32;
const TRAILER = 8;
const DEFAULT_MAX_OBJECTS = 2 ** 22;
const HASHES: Readonly<Record<BlockStoreHash, { readonly id: number; readonly length: number }>> = {
  sha256: { id: 1, length: 32 },
};

/**
 * The digest length in bytes of a block store hash.
 *
 * @param hash - the hash name
 * @returns its digest length (32 for `sha256`)
 * @throws {@link BlockSourceError} `ERR_BLOCKSOURCE_MANIFEST_UNSUPPORTED` for an unknown hash
 * @example
 * ```ts
 * blockStoreDigestLength('sha256'); // 32
 * ```
 */
export function blockStoreDigestLength(hash: BlockStoreHash): number {
  const info = Object.hasOwn(HASHES, hash) ? HASHES[hash] : undefined;
  if (info === undefined) {
    throw new BlockSourceError(
      'ERR_BLOCKSOURCE_MANIFEST_UNSUPPORTED',
      `block store hash must be one of ${Object.keys(HASHES).join(', ')}, got ${JSON.stringify(hash)}`,
    );
  }
  return info.length;
}

/**
 * The maximum manifest size in bytes for a given object limit (used to bound downloads).
 *
 * @param maxObjects - the most objects accepted
 * @returns the size of a manifest with that many 32-byte digests
 * @internal
 */
export function maxBlockStoreManifestBytes(maxObjects: number): number {
  return HEADER + maxObjects * 32 + TRAILER;
}

function fail(name: string, message: string): BlockSourceError {
  return new BlockSourceError('ERR_BLOCKSOURCE_MANIFEST', `${name}: ${message}`);
}

/**
 * Checks that a manifest's fields agree with each other (used before encoding and for a manifest
 * handed to a reader).
 *
 * @param manifest - the manifest
 * @param name - names it in error messages
 * @throws {@link BlockSourceError} `ERR_BLOCKSOURCE_MANIFEST`, `ERR_BLOCKSOURCE_MANIFEST_UNSUPPORTED`
 * @internal
 */
export function checkBlockStoreManifest(manifest: BlockStoreManifest, name = 'block store manifest'): void {
  const digestLength = blockStoreDigestLength(manifest.hash);
  const { length, objectSize, count, digests } = manifest;
  if (!Number.isSafeInteger(length) || length < 0) {
    throw fail(name, `length must be a safe integer ≥ 0, got ${String(length)}`);
  }
  if (!Number.isInteger(objectSize) || objectSize < 1 || objectSize > MAX_BLOCK_STORE_OBJECT_SIZE) {
    throw fail(name, `objectSize must be an integer in [1, 2^30], got ${String(objectSize)}`);
  }
  const expected = Math.ceil(length / objectSize);
  if (count !== expected) {
    throw fail(name, `count must be ⌈${length} / ${objectSize}⌉ = ${expected}, got ${String(count)}`);
  }
  if (!(digests instanceof Uint8Array) || digests.length !== count * digestLength) {
    throw fail(
      name,
      `digests must hold ${count} × ${digestLength} = ${count * digestLength} bytes, got ${digests instanceof Uint8Array ? digests.length : typeof digests}`,
    );
  }
}

/**
 * The digest of object `index`.
 *
 * @param manifest - the manifest
 * @param index - the object number, from 0
 * @returns a view into `manifest.digests` (do not change it)
 * @example
 * ```ts
 * toHex(blockStoreObjectDigest(manifest, 0));
 * ```
 */
export function blockStoreObjectDigest(manifest: BlockStoreManifest, index: number): Uint8Array {
  const n = blockStoreDigestLength(manifest.hash);
  return manifest.digests.subarray(index * n, (index + 1) * n);
}

/**
 * The byte range of the target that object `index` holds.
 *
 * @param manifest - the manifest
 * @param index - the object number, from 0
 * @returns `[index × objectSize, min((index + 1) × objectSize, length))`
 * @example
 * ```ts
 * blockStoreObjectRange({ length: 10, objectSize: 4, hash: 'sha256', count: 3, digests }, 2); // { start: 8, end: 10 }
 * ```
 */
export function blockStoreObjectRange(manifest: BlockStoreManifest, index: number): ByteRange {
  const start = index * manifest.objectSize;
  return { start, end: Math.min(manifest.length, start + manifest.objectSize) };
}

/**
 * Where object `index` lives, relative to the store directory: `objects/ab/ab12…` (the lower-case
 * hex digest, sharded by its first two digits). The same path serves as a URL path.
 *
 * @param manifest - the manifest
 * @param index - the object number, from 0
 * @returns the relative path, with `/` separators
 * @example
 * ```ts
 * new URL(blockStoreObjectPath(manifest, 0), 'https://static.example/app/store/');
 * ```
 */
export function blockStoreObjectPath(manifest: BlockStoreManifest, index: number): string {
  return objectPathOfHex(toHex(blockStoreObjectDigest(manifest, index)));
}

/** @internal */
export function objectPathOfHex(hex: string): string {
  return `objects/${hex.slice(0, 2)}/${hex}`;
}

function checksum(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest().subarray(0, TRAILER);
}

/**
 * Encodes a manifest as `manifest.gbs` bytes (format version 1; see `docs/formats/block-store.md`).
 *
 * @param manifest - the manifest
 * @returns `32 + count × 32 + 8` bytes
 * @throws {@link BlockSourceError} `ERR_BLOCKSOURCE_MANIFEST` when the fields disagree,
 *   `ERR_BLOCKSOURCE_MANIFEST_UNSUPPORTED` for an unknown hash
 * @example
 * ```ts
 * await writeFile('store/manifest.gbs', encodeBlockStoreManifest(manifest));
 * ```
 */
export function encodeBlockStoreManifest(manifest: BlockStoreManifest): Uint8Array {
  checkBlockStoreManifest(manifest);
  const info = HASHES[manifest.hash];
  const body = HEADER + manifest.digests.length;
  const out = new Uint8Array(body + TRAILER);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint16(8, VERSION, true);
  view.setUint16(10, 0, true); // required feature flags: none in version 1
  out[12] = info.id;
  out[13] = info.length;
  view.setUint16(14, 0, true); // reserved
  view.setUint32(16, manifest.length % 2 ** 32, true);
  view.setUint32(20, Math.floor(manifest.length / 2 ** 32), true);
  view.setUint32(24, manifest.objectSize, true);
  view.setUint32(28, manifest.count, true);
  out.set(manifest.digests, HEADER);
  out.set(checksum(out.subarray(0, body)), body);
  return out;
}

/**
 * Decodes `manifest.gbs` bytes strictly: the magic, then the version and required features,
 * then every field, then the exact size (checked before anything is allocated), then the
 * checksum.
 *
 * @param bytes - the whole manifest file
 * @param options - object limit and a name for messages
 * @returns the manifest (its `digests` is a copy)
 * @throws {@link BlockSourceError} `ERR_BLOCKSOURCE_MANIFEST` (not a manifest, truncated,
 *   trailing bytes, inconsistent fields, over `maxObjects`, bad checksum),
 *   `ERR_BLOCKSOURCE_MANIFEST_UNSUPPORTED` (newer version, unknown feature flags or hash)
 * @example
 * ```ts
 * const manifest = decodeBlockStoreManifest(await readFile('store/manifest.gbs'));
 * console.log(manifest.length, manifest.count);
 * ```
 */
export function decodeBlockStoreManifest(
  bytes: Uint8Array,
  options: DecodeBlockStoreManifestOptions = {},
): BlockStoreManifest {
  const name = options.name ?? BLOCK_STORE_MANIFEST_NAME;
  const maxObjects = options.maxObjects ?? DEFAULT_MAX_OBJECTS;
  if (!Number.isSafeInteger(maxObjects) || maxObjects < 0) {
    throw new BlockSourceError(
      'ERR_BLOCKSOURCE_INVALID_OPTION',
      `${name}: maxObjects must be a safe integer ≥ 0, got ${String(maxObjects)}`,
    );
  }
  if (bytes.length < MAGIC.length || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw fail(name, `not a block store manifest: expected magic 89 47 42 53 0d 0a 1a 0a, found ${toHex(bytes.subarray(0, 8))}`);
  }
  if (bytes.length < HEADER + TRAILER) {
    throw fail(name, `truncated: ${bytes.length} bytes, a manifest has at least ${HEADER + TRAILER}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(8, true);
  if (version !== VERSION) {
    throw new BlockSourceError(
      'ERR_BLOCKSOURCE_MANIFEST_UNSUPPORTED',
      `${name}: format version ${version}; this reader knows version ${VERSION}`,
    );
  }
  const flags = view.getUint16(10, true);
  if (flags !== 0) {
    throw new BlockSourceError(
      'ERR_BLOCKSOURCE_MANIFEST_UNSUPPORTED',
      `${name}: unknown required feature flags 0x${flags.toString(16)}`,
    );
  }
  const hashId = bytes[12] as number;
  const entry = Object.entries(HASHES).find(([, h]) => h.id === hashId);
  if (entry === undefined) {
    throw new BlockSourceError('ERR_BLOCKSOURCE_MANIFEST_UNSUPPORTED', `${name}: unknown hash id ${hashId}`);
  }
  const [hashName, info] = entry as [BlockStoreHash, { id: number; length: number }];
  const digestLength = bytes[13] as number;
  if (digestLength !== info.length) {
    throw fail(name, `digest length ${digestLength} does not match ${hashName} (${info.length})`);
  }
  if (view.getUint16(14, true) !== 0) throw fail(name, 'reserved bytes 14–15 are not zero');
  const high = view.getUint32(20, true);
  if (high > 0x1f_ffff) throw fail(name, `length exceeds 2^53 − 1 (high word 0x${high.toString(16)})`);
  const length = high * 2 ** 32 + view.getUint32(16, true);
  const objectSize = view.getUint32(24, true);
  if (objectSize < 1 || objectSize > MAX_BLOCK_STORE_OBJECT_SIZE) {
    throw fail(name, `objectSize must be in [1, 2^30], found ${objectSize}`);
  }
  const count = view.getUint32(28, true);
  const expected = Math.ceil(length / objectSize);
  if (count !== expected) {
    throw fail(name, `object count ${count} does not match ⌈${length} / ${objectSize}⌉ = ${expected}`);
  }
  if (count > maxObjects) {
    throw fail(name, `${count} objects, more than the limit maxObjects = ${maxObjects}`);
  }
  const size = HEADER + count * digestLength + TRAILER;
  if (bytes.length < size) {
    throw fail(name, `truncated: ${bytes.length} bytes, expected ${size} for ${count} objects`);
  }
  if (bytes.length > size) {
    throw fail(name, `${bytes.length - size} trailing bytes after the ${size}-byte manifest`);
  }
  const body = size - TRAILER;
  const want = checksum(bytes.subarray(0, body));
  const found = bytes.subarray(body, size);
  if (want.some((b, i) => found[i] !== b)) {
    throw fail(name, `checksum mismatch: expected ${toHex(want)}, found ${toHex(found)} (damaged manifest)`);
  }
  // A plain Uint8Array copy (`slice` of a Buffer would be a Buffer).
  return { length, objectSize, hash: hashName, count, digests: new Uint8Array(bytes.subarray(HEADER, body)) };
}
