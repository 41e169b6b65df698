import { isByteRange, sortedDisjoint } from '@gosync/core';
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
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i];
    if (!isByteRange(r)) {
      throw new BlockSourceError(
        'ERR_BLOCKSOURCE_INVALID_RANGE',
        `${where}: ranges[${i}] is not a byte range with integer offsets 0 ≤ start ≤ end: ${JSON.stringify(r)}`,
      );
    }
  }
  const { sorted, overlap } = sortedDisjoint(ranges);
  if (overlap !== undefined) {
    const [prev, cur] = overlap;
    throw new BlockSourceError(
      'ERR_BLOCKSOURCE_INVALID_RANGE',
      `${where}: requested ranges overlap: [${prev.start}, ${prev.end}) and [${cur.start}, ${cur.end})`,
    );
  }
  return sorted;
}
