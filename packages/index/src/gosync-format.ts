import { BlockIndex } from './block-index.js';
import { IndexError } from './errors.js';
import { assertBytes, resolveDecodeOptions, type DecodeOptions } from './limits.js';

/** The 6 bytes a go-sync index starts with. */
export const GOSYNC_MAGIC = 'G0S9NC';
const HEADER = 24;
const RECORD = 20;

/**
 * Writes an index in go-sync's layout (v0.2.1, little-endian): `G0S9NC`, versions 0, 2, 1 as
 * uint16, the file size as int64, the block size as uint32, then per block the 4-byte
 * Rollsum32 digest and the 16-byte MD5. The format has no file hash and no metadata.
 *
 * @param index - a block index with full 4-byte weak sums and full MD5 hashes, built with the
 *   `'gosync'` profile
 * @returns the file's bytes
 * @throws {@link IndexError} `ERR_INDEX_INCOMPATIBLE` for a chunk-based index, another strong
 *   hash or truncated sums, a zero-padded short last block, a block size over 2^32 − 1, or
 *   metadata attachments (only the native format carries them)
 * @example
 * ```ts
 * const bytes = encodeGosync(await buildIndex('target.bin', { profile: 'gosync' }));
 * ```
 */
export function encodeGosync(index: BlockIndex): Uint8Array {
  const fail = (m: string): IndexError => new IndexError('ERR_INDEX_INCOMPATIBLE', `gosync: ${m} (build it with profile 'gosync')`);
  if (index.kind !== 'blocks') throw fail('chunk-based indexes cannot be written in go-sync\'s format');
  if (index.strongHash !== 'md5' || index.strongBytes !== 16) throw fail(`go-sync needs full MD5 block hashes, the index has ${index.strongBytes} bytes of ${index.strongHash}`);
  if (index.weakBytes !== 4) throw fail(`go-sync needs 4-byte weak sums, the index has ${index.weakBytes}`);
  if (index.padLastBlock && index.fileLength % index.blockSize !== 0) throw fail('go-sync hashes the short last block unpadded');
  const attached = Object.keys(index.metadata.attachments ?? {});
  if (attached.length > 0) {
    throw new IndexError('ERR_INDEX_INCOMPATIBLE', `gosync: go-sync's format cannot carry attachments (${attached.join(', ')}); write the native format`);
  }
  const out = new Uint8Array(HEADER + index.count * RECORD);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 6; i++) out[i] = GOSYNC_MAGIC.charCodeAt(i);
  view.setUint16(6, 0, true);
  view.setUint16(8, 2, true);
  view.setUint16(10, 1, true);
  view.setBigInt64(12, BigInt(index.fileLength), true);
  view.setUint32(20, index.blockSize, true);
  let p = HEADER;
  for (let i = 0; i < index.count; i++, p += RECORD) {
    view.setUint32(p, index.weakSums[i] as number, true);
    out.set(index.strongHashes.subarray(i * 16, i * 16 + 16), p + 4);
  }
  return out;
}

/**
 * Reads a go-sync index (v0.2.x). The record count is derived from the size and block size and
 * must match the bytes present exactly.
 *
 * @param bytes - the whole file
 * @param options - limits and a source name for messages
 * @returns a block index (MD5, 4-byte weak sums, single-block matching, no file hash)
 * @throws {@link IndexError} `ERR_INDEX_BAD_MAGIC`, `ERR_INDEX_UNSUPPORTED_VERSION`,
 *   `ERR_INDEX_TRUNCATED`, `ERR_INDEX_TRAILING_DATA`, `ERR_INDEX_INVALID_HEADER`,
 *   `ERR_INDEX_LIMIT_EXCEEDED`
 * @example
 * ```ts
 * const index = decodeGosync(await readFile('target.gosync'));
 * ```
 */
export function decodeGosync(bytes: Uint8Array, options?: DecodeOptions): BlockIndex {
  assertBytes(bytes);
  const { maxBlocks, where } = resolveDecodeOptions(options, 'gosync');
  for (let i = 0; i < Math.min(6, bytes.length); i++) {
    if (bytes[i] !== GOSYNC_MAGIC.charCodeAt(i)) {
      throw new IndexError('ERR_INDEX_BAD_MAGIC', `${where}: expected magic "G0S9NC" at offset 0, found byte ${bytes[i]} at offset ${i}`);
    }
  }
  if (bytes.length < HEADER) {
    throw new IndexError('ERR_INDEX_TRUNCATED', `${where}: expected a ${HEADER}-byte header, found ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = [view.getUint16(6, true), view.getUint16(8, true), view.getUint16(10, true)];
  if (version[0] !== 0 || version[1] !== 2) {
    throw new IndexError('ERR_INDEX_UNSUPPORTED_VERSION', `${where}: expected version 0.2.x at offset 6, found ${version.join('.')}`);
  }
  const size = view.getBigInt64(12, true);
  if (size < 0n) throw new IndexError('ERR_INDEX_INVALID_HEADER', `${where}: negative file size ${size} at offset 12`);
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new IndexError('ERR_INDEX_LIMIT_EXCEEDED', `${where}: file size ${size} at offset 12 is above 2^53 − 1`);
  }
  const fileLength = Number(size);
  const blockSize = view.getUint32(20, true);
  if (blockSize === 0) throw new IndexError('ERR_INDEX_INVALID_HEADER', `${where}: block size 0 at offset 20`);
  if (blockSize > 2 ** 30) throw new IndexError('ERR_INDEX_LIMIT_EXCEEDED', `${where}: block size ${blockSize} at offset 20 is above 2^30`);
  const count = Math.ceil(fileLength / blockSize);
  if (count > maxBlocks) throw new IndexError('ERR_INDEX_LIMIT_EXCEEDED', `${where}: ${count} blocks exceed the limit of ${maxBlocks}`);
  const expected = HEADER + count * RECORD;
  if (expected > bytes.length) {
    throw new IndexError('ERR_INDEX_TRUNCATED', `${where}: size ${fileLength} in blocks of ${blockSize} needs ${count} records (${expected} bytes), found ${bytes.length} bytes (block ${Math.floor((bytes.length - HEADER) / RECORD)} is cut)`);
  }
  if (expected < bytes.length) {
    throw new IndexError('ERR_INDEX_TRAILING_DATA', `${where}: ${bytes.length - expected} bytes follow the last record at offset ${expected}`);
  }
  const weakSums = new Uint32Array(count);
  const strongHashes = new Uint8Array(count * 16);
  for (let i = 0, p = HEADER; i < count; i++, p += RECORD) {
    weakSums[i] = view.getUint32(p, true);
    strongHashes.set(bytes.subarray(p + 4, p + RECORD), i * 16);
  }
  return new BlockIndex({
    kind: 'blocks', fileLength, blockSize, weakSums, strongHashes, strongHash: 'md5',
    strongBytes: 16, weakBytes: 4, seqMatches: 1, padLastBlock: false,
  });
}
