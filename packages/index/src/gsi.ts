import { Packr, Unpackr } from 'msgpackr';
import { createHash } from 'node:crypto';
import { BlockIndex, type ChunkParameters, type FileHash, type IndexMetadata } from './block-index.js';
import { IndexError } from './errors.js';
import { isStrongHashName, strongHashInfo } from './hashes.js';
import { assertBytes, resolveDecodeOptions, type DecodeOptions } from './limits.js';

/** The 8 bytes every native index starts with: `\x89GSI\r\n\x1a\n`. */
export const GSI_MAGIC: Uint8Array = Uint8Array.of(0x89, 0x47, 0x53, 0x49, 0x0d, 0x0a, 0x1a, 0x0a);
/**
 * The native format version this library writes whenever the msgpack header fits in 65 535 bytes
 * (its length is then a uint16). A larger header (large attachments) is written as version 2,
 * identical but for a uint32 header length; this library reads both.
 */
export const GSI_VERSION = 1;
/** Features a native index may list as required; any other makes the decoder refuse it. */
export const GSI_FEATURES: readonly string[] = Object.freeze(['chunks', 'pad-last-block']);

const PREFIX = 12;
/** Version 2's prefix: magic, version, uint32 header length. */
const PREFIX_LONG = 14;
const TRAILER = 8;
/** The longest header version 1 can describe. */
const MAX_SHORT_HEADER = 0xffff;
/** The longest header we write or read (version 2): a compressed layout of a ≥ 5 GB target fits. */
const MAX_HEADER = 4 * 1024 * 1024;
/** Attachments: at most this many, with names of at most this many characters. */
const MAX_ATTACHMENTS = 16;
const MAX_ATTACHMENT_NAME = 64;

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

function checksum(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest().subarray(0, TRAILER);
}

function weakToBytes(value: number, weakBytes: number, out: Uint8Array, offset: number): void {
  // Little-endian bytes of the masked value, dropping the byte(s) the mask clears.
  if (weakBytes === 4) {
    out[offset] = value & 0xff;
    out[offset + 1] = (value >>> 8) & 0xff;
    out[offset + 2] = (value >>> 16) & 0xff;
    out[offset + 3] = value >>> 24;
  } else if (weakBytes === 3) {
    out[offset] = value & 0xff;
    out[offset + 1] = (value >>> 16) & 0xff;
    out[offset + 2] = value >>> 24;
  } else {
    out[offset] = (value >>> 16) & 0xff;
    out[offset + 1] = value >>> 24;
  }
}

function weakFromBytes(bytes: Uint8Array, weakBytes: number, offset: number): number {
  const b = (i: number): number => bytes[offset + i] as number;
  if (weakBytes === 4) return (b(0) | (b(1) << 8) | (b(2) << 16) | (b(3) << 24)) >>> 0;
  if (weakBytes === 3) return (b(0) | (b(1) << 16) | (b(2) << 24)) >>> 0;
  return ((b(0) << 16) | (b(1) << 24)) >>> 0;
}

/**
 * Encodes an index in the native `.gsi` format (see `docs/formats/index.md`): magic,
 * version, a msgpack header, a columnar table of `weakBytes + strongBytes` bytes per block
 * (plus 4 per chunk), and the first 8 bytes of the SHA-256 of everything before it.
 *
 * Metadata attachments go into the header (`meta.att`). A header over 65 535 bytes makes the
 * file format version 2 (a uint32 header length), which readers before attachments refuse.
 *
 * @param index - the index
 * @returns the encoded bytes
 * @throws {@link IndexError} `ERR_INDEX_LIMIT_EXCEEDED` when the header (metadata and
 *   attachments) exceeds 4 MiB, there are more than 16 attachments or a name is longer than 64
 *   characters; `ERR_INDEX_INVALID_OPTION` for an empty attachment name or a value that is not a
 *   `Uint8Array`
 * @example
 * ```ts
 * const bytes = encodeIndex(await buildIndex('target.iso'));
 * ```
 */
