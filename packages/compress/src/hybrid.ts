import { isByteRange, sortedDisjoint } from '@gosync/core';
import type { ByteRange } from '@gosync/core';
import { CompressError, describeRange } from './errors.js';
import type { CompressedLayout } from './layout.js';

/**
 * The bytes one more range is assumed to cost on the wire besides its own bytes, by default: about
 * one part header of a `multipart/byteranges` answer (boundary, `Content-Type`, `Content-Range`;
 * 96–130 bytes from nginx).
 */
export const DEFAULT_RANGE_OVERHEAD = 100;

/**
 * The bytes that using a second source is assumed to cost, by default: at least one more request
 * and response header (a `206` answer from nginx has about 250 bytes of headers).
 */
export const DEFAULT_REQUEST_OVERHEAD = 300;

/** Options of {@link planHybridFetch}. */
export interface PlanHybridOptions {
  /** The bytes each range costs besides its own (default {@link DEFAULT_RANGE_OVERHEAD}); an integer ≥ 0. */
  readonly rangeOverhead?: number | undefined;
  /**
   * The bytes a plan that uses both the artifact and the plain file pays once on top (default
   * {@link DEFAULT_REQUEST_OVERHEAD}); an integer ≥ 0.
   */
  readonly requestOverhead?: number | undefined;
}

/** Which wanted bytes to fetch as compressed groups and which as plain target bytes. */
export interface HybridPlan {
  /** The groups to fetch from the artifact, ascending. */
  readonly groups: readonly number[];
  /**
   * The target ranges to fetch from the plain file, ascending and disjoint: the wanted bytes that
   * lie in the other groups (a wanted range that crosses from one such group into the next stays
   * one range).
   */
  readonly plain: readonly ByteRange[];
  /** The estimated bytes on the wire of this plan (ranges' bytes plus their overhead). */
  readonly cost: number;
  /** The estimate if every wanted byte came from the artifact (as a `CompressedSource` without `plain` fetches). */
  readonly compressedCost: number;
  /** The estimate if every wanted byte came from the plain file. */
  readonly plainCost: number;
}

/**
 * A piece of one wanted range served one way: `part` lies in `wanted` and in groups that all
 * take the same way.
 *
 * @internal
 */
export interface HybridSegment {
  /** The index of the wanted range in the sorted, non-empty ranges given. */
  readonly wanted: number;
  readonly part: ByteRange;
  readonly compressed: boolean;
}

/** @internal The plan and the wanted ranges cut into segments. */
export interface HybridSplit extends HybridPlan {
  readonly segments: readonly HybridSegment[];
}

/**
 * Decides, for every group that holds wanted bytes, whether to fetch the compressed group or the
 * plain bytes wanted from it, for the fewest estimated bytes on the wire:
 *
 * - a compressed group costs its compressed size, plus `rangeOverhead` unless the group before it
 *   is fetched compressed too (adjacent groups are one artifact range);
 * - plain costs the wanted bytes in the group, plus `rangeOverhead` for every piece of a wanted
 *   range in it, except a piece that continues a wanted range from the group before when that group
 *   is fetched plain too;
 * - a dictionary, if the layout has one, costs its length plus `rangeOverhead` once when any group
 *   is fetched compressed;
 * - using both sources costs `requestOverhead` once.
 *
 * The choice is made jointly over runs of adjacent groups (a small dynamic program, linear in the
 * groups touched), so it is the cheapest assignment under this model; on a tie a group is fetched
 * plain (the same bytes, no decompression), and one source beats two. In practice: a group wanted whole that compresses
 * comes from the artifact; a few blocks wanted from a large group, or a group that does not
 * compress, come plain.
 *
 * @param layout - the artifact's layout
 * @param ranges - wanted target ranges, in any order, non-overlapping (empty ones are ignored)
 * @param options - the per-range overhead
 * @returns the groups to fetch compressed, the plain ranges and the estimates
 * @throws {@link CompressError} `ERR_COMPRESS_INVALID_RANGE` for an invalid, overlapping or
 *   out-of-bounds range; `ERR_COMPRESS_INVALID_OPTION` for a bad `rangeOverhead`
 * @example
 * ```ts
 * const plan = planHybridFetch(layout, [{ start: 4096, end: 8192 }]);
 * console.log(plan.groups, plan.plain); // [] [{ start: 4096, end: 8192 }] with 128 KiB groups
 * ```
 */
