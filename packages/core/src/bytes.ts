import { CoreError } from './errors.js';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Lower-case hexadecimal form of `bytes`.
 *
 * @param bytes - any bytes
 * @returns two hex digits per byte
 * @example
 * ```ts
 * toHex(new Uint8Array([0x61, 0x00])); // '6100'
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += HEX[b] as string;
  return s;
}

function nibble(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 0x20;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

/**
 * Parses hexadecimal text (either case) into bytes.
 *
 * @param hex - an even number of hex digits
 * @returns the bytes
 * @throws {@link CoreError} `ERR_CORE_INVALID_ARGUMENT` for odd length or a non-hex character
 * @example
 * ```ts
 * fromHex('08a0'); // Uint8Array [0x08, 0xa0]
 * ```
 */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0) {
    throw new CoreError('ERR_CORE_INVALID_ARGUMENT', `hex: expected an even number of digits, got ${hex.length}`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = nibble(hex.charCodeAt(2 * i));
    const lo = nibble(hex.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) {
      throw new CoreError('ERR_CORE_INVALID_ARGUMENT', `hex: not a hex digit at position ${hi < 0 ? 2 * i : 2 * i + 1}`);
    }
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/**
 * Compares two byte arrays for equality of length and content.
 *
 * @param a - bytes
 * @param b - bytes
 * @returns true when equal
 * @example
 * ```ts
 * bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])); // true
 * ```
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Concatenates byte arrays into one new array.
 *
 * @param parts - the arrays, in order
 * @returns a new array holding all bytes
 * @example
 * ```ts
 * concatBytes([new Uint8Array([1]), new Uint8Array([2, 3])]); // Uint8Array [1, 2, 3]
 * ```
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