export function encodeIndex(index: BlockIndex): Uint8Array {
  const required: string[] = [];
  if (index.kind === 'chunks') required.push('chunks');
  if (index.padLastBlock) required.push('pad-last-block');
  const fileHashes: Record<string, Uint8Array> = {};
  for (const h of index.fileHashes) fileHashes[h.algorithm] = h.digest;
  const meta: Record<string, unknown> = {};
  const m = index.metadata;
  if (m.filename !== undefined) meta['name'] = m.filename;
  if (m.mtime !== undefined) meta['mtime'] = m.mtime;
  if (m.urls !== undefined) meta['urls'] = [...m.urls];
  if (m.attachments !== undefined) {
    const att = checkAttachments(m.attachments);
    if (Object.keys(att).length > 0) meta['att'] = att;
  }
  // Short keys keep the fixed overhead below a .zsync header's; see docs/formats/index.md.
  const header: Record<string, unknown> = {};
  if (required.length > 0) header['req'] = required;
  header['kind'] = index.kind;
  header['len'] = index.fileLength;
  header['bs'] = index.blockSize;
  header['n'] = index.count;
  header['sh'] = index.strongHash;
  header['sl'] = index.strongBytes;
  header['wl'] = index.weakBytes;
  header['seq'] = index.seqMatches;
  if (index.fileHashes.length > 0) header['fh'] = fileHashes;
  if (Object.keys(meta).length > 0) header['meta'] = meta;
  if (index.chunking !== undefined) {
    const c = index.chunking;
    header['cdc'] = { min: c.minSize, avg: c.avgSize, max: c.maxSize, nc: c.normalization };
  }
  const head = packr.pack(header);
  if (head.length > MAX_HEADER) {
    throw new IndexError('ERR_INDEX_LIMIT_EXCEEDED', `gsi: header is ${head.length} bytes; at most ${MAX_HEADER} allowed (metadata or attachments too large)`);
  }
  const long = head.length > MAX_SHORT_HEADER;
  const prefix = long ? PREFIX_LONG : PREFIX;
  const { count, weakBytes, strongBytes } = index;
  const chunkBytes = index.kind === 'chunks' ? 4 : 0;
  const tableStart = prefix + head.length;
  const total = tableStart + count * (weakBytes + strongBytes + chunkBytes) + TRAILER;
  const out = new Uint8Array(total);
  out.set(GSI_MAGIC, 0);
  const view = new DataView(out.buffer);
  if (long) {
    view.setUint16(8, 2, true);
    view.setUint32(10, head.length, true);
  } else {
    view.setUint16(8, GSI_VERSION, true);
    view.setUint16(10, head.length, true);
  }
  out.set(head, prefix);
  let p = tableStart;
  for (let i = 0; i < count; i++, p += weakBytes) weakToBytes(index.weakSums[i] as number, weakBytes, out, p);
  out.set(index.strongHashes, p);
  p += index.strongHashes.length;
  if (index.offsets !== undefined) {
    for (let i = 0; i < count; i++, p += 4) view.setUint32(p, index.blockLength(i), true);
  }
  out.set(checksum(out.subarray(0, p)), p);
  return out;
}

function checkAttachments(attachments: Readonly<Record<string, Uint8Array>>): Record<string, Uint8Array> {
  const entries = Object.entries(attachments);
  if (entries.length > MAX_ATTACHMENTS) {
    throw new IndexError('ERR_INDEX_LIMIT_EXCEEDED', `gsi: ${entries.length} attachments; at most ${MAX_ATTACHMENTS} allowed`);
  }
  const out: Record<string, Uint8Array> = {};
  for (const [name, value] of entries) {
    if (name.length === 0) throw new IndexError('ERR_INDEX_INVALID_OPTION', 'gsi: an attachment name is empty');
    if (name.length > MAX_ATTACHMENT_NAME) {
      throw new IndexError('ERR_INDEX_LIMIT_EXCEEDED', `gsi: attachment name ${JSON.stringify(name.slice(0, 40))}… has ${name.length} characters; at most ${MAX_ATTACHMENT_NAME} allowed`);
    }
    if (!((value as unknown) instanceof Uint8Array)) {
      throw new IndexError('ERR_INDEX_INVALID_OPTION', `gsi: attachment ${JSON.stringify(name)}: expected a Uint8Array, got ${typeof value}`);
    }
    Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function headerError(where: string, message: string): IndexError {
  return new IndexError('ERR_INDEX_INVALID_HEADER', `${where}: ${message}`);
}

function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function intField(obj: Record<string, unknown>, key: string, where: string, min: number, max: number): number {
  const v = own(obj, key);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw headerError(where, `header field ${key}: expected an integer in [${min}, ${max}], found ${describe(v)}`);
  }
  return v;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.slice(0, 40));
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === undefined) return 'nothing';
  return Array.isArray(v) ? 'an array' : typeof v;
}

