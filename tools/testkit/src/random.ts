import { open } from 'node:fs/promises';

/**
 * Deterministic pseudo-random bytes (xorshift32): the same seed always gives the same bytes.
 *
 * @param length - number of bytes
 * @param seed - any 32-bit integer except 0
 * @returns the bytes
 */
export function pseudoRandomBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  fill(out, { x: seed >>> 0 || 1 });
  return out;
}

function fill(out: Uint8Array, state: { x: number }): void {
  let x = state.x;
  const words = Math.floor(out.length / 4);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < words; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    view.setUint32(i * 4, x >>> 0, true);
  }
  for (let i = words * 4; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  state.x = x;
}

/**
 * Writes `length` deterministic pseudo-random bytes to `path`, 4 MiB at a time (for large
 * benchmark inputs).
 *
 * @param path - the file to create or replace
 * @param length - number of bytes
 * @param seed - any 32-bit integer except 0
 */
export async function writePseudoRandomFile(path: string, length: number, seed = 1): Promise<void> {
  const handle = await open(path, 'w');
  try {
    const chunk = new Uint8Array(4 * 1024 * 1024);
    const state = { x: seed >>> 0 || 1 };
    for (let done = 0; done < length; ) {
      const n = Math.min(chunk.length, length - done);
      fill(chunk, state);
      await handle.write(chunk, 0, n);
      done += n;
    }
  } finally {
    await handle.close();
  }
}
