/** True where a Uint32Array's first byte is the word's low byte (every platform Node ships on but s390x). */
export const LITTLE_ENDIAN: boolean = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * A Uint32Array over the 4-byte-aligned part of `bytes`, and the index in `bytes` of its first
 * byte, for loops that read four bytes at a time.
 *
 * @internal
 */
export function wordView(bytes: Uint8Array): { readonly words: Uint32Array; readonly first: number } {
  const first = (4 - (bytes.byteOffset & 3)) & 3;
  const count = Math.max(0, (bytes.length - first) >>> 2);
  return { words: new Uint32Array(bytes.buffer, bytes.byteOffset + first, count), first };
}