/**
 * Decodes a native `.gsi` index (version 1, or 2 for headers over 65 535 bytes), checking the
 * magic, the version, the header length (at most 4 MiB) before parsing, every required feature,
 * each header field, the table size against the bytes present (before allocating) and the
 * checksum.
 *
 * @param bytes - the whole encoded index
 * @param options - limits and a source name for messages
 * @returns the index (its arrays are fresh copies)
 * @throws {@link IndexError} `ERR_INDEX_BAD_MAGIC`, `ERR_INDEX_UNSUPPORTED_VERSION`,
 *   `ERR_INDEX_TRUNCATED`, `ERR_INDEX_TRAILING_DATA`, `ERR_INDEX_INVALID_HEADER`,
 *   `ERR_INDEX_UNKNOWN_FEATURE`, `ERR_INDEX_LIMIT_EXCEEDED`, `ERR_INDEX_CORRUPT`
 * @example
 * ```ts
 * const index = decodeIndex(await readFile('target.iso.gsi'));
 * ```
 */
export function decodeIndex(bytes: Uint8Array, options?: DecodeOptions): BlockIndex {
  assertBytes(bytes);
  const { maxBlocks, where } = resolveDecodeOptions(options, 'gsi');
  const magicLen = Math.min(bytes.length, GSI_MAGIC.length);
  for (let i = 0; i < magicLen; i++) {
    if (bytes[i] !== GSI_MAGIC[i]) {
      throw new IndexError('ERR_INDEX_BAD_MAGIC', `${where}: expected the native index magic 89 47 53 49 0d 0a 1a 0a at offset 0, found byte ${bytes[i]} at offset ${i}`);
    }
  }
  if (bytes.length < PREFIX + TRAILER) {
    throw new IndexError('ERR_INDEX_TRUNCATED', `${where}: expected at least ${PREFIX + TRAILER} bytes, found ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(8, true);
  if (version !== GSI_VERSION && version !== 2) {
    throw new IndexError('ERR_INDEX_UNSUPPORTED_VERSION', `${where}: expected format version ${GSI_VERSION} or 2, found ${version} at offset 8`);
  }
  const prefix = version === 2 ? PREFIX_LONG : PREFIX;
  if (bytes.length < prefix + TRAILER) {
    throw new IndexError('ERR_INDEX_TRUNCATED', `${where}: expected at least ${prefix + TRAILER} bytes for version ${version}, found ${bytes.length}`);
  }
  const headLen = version === 2 ? view.getUint32(10, true) : view.getUint16(10, true);
  if (version === 2 && (headLen <= MAX_SHORT_HEADER || headLen > MAX_HEADER)) {
    throw new IndexError(
      headLen > MAX_HEADER ? 'ERR_INDEX_LIMIT_EXCEEDED' : 'ERR_INDEX_INVALID_HEADER',
      `${where}: version 2 header length at offset 10: expected (${MAX_SHORT_HEADER}, ${MAX_HEADER}], found ${headLen}`,
    );
  }
  if (prefix + headLen + TRAILER > bytes.length) {
    throw new IndexError('ERR_INDEX_TRUNCATED', `${where}: header of ${headLen} bytes at offset ${prefix} runs past the end (${bytes.length} bytes)`);
  }
  let header: unknown;
  try {
    header = unpackr.unpack(bytes.subarray(prefix, prefix + headLen));
  } catch (e) {
    throw new IndexError('ERR_INDEX_INVALID_HEADER', `${where}: the msgpack header at offset ${prefix} does not parse: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (!isRecord(header)) throw headerError(where, `expected a msgpack map at offset ${prefix}, found ${describe(header)}`);
  const required = own(header, 'req') ?? [];
  if (!Array.isArray(required) || required.length > 64 || !required.every((f) => typeof f === 'string')) {
    throw headerError(where, 'header field req: expected an array of at most 64 strings');
  }
  for (const feature of required) {
    if (!GSI_FEATURES.includes(feature)) {
      throw new IndexError('ERR_INDEX_UNKNOWN_FEATURE', `${where}: the index requires feature ${JSON.stringify(feature.slice(0, 60))}, which this version does not know (known: ${GSI_FEATURES.join(', ')})`);
    }
  }
  const kind = own(header, 'kind');
  if (kind !== 'blocks' && kind !== 'chunks') throw headerError(where, `header field kind: expected "blocks" or "chunks", found ${describe(kind)}`);
  if ((kind === 'chunks') !== required.includes('chunks')) {
    throw headerError(where, 'a chunk-based index must list "chunks" as required, and only then');
  }
  const padLastBlock = required.includes('pad-last-block');
  const fileLength = intField(header, 'len', where, 0, Number.MAX_SAFE_INTEGER);
  const blockSize = intField(header, 'bs', where, 1, 2 ** 30);
  const count = intField(header, 'n', where, 0, Number.MAX_SAFE_INTEGER);
  if (count > maxBlocks) {
    throw new IndexError('ERR_INDEX_LIMIT_EXCEEDED', `${where}: ${count} blocks exceed the limit of ${maxBlocks}`);
  }
  const strongHash = own(header, 'sh');
  if (typeof strongHash !== 'string') throw headerError(where, `header field sh: expected a string, found ${describe(strongHash)}`);
  if (!isStrongHashName(strongHash)) {
    throw new IndexError('ERR_INDEX_UNKNOWN_FEATURE', `${where}: unknown strong hash ${JSON.stringify(strongHash.slice(0, 40))}`);
  }
  const strongBytes = intField(header, 'sl', where, 3, strongHashInfo(strongHash).digestLength);
  const weakBytes = intField(header, 'wl', where, 2, 4) as 2 | 3 | 4;
  const seqMatches = intField(header, 'seq', where, 1, 2) as 1 | 2;
  if (kind === 'blocks' && count !== Math.ceil(fileLength / blockSize)) {
    throw headerError(where, `count ${count} does not match length ${fileLength} in blocks of ${blockSize} (expected ${Math.ceil(fileLength / blockSize)})`);
  }
  if (kind === 'chunks' && (count > fileLength || (count === 0) !== (fileLength === 0))) {
    throw headerError(where, `chunk count ${count} impossible for length ${fileLength}`);
  }
  const fileHashes = readFileHashes(own(header, 'fh'), where);
  const metadata = readMetadata(own(header, 'meta'), where);
  const chunking = kind === 'chunks' ? readChunking(own(header, 'cdc'), where, blockSize) : undefined;

  const chunkBytes = kind === 'chunks' ? 4 : 0;
  const tableStart = prefix + headLen;
  const tableLength = count * (weakBytes + strongBytes + chunkBytes);
  const expected = tableStart + tableLength + TRAILER;
  if (expected > bytes.length) {
    throw new IndexError('ERR_INDEX_TRUNCATED', `${where}: ${count} blocks need ${expected} bytes, found ${bytes.length} (table at offset ${tableStart})`);
  }
  if (expected < bytes.length) {
    throw new IndexError('ERR_INDEX_TRAILING_DATA', `${where}: expected ${expected} bytes, found ${bytes.length - expected} more after the checksum`);
  }
  const sum = checksum(bytes.subarray(0, expected - TRAILER));
  for (let i = 0; i < TRAILER; i++) {
    if (bytes[expected - TRAILER + i] !== sum[i]) {
      throw new IndexError('ERR_INDEX_CORRUPT', `${where}: the checksum at offset ${expected - TRAILER} does not match the content; the index is damaged`);
    }
  }
  const weakSums = new Uint32Array(count);
  let p = tableStart;
  for (let i = 0; i < count; i++, p += weakBytes) weakSums[i] = weakFromBytes(bytes, weakBytes, p);
  const strongHashes = bytes.slice(p, p + count * strongBytes);
  p += count * strongBytes;
  let offsets: Float64Array | undefined;
  if (kind === 'chunks') {
    offsets = new Float64Array(count + 1);
    let at = 0;
    for (let i = 0; i < count; i++, p += 4) {
      const len = view.getUint32(p, true);
      if (len < 1 || len > blockSize) {
        throw headerError(where, `chunk ${i} at table offset ${p} has length ${len}; expected [1, ${blockSize}]`);
      }
      at += len;
      offsets[i + 1] = at;
    }
    if (at !== fileLength) throw headerError(where, `chunk lengths add up to ${at}, expected length ${fileLength}`);
  }
  try {
    return new BlockIndex({
      kind, fileLength, blockSize, weakSums, strongHashes, strongHash, strongBytes, weakBytes,
      seqMatches, padLastBlock, fileHashes, metadata,
      ...(offsets === undefined ? {} : { offsets }),
      ...(chunking === undefined ? {} : { chunking }),
    });
  } catch (e) {
    throw new IndexError('ERR_INDEX_INVALID_HEADER', `${where}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

function readFileHashes(v: unknown, where: string): FileHash[] {
  if (v === undefined) return [];
  if (!isRecord(v)) throw headerError(where, `header field fh: expected a map, found ${describe(v)}`);
  const out: FileHash[] = [];
  for (const [algorithm, want] of [['sha256', 32], ['sha1', 20]] as const) {
    const d = own(v, algorithm);
    if (d === undefined) continue;
    if (!(d instanceof Uint8Array) || d.length !== want) {
      throw headerError(where, `header field fh.${algorithm}: expected ${want} bytes`);
    }
    out.push({ algorithm, digest: new Uint8Array(d) });
  }
  return out;
}

function readMetadata(v: unknown, where: string): IndexMetadata {
  if (v === undefined) return {};
  if (!isRecord(v)) throw headerError(where, `header field meta: expected a map, found ${describe(v)}`);
  const filename = own(v, 'name');
  const mtime = own(v, 'mtime');
  const urls = own(v, 'urls');
  if (filename !== undefined && typeof filename !== 'string') throw headerError(where, 'meta.name: expected a string');
  if (mtime !== undefined && (typeof mtime !== 'number' || !Number.isSafeInteger(mtime))) throw headerError(where, 'meta.mtime: expected an integer');
  if (urls !== undefined && (!Array.isArray(urls) || !urls.every((u) => typeof u === 'string'))) {
    throw headerError(where, 'meta.urls: expected an array of strings');
  }
  const attachments = readAttachments(own(v, 'att'), where);
  return {
    ...(filename === undefined ? {} : { filename }),
    ...(mtime === undefined ? {} : { mtime }),
    ...(urls === undefined ? {} : { urls: [...urls] }),
    ...(attachments === undefined ? {} : { attachments }),
  };
}

function readAttachments(v: unknown, where: string): Record<string, Uint8Array> | undefined {
  if (v === undefined) return undefined;
  if (!isRecord(v)) throw headerError(where, `meta.att: expected a map, found ${describe(v)}`);
  const entries = Object.entries(v);
  if (entries.length > MAX_ATTACHMENTS) {
    throw new IndexError('ERR_INDEX_LIMIT_EXCEEDED', `${where}: meta.att has ${entries.length} attachments; at most ${MAX_ATTACHMENTS} allowed`);
  }
  const out: Record<string, Uint8Array> = {};
  for (const [name, data] of entries) {
    if (name.length === 0 || name.length > MAX_ATTACHMENT_NAME) {
      throw headerError(where, `meta.att: attachment name ${JSON.stringify(name.slice(0, 40))} has ${name.length} characters; expected 1–${MAX_ATTACHMENT_NAME}`);
    }
    if (!(data instanceof Uint8Array)) throw headerError(where, `meta.att.${name}: expected bytes (msgpack bin), found ${describe(data)}`);
    Object.defineProperty(out, name, { value: new Uint8Array(data), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function readChunking(v: unknown, where: string, blockSize: number): ChunkParameters {
  if (!isRecord(v)) throw headerError(where, `header field cdc: expected a map, found ${describe(v)}`);
  const minSize = intField(v, 'min', where, 1, blockSize);
  const avgSize = intField(v, 'avg', where, minSize, blockSize);
  const maxSize = intField(v, 'max', where, avgSize, blockSize);
  const normalization = intField(v, 'nc', where, 0, 3) as 0 | 1 | 2 | 3;
  return { minSize, avgSize, maxSize, normalization };
}
