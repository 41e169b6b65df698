import type { StrongHasher } from './hashes.js';

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * Computes the weak sum and full strong digest of every block in `data`, which starts at a
 * block boundary. All blocks are `blockSize` long except possibly the last; when `padLast` is
 * set a short last block is hashed as if zero-padded to `blockSize` (zsync). Results go to
 * `weakOut[firstBlock + k]` and `strongOut[(firstBlock + k) · digestLength]`.
 *
 * @internal
 */
export function hashBlocks(
  data: Uint8Array,
  blockSize: number,
  padLast: boolean,
  hasher: StrongHasher,
  weakOut: Uint32Array,
  strongOut: Uint8Array,
  firstBlock: number,
): number {
  const digestLength = hasher.digestLength;
  // A word view, for blocks that start 4-byte aligned in their buffer.
  const base = data.byteOffset;
  const wordStart = (base + 3) & ~3;
  const words = LITTLE_ENDIAN && wordStart + 4 <= base + data.length
    ? new Int32Array(data.buffer, wordStart, Math.max(0, Math.floor((base + data.length - wordStart) / 4)))
    : undefined;
  let block = firstBlock;
  for (let start = 0; start < data.length; start += blockSize, block++) {
    const end = Math.min(start + blockSize, data.length);
    let a = 0;
    let b = 0;
    let i = start;
    if (words !== undefined && ((base + start) & 3) === 0) {
      // Four bytes per step: b gains 4a + 4x0 + 3x1 + 2x2 + x3, a gains their sum.
      let k = (base + start - wordStart) >>> 2;
      for (; i + 4 <= end; i += 4, k++) {
        const w = words[k] as number;
        const x0 = w & 0xff;
        const x1 = (w >>> 8) & 0xff;
        const x2 = (w >>> 16) & 0xff;
        const x3 = w >>> 24;
        b = (b + (a << 2) + (x0 << 2) + x1 * 3 + (x2 << 1) + x3) | 0;
        a = (a + x0 + x1 + x2 + x3) | 0;
      }
    }
    for (; i < end; i++) {
      a = (a + (data[i] as number)) | 0;
      b = (b + a) | 0;
    }
    hasher.init().update(data.subarray(start, end));
    const pad = blockSize - (end - start);
    if (pad > 0 && padLast) {
      // Zero padding adds nothing to a; each zero adds a to b.
      b = (b + Math.imul(a, pad % 0x10000)) | 0;
      hasher.update(zeros(pad));
    }
    weakOut[block] = ((a & 0xffff) | (b << 16)) >>> 0;
    hasher.digestInto(strongOut, block * digestLength);
  }
  return block - firstBlock;
}

let zeroBuffer = new Uint8Array(0);
function zeros(n: number): Uint8Array {
  if (zeroBuffer.length < n) zeroBuffer = new Uint8Array(n);
  return zeroBuffer.subarray(0, n);
}
