/**
 * A structural check of one zstd frame (RFC 8878 §3.1.1), done before a decoder sees it: the
 * magic, the header, every block header, the optional checksum, and nothing after. It reads no
 * compressed content, so it is cheap, and it bounds what the frame can inflate to.
 *
 * @internal
 */
export interface ZstdFrameInfo {
  /** `Frame_Content_Size` when the header has one. */
  readonly contentSize: number | undefined;
  /** The dictionary ID in the header (0: none). */
  readonly dictionaryId: number;
  /** Bytes that raw and RLE blocks produce for sure: a lower bound of the frame's output. */
  readonly minOutput: number;
}

const MAGIC = 0xfd2fb528;
const MAX_BLOCK = 128 * 1024;

/**
 * Parses the frame structure of `data`, which must be exactly one zstd frame.
 *
 * @param data - the compressed group
 * @returns what the header and block headers say, or a string naming the defect
 * @internal
 */
export function inspectZstdFrame(data: Uint8Array): ZstdFrameInfo | string {
  const n = data.length;
  if (n < 6) return `${n} bytes is shorter than any zstd frame`;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const magic = view.getUint32(0, true);
  if (magic !== MAGIC) return `not a zstd frame: magic 0x${magic.toString(16).padStart(8, '0')}`;
  const fhd = data[4] as number;
  if ((fhd & 0x08) !== 0) return 'reserved bit set in the frame header';
  const fcsFlag = fhd >>> 6;
  const singleSegment = (fhd & 0x20) !== 0;
  const hasChecksum = (fhd & 0x04) !== 0;
  const didSize = [0, 1, 2, 4][fhd & 0x03] as number;
  const fcsSize = fcsFlag === 0 ? (singleSegment ? 1 : 0) : ([0, 2, 4, 8][fcsFlag] as number);
  let pos = 5 + (singleSegment ? 0 : 1) + didSize;
  if (pos + fcsSize > n) return 'truncated frame header';
  let dictionaryId = 0;
  if (didSize === 1) dictionaryId = data[pos - 1] as number;
  else if (didSize === 2) dictionaryId = view.getUint16(pos - 2, true);
  else if (didSize === 4) dictionaryId = view.getUint32(pos - 4, true);
  let contentSize: number | undefined;
  if (fcsSize === 1) contentSize = data[pos];
  else if (fcsSize === 2) contentSize = view.getUint16(pos, true) + 256;
  else if (fcsSize === 4) contentSize = view.getUint32(pos, true);
  else if (fcsSize === 8) {
    const high = view.getUint32(pos + 4, true);
    contentSize = high > 0x1f_ffff ? Number.MAX_SAFE_INTEGER : high * 2 ** 32 + view.getUint32(pos, true);
  }
  pos += fcsSize;
  let minOutput = 0;
  for (;;) {
    if (pos + 3 > n) return 'truncated: a block header is missing';
    const header = (data[pos] as number) | ((data[pos + 1] as number) << 8) | ((data[pos + 2] as number) << 16);
    pos += 3;
    const last = (header & 1) !== 0;
    const type = (header >>> 1) & 3;
    const size = header >>> 3;
    if (type === 3) return 'reserved block type';
    if (size > MAX_BLOCK) return `block of ${size} bytes exceeds the 128 KiB block maximum`;
    const stored = type === 1 ? 1 : size;
    if (pos + stored > n) return 'truncated: a block ends past the end of the frame';
    pos += stored;
    if (type !== 2) minOutput += size;
    if (last) break;
  }
  if (hasChecksum) pos += 4;
  if (pos > n) return 'truncated: the content checksum is missing';
  if (pos < n) return `${n - pos} bytes after the end of the frame`;
  return { contentSize, dictionaryId, minOutput };
}
