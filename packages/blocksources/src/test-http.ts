// Helpers shared by the HTTP source tests (not part of the package).
import type { BlockSource, ByteRange, RangeVerifier } from '@gosync/core';
import { bytesEqual } from '@gosync/core';
import { expect } from 'vitest';

/** Fetches `ranges` and checks each yielded range once, byte-exact against `file`. */
export async function expectExact(
  source: BlockSource,
  ranges: readonly ByteRange[],
  file: Uint8Array,
  signal?: AbortSignal,
): Promise<void> {
  const seen = new Set<number>();
  for await (const { range, data } of source.fetch(ranges, { signal })) {
    expect(seen.has(range.start), `range ${range.start} yielded twice`).toBe(false);
    seen.add(range.start);
    expect(ranges).toContainEqual(range);
    expect(bytesEqual(data, file.subarray(range.start, range.end)), `bytes of [${range.start}, ${range.end})`).toBe(true);
  }
  expect(seen.size).toBe(ranges.length);
}

/** Fetches and returns the error thrown (fails the test when none is). */
export async function fetchError(source: BlockSource, ranges: readonly ByteRange[], signal?: AbortSignal): Promise<Error> {
  let yielded = 0;
  try {
    for await (const item of source.fetch(ranges, { signal })) yielded += item.data.length;
  } catch (e) {
    return e as Error;
  }
  throw new Error(`expected the fetch to fail, but it yielded ${yielded} bytes`);
}

/** A verifier that compares with the true file, as an index would. */
export function verifierOf(file: Uint8Array): RangeVerifier {
  return { verify: (range, data) => bytesEqual(data, file.subarray(range.start, range.end)) };
}

/** `count` disjoint ranges spread over `[0, size)`, deterministic. */
export function spreadRanges(size: number, count: number, length: number): ByteRange[] {
  const step = Math.floor(size / count);
  const out: ByteRange[] = [];
  for (let i = 0; i < count; i++) {
    const start = i * step + ((i * 7919) % Math.max(1, step - length));
    out.push({ start, end: Math.min(size, start + length) });
  }
  return out;
}
