import { isByteRange } from '@gosync/core';
import type { ByteRange } from '@gosync/core';
import { BlockSourceError } from './errors.js';

/**
 * Validates the ranges passed to a source's `fetch`: every one a valid byte range, none
 * overlapping another. Returns them sorted by start (a new array).
 *
 * @param ranges - the caller's ranges
 * @param where - names the source in the error message
 * @returns the ranges sorted by start
 * @throws {@link BlockSourceError} `ERR_BLOCKSOURCE_INVALID_RANGE`
 * @internal
 */
export function checkRanges(ranges: readonly ByteRange[], where: string): ByteRange[] {
  const sorted: ByteRange[] = [];
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i];
    if (!isByteRange(r)) {
      throw new BlockSourceError(
        'ERR_BLOCKSOURCE_INVALID_RANGE',
        `${where}: ranges[${i}] is not a byte range with integer offsets 0 ≤ start ≤ end: ${JSON.stringify(r)}`,
      );
    }
    sorted.push(r);
  }
  sorted.sort((a, b) => a.start - b.start || a.end - b.end);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1] as ByteRange;
    const cur = sorted[i] as ByteRange;
    if (cur.start < prev.end && cur.end > cur.start) {
      throw new BlockSourceError(
        'ERR_BLOCKSOURCE_INVALID_RANGE',
        `${where}: requested ranges overlap: [${prev.start}, ${prev.end}) and [${cur.start}, ${cur.end})`,
      );
    }
  }
  return sorted;
}
