import { toHex } from '@gosync/core';
import { BlockIndex, type FileHash } from './block-index.js';
import { IndexError } from './errors.js';
import type { StrongHashName } from './hashes.js';
import { assertBytes, resolveDecodeOptions, type DecodeOptions } from './limits.js';

/** The largest .zsync text header accepted (256 KiB: thousands of URL lines). */
export const ZSYNC_MAX_HEADER: number = 256 * 1024;

/** Header keys zsync 0.6.2 knows; any other must be listed in `Safe:` to be ignored. */
const KNOWN = new Set([
  'zsync', 'Min-Version', 'Filename', 'MTime', 'Blocksize', 'Length', 'Hash-Lengths', 'URL',
  'SHA-1', 'Z-URL', 'Z-Map2', 'Z-Filename', 'Recompress', 'Safe', 'File-Hash',
  'Strong-Hash-Algorithm',
]);

/** The newest `Min-Version:` this reader satisfies (spec 0.8 fields are understood). */
const READER_VERSION = [0, 8, 0] as const;

const STRONG_NAMES: Readonly<Record<string, StrongHashName>> = { MD4: 'md4', MD5: 'md5', 'SHA-224': 'sha224' };

const encoder = new TextEncoder();

/** Options of {@link encodeZsync}. */
export interface EncodeZsyncOptions {
  /** The value of the `zsync:` line (the producer version). Default `'0.6.2'`. */
  readonly version?: string;
}

function incompatible(message: string): IndexError {
  return new IndexError('ERR_INDEX_INCOMPATIBLE', `zsync: ${message}`);
}

function headerValue(key: string, value: string): string {
  if (/[\r\n]/.test(value)) throw incompatible(`${key} may not contain a line break`);
  return `${key}: ${value}\n`;
}

/**
 * Writes an index as a `.zsync` control file that zsync 0.6.2 clients accept: `zsync`,
 * `Filename`, `MTime`, `Blocksize`, `Length`, `Hash-Lengths`, `URL` (one per URL), `SHA-1`,
 * a blank line, then per block the last `weakBytes` of the big-endian rsum and the first
 * `strongBytes` of the MD4.
 *
 * @param index - a block index built with the `'zsync'` profile (MD4, zero-padded last block)
 * @param options - the producer version to write
 * @returns the file's bytes
 * @throws {@link IndexError} `ERR_INDEX_INCOMPATIBLE` for a chunk-based index, a strong hash
 *   other than MD4, an unpadded short last block, a header value with a line break, or
 *   metadata attachments (only the native format carries them)
 * @example
 * ```ts
 * const index = await buildIndex('target.iso', { profile: 'zsync', metadata: { urls: ['target.iso'] } });
 * await writeFile('target.iso.zsync', encodeZsync(index));
 * ```
 */
export function encodeZsync(index: BlockIndex, options: EncodeZsyncOptions = {}): Uint8Array {
  if (index.kind !== 'blocks') throw incompatible('chunk-based indexes cannot be written as .zsync');
  if (index.strongHash !== 'md4') {
    throw incompatible(`zsync 0.6.2 clients need MD4 block hashes, the index has ${index.strongHash} (build it with profile 'zsync')`);
  }
  if (!index.padLastBlock && index.fileLength % index.blockSize !== 0) {
    throw incompatible('zsync hashes the short last block zero-padded; this index hashed it unpadded (build it with profile \'zsync\')');
  }
  if (Object.keys(index.metadata.attachments ?? {}).length > 0) {
    throw incompatible(`.zsync cannot carry attachments (${Object.keys(index.metadata.attachments ?? {}).join(', ')}); write the native format`);
  }
  const meta = index.metadata;
  let head = headerValue('zsync', options.version ?? '0.6.2');
  if (meta.filename !== undefined) head += headerValue('Filename', meta.filename);
  if (meta.mtime !== undefined) {
    head += headerValue('MTime', new Date(meta.mtime * 1000).toUTCString().replace('GMT', '+0000'));
  }
  head += headerValue('Blocksize', String(index.blockSize));
  head += headerValue('Length', String(index.fileLength));
  head += headerValue('Hash-Lengths', `${index.seqMatches},${index.weakBytes},${index.strongBytes}`);
  for (const url of meta.urls ?? []) head += headerValue('URL', url);
  const sha1 = index.fileHash('sha1');
  if (sha1 !== undefined) head += headerValue('SHA-1', toHex(sha1));
  head += '\n';
  const text = encoder.encode(head);
  const { count, weakBytes, strongBytes } = index;
  const record = weakBytes + strongBytes;
  const out = new Uint8Array(text.length + count * record);
  out.set(text, 0);
  let p = text.length;
  for (let i = 0; i < count; i++) {
    const v = index.weakSums[i] as number;
    // Big-endian [a hi, a lo, b hi, b lo], keeping the last weakBytes.
    if (weakBytes === 4) {
      out[p++] = (v >>> 8) & 0xff;
      out[p++] = v & 0xff;
    } else if (weakBytes === 3) {
      out[p++] = v & 0xff;
    }
    out[p++] = v >>> 24;
    out[p++] = (v >>> 16) & 0xff;
    out.set(index.strongHashes.subarray(i * strongBytes, i * strongBytes + strongBytes), p);
    p += strongBytes;
  }
  return out;
}