export function planHybridFetch(layout: CompressedLayout, ranges: readonly ByteRange[], options: PlanHybridOptions = {}): HybridPlan {
  const { groups, plain, cost, compressedCost, plainCost } = splitHybrid(
    layout,
    checkWanted(layout, ranges, 'planHybridFetch'),
    overheadOf('rangeOverhead', options.rangeOverhead, DEFAULT_RANGE_OVERHEAD),
    overheadOf('requestOverhead', options.requestOverhead, DEFAULT_REQUEST_OVERHEAD),
  );
  return { groups, plain, cost, compressedCost, plainCost };
}

/**
 * Checks an overhead option.
 *
 * @internal
 */
export function overheadOf(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new CompressError('ERR_COMPRESS_INVALID_OPTION', `${name} must be a safe integer ≥ 0, got ${String(value)}`);
  }
  return value;
}

/**
 * Checks wanted ranges against a layout.
 *
 * @returns the ranges sorted by start (empty ones included)
 * @throws {@link CompressError} `ERR_COMPRESS_INVALID_RANGE`
 * @internal
 */
export function checkWanted(layout: CompressedLayout, ranges: readonly ByteRange[], name: string): ByteRange[] {
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i];
    if (!isByteRange(r)) {
      throw new CompressError(
        'ERR_COMPRESS_INVALID_RANGE',
        `${name}: ranges[${i}] is not a byte range with integer offsets 0 ≤ start ≤ end: ${JSON.stringify(r) as string | undefined ?? String(r)}`,
      );
    }
    if (r.end > layout.length) {
      throw new CompressError(
        'ERR_COMPRESS_INVALID_RANGE',
        `${name}: range ${describeRange(r)} ends past the end of the target (${layout.length} bytes)`,
      );
    }
  }
  const { sorted, overlap } = sortedDisjoint(ranges);
  if (overlap !== undefined) {
    throw new CompressError('ERR_COMPRESS_INVALID_RANGE', `${name}: requested ranges overlap: ${describeRange(overlap[0])} and ${describeRange(overlap[1])}`);
  }
  return sorted;
}

const C = 0;
const P = 1;

/**
 * {@link planHybridFetch} on checked ranges, with the segments a source needs.
 *
 * @param layout - a checked layout
 * @param sorted - sorted, disjoint ranges within the target (empty ones are skipped)
 * @param overhead - bytes per range
 * @param requestOverhead - bytes for using both sources
 * @internal
 */
