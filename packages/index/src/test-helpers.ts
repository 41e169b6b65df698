import { isGosyncError } from '@gosync/core';
import { weakSum } from '@gosync/rollsum';
import { createStrongHasher, type StrongHashName } from './hashes.js';

/** Runs `fn` and returns the error code it threw (or 'none'). */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return isGosyncError(e) ? e.code : `not a GosyncError: ${String(e)}`;
  }
  return 'none';
}

/** Same for async functions. */
export async function asyncCodeOf(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    return isGosyncError(e) ? e.code : `not a GosyncError: ${String(e)}`;
  }
  return 'none';
}

/** A slow, obviously-correct model of per-block sums. */
export async function naiveSums(
  data: Uint8Array,
  blockSize: number,
  strong: StrongHashName,
  pad: boolean,
): Promise<{ weak: number[]; strong: Uint8Array[] }> {
  const hasher = await createStrongHasher(strong);
  const weak: number[] = [];
  const strongs: Uint8Array[] = [];
  for (let s = 0; s < data.length; s += blockSize) {
    let block = data.slice(s, Math.min(s + blockSize, data.length));
    if (pad && block.length < blockSize) {
      const padded = new Uint8Array(blockSize);
      padded.set(block);
      block = padded;
    }
    weak.push(weakSum(block));
    strongs.push(hasher.init().update(block).digest());
  }
  return { weak, strong: strongs };
}

/** Yields `data` cut into pieces of the given sizes (cycled). */
export async function* pieces(data: Uint8Array, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  let i = 0;
  for (let at = 0; at < data.length; i++) {
    const n = Math.max(1, sizes[i % sizes.length] ?? 1);
    yield data.slice(at, at + n);
    at += n;
  }
  await Promise.resolve();
}