function bad(where: string, message: string): IndexError {
  return new IndexError('ERR_INDEX_INVALID_HEADER', `${where}: ${message}`);
}

function parseInteger(where: string, key: string, value: string, min: number, max: number): number {
  if (!/^\d{1,20}$/.test(value)) throw bad(where, `${key}: expected a decimal integer, found ${JSON.stringify(value.slice(0, 40))}`);
  const n = Number(value);
  if (n > max) throw new IndexError('ERR_INDEX_LIMIT_EXCEEDED', `${where}: ${key} ${n} is above the limit ${max}`);
  if (n < min) throw bad(where, `${key}: expected at least ${min}, found ${n}`);
  return n;
}

function compareVersion(text: string): number {
  const parts = text.split('.').map((p) => Number.parseInt(p, 10));
  for (let i = 0; i < 3; i++) {
    const a = parts[i] ?? 0;
    const b = READER_VERSION[i] ?? 0;
    if (Number.isNaN(a)) return 1;
    if (a !== b) return a - b;
  }
  return 0;
}

function parseHex(where: string, key: string, value: string, bytes: number): Uint8Array {
  if (value.length !== bytes * 2 || !/^[0-9a-fA-F]+$/.test(value)) {
    throw bad(where, `${key}: expected ${bytes * 2} hex digits, found ${JSON.stringify(value.slice(0, 80))}`);
  }
  return Uint8Array.from(Buffer.from(value, 'hex'));
}

/**
 * Reads a `.zsync` control file: zsyncmake 0.6.2 output (`Hash-Lengths`, `SHA-1`, `MTime`,
 * several `URL:` lines, relative or absolute — kept as written) and the spec-0.8 fields
 * `File-Hash: SHA-256:<hex>`, `Strong-Hash-Algorithm` (MD4, MD5, SHA-224) and `Safe`.
 * As in zsync, a header this reader does not know is an error unless `Safe:` names it.
 * `Min-Version` above 0.8 and compressed targets (`Z-Map2`) are refused.
 *
 * @param bytes - the whole file
 * @param options - limits and a source name for messages
 * @returns a block index with `padLastBlock` set
 * @throws {@link IndexError} `ERR_INDEX_BAD_MAGIC` (no `zsync:` first line),
 *   `ERR_INDEX_UNSUPPORTED_VERSION`, `ERR_INDEX_UNKNOWN_FEATURE`, `ERR_INDEX_INVALID_HEADER`,
 *   `ERR_INDEX_LIMIT_EXCEEDED`, `ERR_INDEX_TRUNCATED`, `ERR_INDEX_TRAILING_DATA`
 * @example
 * ```ts
 * const index = decodeZsync(await readFile('ubuntu.iso.zsync'), { source: 'ubuntu.iso.zsync' });
 * index.metadata.urls; // ['ubuntu.iso']
 * ```
 */
