import { RollsumError } from './errors.js';

/** How many rsum bytes a .zsync block record may keep (`Hash-Lengths`' second field). */
export type ZsyncRsumBytes = 2 | 3 | 4;

function assertRsumBytes(rsumBytes: number): asserts rsumBytes is ZsyncRsumBytes {
  if (rsumBytes !== 2 && rsumBytes !== 3 && rsumBytes !== 4) {
    throw new RollsumError(
      'ERR_ROLLSUM_INVALID_OPTION',
      `rsumBytes: expected 2, 3 or 4, got ${String(rsumBytes)}`,
    );
  }
}

/**
 * The bits of a weak sum value (`a | b << 16`) that a .zsync record with `rsumBytes` rsum bytes
 * keeps: 4 → all of `a` and `b`; 3 → the low byte of `a` and all of `b`; 2 → `b` alone.
 * Compare `(sum & mask) === (stored & mask)`.
 *
 * @param rsumBytes - 2, 3 or 4
 * @returns the mask, an unsigned 32-bit integer
 * @throws {@link RollsumError} `ERR_ROLLSUM_INVALID_OPTION` for other lengths
 * @example
 * ```ts
 * zsyncRsumMask(3); // 0xffff00ff
 * ```
 */
export function zsyncRsumMask(rsumBytes: number): number {
  assertRsumBytes(rsumBytes);
  return rsumBytes === 4 ? 0xffffffff : rsumBytes === 3 ? 0xffff00ff : 0xffff0000;
}

/**
 * Writes a weak sum the way zsync stores it in a .zsync block record: the four bytes
 * `[a hi, a lo, b hi, b lo]` (big-endian a, then b), of which the LAST `rsumBytes` are kept.
 *
 * @param value - weak sum value (`a | b << 16`)
 * @param rsumBytes - 2, 3 or 4
 * @param out - destination
 * @param offset - where to write (default 0)
 * @returns `out`
 * @throws {@link RollsumError} `ERR_ROLLSUM_INVALID_OPTION` for a bad `rsumBytes`
 * @example
 * ```ts
 * encodeZsyncRsum(0x03d4018a, 4, new Uint8Array(4)); // 01 8a 03 d4
 * ```
 */
export function encodeZsyncRsum(
  value: number,
  rsumBytes: number,
  out: Uint8Array,
  offset = 0,
): Uint8Array {
  assertRsumBytes(rsumBytes);
  const full = [(value >>> 8) & 0xff, value & 0xff, (value >>> 24) & 0xff, (value >>> 16) & 0xff];
  for (let i = 0; i < rsumBytes; i++) out[offset + i] = full[4 - rsumBytes + i] as number;
  return out;
}

/**
 * Reads a weak sum stored by zsync in a .zsync block record (see {@link encodeZsyncRsum}); the
 * bytes that were cut off read as zero, so compare under {@link zsyncRsumMask}.
 *
 * @param bytes - the record bytes
 * @param offset - where the rsum starts
 * @param rsumBytes - 2, 3 or 4
 * @returns the weak sum value (`a | b << 16`)
 * @throws {@link RollsumError} `ERR_ROLLSUM_INVALID_OPTION` for a bad `rsumBytes` or too few bytes
 * @example
 * ```ts
 * decodeZsyncRsum(new Uint8Array([0x03, 0xd4]), 0, 2); // 0x03d40000
 * ```
 */
export function decodeZsyncRsum(bytes: Uint8Array, offset: number, rsumBytes: number): number {
  assertRsumBytes(rsumBytes);
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + rsumBytes > bytes.length) {
    throw new RollsumError(
      'ERR_ROLLSUM_INVALID_OPTION',
      `offset: expected ${rsumBytes} bytes at ${offset}, only ${bytes.length} bytes present`,
    );
  }
  const full = [0, 0, 0, 0];
  for (let i = 0; i < rsumBytes; i++) full[4 - rsumBytes + i] = bytes[offset + i] as number;
  const [aHi, aLo, bHi, bLo] = full as [number, number, number, number];
  return ((aHi << 8) | aLo | (bHi << 24) | (bLo << 16)) >>> 0;
}