export function splitHybrid(layout: CompressedLayout, sorted: readonly ByteRange[], overhead: number, requestOverhead: number): HybridSplit {
  const { groupSize, sizes } = layout;
  // Per touched group, ascending: its number, wanted bytes, pieces of wanted ranges, and whether a
  // wanted range crosses into it from the group before.
  const touched: number[] = [];
  const wantedBytes: number[] = [];
  const pieces: number[] = [];
  const crossed: boolean[] = [];
  const wanted = sorted.filter((r) => r.end > r.start);
  for (const r of wanted) {
    const first = Math.floor(r.start / groupSize);
    const last = Math.floor((r.end - 1) / groupSize);
    for (let g = first; g <= last; g++) {
      const bytes = Math.min(r.end, (g + 1) * groupSize) - Math.max(r.start, g * groupSize);
      const i = touched.length - 1;
      if (touched[i] === g) {
        wantedBytes[i] = (wantedBytes[i] as number) + bytes;
        pieces[i] = (pieces[i] as number) + 1;
      } else {
        touched.push(g);
        wantedBytes.push(bytes);
        pieces.push(1);
        crossed.push(g > first);
      }
    }
  }
  const n = touched.length;
  // best[2i + k]: the cheapest cost of groups 0..i with group i fetched the way k; from[2i + k]:
  // the way of group i − 1 on that path.
  const best = new Float64Array(2 * n);
  const from = new Uint8Array(2 * n);
  let allCompressed = 0;
  let allPlain = 0;
  for (let i = 0; i < n; i++) {
    const adjacent = i > 0 && touched[i - 1] === (touched[i] as number) - 1;
    const size = sizes[touched[i] as number] as number;
    const plainBase = (wantedBytes[i] as number) + overhead * (pieces[i] as number);
    const cFromC = size + (adjacent ? 0 : overhead);
    const cFromP = size + overhead;
    const pFromP = plainBase - (crossed[i] === true ? overhead : 0);
    const pFromC = plainBase;
    allCompressed += cFromC;
    allPlain += pFromP;
    if (i === 0) {
      best[0] = cFromP;
      best[1] = pFromC;
      continue;
    }
    const prevC = best[2 * i - 2] as number;
    const prevP = best[2 * i - 1] as number;
    // On a tie, the path through plain.
    if (prevP + cFromP <= prevC + cFromC) {
      best[2 * i] = prevP + cFromP;
      from[2 * i] = P;
    } else {
      best[2 * i] = prevC + cFromC;
      from[2 * i] = C;
    }
    if (prevP + pFromP <= prevC + pFromC) {
      best[2 * i + 1] = prevP + pFromP;
      from[2 * i + 1] = P;
    } else {
      best[2 * i + 1] = prevC + pFromC;
      from[2 * i + 1] = C;
    }
  }
  const dictionary = layout.dictionary === undefined ? 0 : layout.dictionary.length + overhead;
  if (n > 0) allCompressed += dictionary;
  const way = new Uint8Array(n);
  let cost = 0;
  if (n > 0) {
    const endC = best[2 * n - 2] as number;
    const endP = best[2 * n - 1] as number;
    backtrack(way, from, n, endP <= endC ? P : C);
    // The dynamic program leaves out what is paid once: the dictionary when any group is
    // compressed, one more request when both sources are used. Then the cheapest of that plan,
    // all plain and all compressed (a tie goes plain, then to one source).
    const anyC = way.includes(C);
    const mixed = Math.min(endC, endP) + (anyC ? dictionary : 0) + (anyC && way.includes(P) ? requestOverhead : 0);
    if (allPlain <= Math.min(mixed, allCompressed)) {
      way.fill(P);
      cost = allPlain;
    } else if (allCompressed <= mixed) {
      way.fill(C);
      cost = allCompressed;
    } else cost = mixed;
  }
  const groups: number[] = [];
  for (let i = 0; i < n; i++) if (way[i] === C) groups.push(touched[i] as number);
  // Cut every wanted range at the group boundaries where the way changes.
  const segments: HybridSegment[] = [];
  const plain: ByteRange[] = [];
  let t = 0;
  for (let w = 0; w < wanted.length; w++) {
    const r = wanted[w] as ByteRange;
    let start = r.start;
    let current: boolean | undefined;
    for (let g = Math.floor(r.start / groupSize); g * groupSize < r.end; g++) {
      while (touched[t] !== g) t++;
      const compressed = way[t] === C;
      const at = Math.max(r.start, g * groupSize);
      if (current !== undefined && compressed !== current) {
        segments.push({ wanted: w, part: { start, end: at }, compressed: current });
        start = at;
      }
      current = compressed;
    }
    segments.push({ wanted: w, part: { start, end: r.end }, compressed: current === true });
  }
  // Pieces of one wanted range in adjacent plain groups are already one segment.
  for (const s of segments) if (!s.compressed) plain.push(s.part);
  return { groups, plain, cost, compressedCost: allCompressed, plainCost: allPlain, segments };
}

function backtrack(way: Uint8Array, from: Uint8Array, n: number, last: number): void {
  let k = last;
  for (let i = n - 1; i >= 0; i--) {
    way[i] = k;
    k = from[2 * i + k] as number;
  }
}