export function decodeZsync(bytes: Uint8Array, options?: DecodeOptions): BlockIndex {
  assertBytes(bytes);
  const { maxBlocks, where } = resolveDecodeOptions(options, 'zsync');
  const magic = 'zsync: ';
  for (let i = 0; i < Math.min(magic.length, bytes.length); i++) {
    if (bytes[i] !== magic.charCodeAt(i)) {
      throw new IndexError('ERR_INDEX_BAD_MAGIC', `${where}: expected a first line "zsync: <version>", found byte ${bytes[i]} at offset ${i}`);
    }
  }
  let end = -1;
  const limit = Math.min(bytes.length - 1, ZSYNC_MAX_HEADER);
  for (let i = 0; i < limit; i++) {
    if (bytes[i] === 0x0a && bytes[i + 1] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end < 0) {
    if (bytes.length > ZSYNC_MAX_HEADER) {
      throw new IndexError('ERR_INDEX_LIMIT_EXCEEDED', `${where}: no end of header (blank line) in the first ${ZSYNC_MAX_HEADER} bytes`);
    }
    throw new IndexError('ERR_INDEX_TRUNCATED', `${where}: the header ends without a blank line (${bytes.length} bytes)`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, end));
  } catch (e) {
    throw new IndexError('ERR_INDEX_INVALID_HEADER', `${where}: the header is not valid UTF-8`, { cause: e });
  }
  const fields: [string, string][] = [];
  let line = 1;
  for (const raw of text.split('\n')) {
    const colon = raw.indexOf(':');
    if (colon <= 0) throw bad(where, `line ${line}: expected "Key: value", found ${JSON.stringify(raw.slice(0, 60))}`);
    fields.push([raw.slice(0, colon), raw.slice(colon + 1).trim()]);
    line++;
  }
  const single = new Map<string, string>();
  const urls: string[] = [];
  const safe = new Set<string>();
  for (const [key, value] of fields) {
    if (key === 'URL') urls.push(value);
    else if (key === 'Safe') {
      for (const s of value.split(/[\s,]+/)) if (s !== '') safe.add(s);
    } else if (single.has(key)) throw bad(where, `header ${key} appears twice`);
    else single.set(key, value);
  }
  if (urls.length > 4096) throw new IndexError('ERR_INDEX_LIMIT_EXCEEDED', `${where}: ${urls.length} URL lines exceed the limit of 4096`);
  for (const key of single.keys()) {
    if (!KNOWN.has(key) && !safe.has(key)) {
      throw new IndexError('ERR_INDEX_UNKNOWN_FEATURE', `${where}: unknown header ${JSON.stringify(key.slice(0, 60))} not listed in Safe:; it needs a newer reader`);
    }
  }
  const minVersion = single.get('Min-Version');
  if (minVersion !== undefined && compareVersion(minVersion) > 0) {
    throw new IndexError('ERR_INDEX_UNSUPPORTED_VERSION', `${where}: Min-Version ${minVersion.slice(0, 20)} is above what this reader supports (${READER_VERSION.join('.')})`);
  }
  if (single.has('Z-Map2')) {
    throw new IndexError('ERR_INDEX_UNKNOWN_FEATURE', `${where}: Z-Map2 (a gzip-compressed target) is not supported`);
  }
  const blockText = single.get('Blocksize');
  const lengthText = single.get('Length');
  if (blockText === undefined || lengthText === undefined) throw bad(where, 'Blocksize and Length are required');
  const blockSize = parseInteger(where, 'Blocksize', blockText, 1, 2 ** 30);
  const fileLength = parseInteger(where, 'Length', lengthText, 0, Number.MAX_SAFE_INTEGER);
  let seqMatches: 1 | 2 = 1;
  let weakBytes: 2 | 3 | 4 = 4;
  let strongBytes = 16;
  const hashLengths = single.get('Hash-Lengths');
  if (hashLengths !== undefined) {
    const m = /^(\d+),(\d+),(\d+)$/.exec(hashLengths);
    if (m === null) throw bad(where, `Hash-Lengths: expected "seq,rsum,checksum", found ${JSON.stringify(hashLengths.slice(0, 40))}`);
    const [s, r, c] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (s !== 1 && s !== 2) throw bad(where, `Hash-Lengths: seq_matches must be 1 or 2, found ${s}`);
    if (r < 1 || r > 4) throw bad(where, `Hash-Lengths: rsum bytes must be 1–4, found ${r}`);
    if (r === 1) throw new IndexError('ERR_INDEX_UNKNOWN_FEATURE', `${where}: 1-byte rsums are not supported`);
    if (c < 3 || c > 16) throw bad(where, `Hash-Lengths: checksum bytes must be 3–16, found ${c}`);
    seqMatches = s;
    weakBytes = r as 2 | 3 | 4;
    strongBytes = c;
  }
  let strongHash: StrongHashName = 'md4';
  const algorithm = single.get('Strong-Hash-Algorithm');
  if (algorithm !== undefined) {
    const name = Object.hasOwn(STRONG_NAMES, algorithm.toUpperCase()) ? STRONG_NAMES[algorithm.toUpperCase()] : undefined;
    if (name === undefined) {
      throw new IndexError('ERR_INDEX_UNKNOWN_FEATURE', `${where}: Strong-Hash-Algorithm ${JSON.stringify(algorithm.slice(0, 40))} is not supported (MD4, MD5, SHA-224)`);
    }
    strongHash = name;
  }
  const fileHashes: FileHash[] = [];
  const sha1 = single.get('SHA-1');
  if (sha1 !== undefined) fileHashes.push({ algorithm: 'sha1', digest: parseHex(where, 'SHA-1', sha1, 20) });
  const fileHash = single.get('File-Hash');
  if (fileHash !== undefined) {
    const m = /^SHA-?256:\s*(\S+)$/i.exec(fileHash);
    if (m === null) {
      throw new IndexError('ERR_INDEX_UNKNOWN_FEATURE', `${where}: File-Hash ${JSON.stringify(fileHash.slice(0, 40))}: only SHA-256:<hex> is supported`);
    }
    fileHashes.push({ algorithm: 'sha256', digest: parseHex(where, 'File-Hash', m[1] as string, 32) });
  }
  let mtime: number | undefined;
  const mtimeText = single.get('MTime');
  if (mtimeText !== undefined) {
    const ms = Date.parse(mtimeText);
    // zsync itself only uses MTime to set the output's time; an unparsable one is ignored.
    if (Number.isFinite(ms)) mtime = Math.floor(ms / 1000);
  }
  const filename = single.get('Filename');

  const count = Math.ceil(fileLength / blockSize);
  if (count > maxBlocks) {
    throw new IndexError('ERR_INDEX_LIMIT_EXCEEDED', `${where}: ${count} blocks exceed the limit of ${maxBlocks}`);
  }
  const record = weakBytes + strongBytes;
  const start = end + 2;
  const expected = start + count * record;
  if (expected > bytes.length) {
    const have = Math.floor((bytes.length - start) / record);
    throw new IndexError('ERR_INDEX_TRUNCATED', `${where}: Length ${fileLength} / Blocksize ${blockSize} needs ${count} records of ${record} bytes from offset ${start}; only ${have} present (block ${have} is cut)`);
  }
  if (expected < bytes.length) {
    throw new IndexError('ERR_INDEX_TRAILING_DATA', `${where}: ${bytes.length - expected} bytes follow the last block record at offset ${expected}`);
  }
  const weakSums = new Uint32Array(count);
  const strongHashes = new Uint8Array(count * strongBytes);
  let p = start;
  for (let i = 0; i < count; i++) {
    let v = 0;
    if (weakBytes === 4) {
      v = ((bytes[p] as number) << 8) | (bytes[p + 1] as number);
      p += 2;
    } else if (weakBytes === 3) {
      v = bytes[p] as number;
      p += 1;
    }
    v |= ((bytes[p] as number) << 24) | ((bytes[p + 1] as number) << 16);
    p += 2;
    weakSums[i] = v >>> 0;
    strongHashes.set(bytes.subarray(p, p + strongBytes), i * strongBytes);
    p += strongBytes;
  }
  try {
    return new BlockIndex({
      kind: 'blocks', fileLength, blockSize, weakSums, strongHashes, strongHash, strongBytes,
      weakBytes, seqMatches, padLastBlock: true, fileHashes,
      metadata: {
        ...(filename === undefined ? {} : { filename }),
        ...(mtime === undefined ? {} : { mtime }),
        urls,
      },
    });
  } catch (e) {
    throw new IndexError('ERR_INDEX_INVALID_HEADER', `${where}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}
