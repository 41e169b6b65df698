import { throwIfAborted } from '@gosync/core';
import { createStrongHasher, filterBitsPerEntry, type BlockIndex, type WeakSumTable } from '@gosync/index';
import { Chunker, WeakSumFilter, rollingSums, weakSum } from '@gosync/rollsum';
import type { BlockCheck } from './block-check.js';
import type { Matches } from './matches.js';
import { ScanPrefilter } from './prefilter.js';
import type { SeedReader } from './seed-reader.js';

/**
 * Blocks the scan checks at once after a match (a longer run goes on in the next step): bounds
 * the look-ahead in the index per match.
 */
const RUN_STEP = 128;

/** The windows starting in `[from, to)` of a seed: one worker's share. @internal */
export interface SeedSection {
  readonly from: number;
  readonly to: number;
}

/** What one seed scan needs. @internal */
export interface ScanContext {
  readonly index: BlockIndex;
  readonly table: WeakSumTable;
  readonly check: BlockCheck;
  readonly matches: Matches;
  readonly signal?: AbortSignal | undefined;
  /** Called with the number of seed bytes just scanned. */
  readonly onBytes?: ((bytes: number) => void) | undefined;
  /**
   * Called when the scan jumps over the windows `[from, to)` (seed offsets) after finding
   * `blocks` for the first time: a parallel scan looks there again when an earlier section had
   * found them already, as one thread would have.
   */
  readonly onJump?: ((from: number, to: number, blocks: readonly number[]) => void) | undefined;
  /**
   * The rolling scanner and its prefilter, kept across the scans of these matches (the re-scans
   * of a parallel scan, the next seeds); without it every scan makes its own.
   */
  readonly prefilter?: ScanPrefilter | undefined;
}

/**
 * Finds the blocks of a block-based index in one seed: rolls the weak sum over every offset,
 * confirms weak hits with the strong hash, and jumps one block after a match. With
 * `seqMatches = 2` (truncated hashes) a block only counts when its neighbour in the target
 * matches right beside it in the seed. Every block with the matching hashes is recorded, so a
 * block that occurs several times in the target is found once for all its copies.
 *
 * The short last block cannot fill a rolling window; it is looked for where it can be: at the
 * end of the seed, and right after each place the block before it was found.
 *
 * @internal
 */
export async function scanBlocks(ctx: ScanContext, seedId: number, reader: SeedReader, section?: SeedSection): Promise<void> {
  const { index, table, check, matches } = ctx;
  const count = index.count;
  if (count === 0) return;
  const w = index.blockSize;
  const from = section?.from ?? 0;
  const isLastSection = section === undefined || section.to >= reader.length;
  const lastLength = index.blockLength(count - 1);
  const seq2 = index.seqMatches === 2;
  const penultimateAt: number[] = [];
  const previous = new Set<number>();
  const current: number[] = [];
  const next: number[] = [];
  let previousOffset = -Infinity;

  // A block already found is not looked for again (as zsync drops it from its hash table):
  // jumping over a second copy of known bytes could skip an overlapping block still needed. With
  // two-block matching a found block still counts while its successor is missing, since it is
  // what confirms the successor.
  // Whether block b can be matched by a full window: every block but a short last one, which
  // can where it is hashed zero-padded (zsync's layout) and the seed holds it followed by zeros.
  const fillsWindow = (b: number): boolean => index.blockLength(b) === w || (index.padLastBlock && b === count - 1);
  const wanted = (b: number): boolean => !matches.has(b) || (seq2 && b + 1 < count && !matches.has(b + 1));
  const wantedInWindow = (b: number): boolean => fillsWindow(b) && wanted(b);
  // Truncated sums with two-block matching go through the pair scan below, with a filter of
  // its own; the rest through the rolling scanner, whose filter drops found blocks' sums.
  const weakSums = index.weakSums;
  const mask = index.weakMask;
  const pairScan = seq2 && mask !== 0xffffffff;
  const prefilter = pairScan ? undefined : (ctx.prefilter ?? new ScanPrefilter(index, table));

  // With two-block matching and short weak sums (zsync keeps 2 bytes of 4), a block is
  // strong-hashed only when the window one block further also has its successor's weak sum
  // (unless its predecessor already confirms it), as zsync does. The pair scan below hands over
  // the rolling sums of its buffer; with whole 4-byte sums false hits are rare and this is skipped.
  let ahead: Uint32Array = new Uint32Array(0);
  let aheadOf: Uint8Array | undefined;
  let aheadFrom = 0; // buffer position of the window whose sum is ahead[0]
  let aheadTo = 0; // one past the last window with a sum in ahead
  const successorMayFollow = (b: number, buffer: Uint8Array, at: number, end: number, confirmed: boolean): boolean => {
    const next = at + w;
    if (aheadOf !== buffer || confirmed || b + 1 >= count || index.blockLength(b + 1) !== w || at + 2 * w > end) return true;
    if (next < aheadFrom || next >= aheadTo) return true;
    return (((ahead[next - aheadFrom] as number) ^ (weakSums[b + 1] as number)) & mask) === 0;
  };

  // Not jumping over known blocks would roll through a long run of one byte value (zeros in a
  // disk image) one window at a time, each one a hit on the known run block. Every window that
  // starts inside such a run is that same block, so skip to the last one in the run at once;
  // windows that reach past the run are still looked at.
  const skipKnownRun = (b: number, buffer: Uint8Array, at: number, end: number): number => {
    const c = buffer[at] as number;
    if (buffer[at + w - 1] !== c) return 0;
    for (let i = at + 1; i < at + w; i++) if (buffer[i] !== c) return 0;
    if (!index.strongHashMatches(b, check.hash(b, buffer.subarray(at, at + w)))) return 0;
    let r = at + w;
    while (r < end && buffer[r] === c) r++;
    return r - w + 1 - at;
  };

  // Blocks found for the first time by the current hit, for onJump.
  const recordedNow: number[] = [];
  const rec = (b: number, seed: number, at: number): void => {
    if (matches.record(b, seed, at)) recordedNow.push(b);
  };

  const onHit = (relative: number, sum: number, buffer: Uint8Array, at: number, end: number): number => {
    const offset = from + relative;
    let digest: Uint8Array | undefined;
    current.length = 0;
    const afterPrevious = previousOffset + w === offset;
    let known = -1;
    let stale = true;
    for (let b = table.first(sum); b >= 0; b = table.next(b)) {
      // A short last block fills a window only zero-padded (zsync's layout), where the seed holds
      // it followed by zeros; otherwise it is looked for after the scan (see below).
      if (!fillsWindow(b)) continue;
      if (!wanted(b)) {
        known = b;
        continue;
      }
      stale = false;
      if (!successorMayFollow(b, buffer, at, end, afterPrevious && previous.has(b - 1))) continue;
      digest ??= check.hash(b, buffer.subarray(at, at + w));
      if (index.strongHashMatches(b, digest)) current.push(b);
    }
    if (current.length === 0) {
      if (known < 0) return 0;
      // Only found blocks have this sum: after enough such hits, stop looking for their sums.
      if (stale) prefilter?.onStaleHit(wantedInWindow, matches.found);
      return skipKnownRun(known, buffer, at, end);
    }
    const foundBefore = matches.found;
    recordedNow.length = 0;
    for (const b of current) {
      if (!seq2 || b === count - 1) {
        rec(b, seedId, offset);
        // The last block confirms the block before it, as a pair does.
        if (seq2 && previousOffset + w === offset && previous.has(b - 1)) rec(b - 1, seedId, previousOffset);
      } else if (previousOffset + w === offset && previous.has(b - 1)) {
        rec(b - 1, seedId, previousOffset);
        rec(b, seedId, offset);
      }
      if (b === count - 2) penultimateAt.push(offset);
    }
    // Where the seed goes on like the target, the next block is right behind: check it by its
    // strong hash alone, without rolling, for as long as the buffered bytes allow.
    let q = offset + w;
    for (let i = at + w; i + w <= end; i += w, q += w) {
      // One block whose successors are wanted (the usual case where the seed goes on like the
      // target): check the run of them at once, then go on one block at a time where it ends.
      if (current.length === 1) {
        const b = current[0] as number;
        const most = Math.min(Math.floor((end - i) / w), count - 1 - b, RUN_STEP);
        let limit = 0;
        while (limit < most && fillsWindow(b + 1 + limit) && wanted(b + 1 + limit)) limit++;
        if (limit > 0) {
          const n = check.matchRun(b + 1, buffer.subarray(i, i + limit * w), limit);
          for (let nb = b + 1; nb <= b + n; nb++, i += w, q += w) {
            rec(nb - 1, seedId, q - w);
            rec(nb, seedId, q);
            if (nb === count - 2) penultimateAt.push(q);
          }
          current[0] = b + n;
          // The block at i is not the next one (or there is no room for it): the run ends here.
          if (n < limit || i + w > end) break;
        }
      }
      next.length = 0;
      let nextDigest: Uint8Array | undefined;
      for (const b of current) {
        const nb = b + 1;
        // A known successor still counts while it is what confirms b.
        if (nb >= count || !fillsWindow(nb) || (!wanted(nb) && matches.has(b))) continue;
        nextDigest ??= check.hash(nb, buffer.subarray(i, i + w));
        if (index.strongHashMatches(nb, nextDigest)) next.push(nb);
      }
      if (next.length === 0) break;
      for (const nb of next) {
        // Two neighbours side by side: with two-block matching they confirm each other.
        rec(nb - 1, seedId, q - w);
        rec(nb, seedId, q);
        if (nb === count - 2) penultimateAt.push(q);
      }
      // No spread: a run of identical blocks can make these lists a million long.
      current.length = 0;
      for (const nb of next) current.push(nb);
    }
    previous.clear();
    for (const b of current) previous.add(b);
    previousOffset = q - w;
    // Nothing new here: a known block again (say in a run of zeros whose last block waits for a
    // successor that never follows), or a block that two-block matching has not confirmed. Skip
    // the rest of such a run, but do not jump a block: that could pass over a needed block that
    // overlaps this one (the next window is still checked on its own sum, as a run's successor).
    if (matches.found === foundBefore && current[0] !== undefined) return Math.max(1, skipKnownRun(current[0], buffer, at, end));
    if (q - offset > 1 && recordedNow.length > 0) ctx.onJump?.(offset + 1, q, recordedNow);
    return q - offset;
  };

  // A section sees the windows that start inside it, plus one more block of them with two-block
  // matching, so that a pair straddling the boundary is still confirmed.
  const readTo = section === undefined ? reader.length : section.to + (seq2 ? 2 * w : w) - 1;
  if (prefilter === undefined) {
    const onSums = (buffer: Uint8Array, sums: Uint32Array, first: number, windows: number): void => {
      ahead = sums;
      aheadOf = buffer;
      aheadFrom = first;
      aheadTo = first + windows;
    };
    await scanPairs(ctx, reader, from, readTo, pairFilterOf(index), onSums, onHit, () => previousOffset + w - from);
  } else {
    const scanner = prefilter.scanner(wantedInWindow, matches.found);
    for await (const piece of reader.pieces(ctx.signal, from, readTo)) {
      scanner.update(piece, onHit);
      ctx.onBytes?.(piece.length);
    }
  }

  const last = count - 1;
  if (lastLength < w && !matches.has(last)) {
    const lastSum = index.weakSums[last] as number;
    const candidates: [number, number][] = isLastSection ? [[reader.length - lastLength, -1]] : [];
    for (const at of penultimateAt) candidates.push([at + w, at]);
    for (const [at, penultimate] of candidates) {
      throwIfAborted(ctx.signal);
      if (matches.has(last) && (penultimate < 0 || matches.has(last - 1))) {
        if (!seq2 || matches.has(last - 1)) break;
        continue;
      }
      if (at < 0 || at + lastLength > reader.length) continue;
      const bytes = await reader.read(at, lastLength);
      const sum = weakSum(bytes, index.padLastBlock ? w : lastLength);
      if (((sum ^ lastSum) & index.weakMask) !== 0 || !check.matches(last, bytes)) continue;
      matches.record(last, seedId, at);
      // With two-block matching the block before the last is confirmed by the last one.
      if (penultimate >= 0) matches.record(last - 1, seedId, penultimate);
    }
  }
}

/**
 * Finds the chunks of a chunk-based index in one seed: cuts the seed with the index's chunking
 * parameters and looks each chunk up by length and strong hash.
 *
 * @internal
 */
export async function scanChunks(ctx: ScanContext, seedId: number, reader: SeedReader): Promise<void> {
  const { index, matches } = ctx;
  const chunking = index.chunking;
  if (chunking === undefined || index.count === 0) return;
  const byKey = new Map<string, number[]>();
  const key = (length: number, hash: Uint8Array): string => `${length}:${Buffer.from(hash.buffer, hash.byteOffset, index.strongBytes).toString('latin1')}`;
  for (let b = 0; b < index.count; b++) {
    const k = key(index.blockLength(b), index.strongHashOf(b));
    const list = byKey.get(k);
    if (list === undefined) byKey.set(k, [b]);
    else list.push(b);
  }
  const hasher = await createStrongHasher(index.strongHash);
  const digest = new Uint8Array(hasher.digestLength);
  const chunker = new Chunker(chunking);
  let chunkStart = 0;
  const close = (end: number): void => {
    hasher.digestInto(digest, 0);
    for (const b of byKey.get(key(end - chunkStart, digest)) ?? []) matches.record(b, seedId, chunkStart);
    chunkStart = end;
    hasher.init();
  };
  hasher.init();
  let pieceStart = 0;
  for await (const piece of reader.pieces(ctx.signal)) {
    let from = 0;
    for (const end of chunker.push(piece)) {
      hasher.update(piece.subarray(from, end - pieceStart));
      from = end - pieceStart;
      close(end);
    }
    hasher.update(piece.subarray(from));
    pieceStart += piece.length;
    ctx.onBytes?.(piece.length);
  }
  const end = chunker.finish();
  if (end !== undefined) close(end);
}

/** Mixes the weak sums of two neighbouring windows into one key of the pair filter. */
function pairKey(first: number, second: number, mask: number): number {
  const s = (second & mask) >>> 0;
  return ((first & mask) ^ ((s >>> 16) | (s << 16))) >>> 0;
}

const pairFilters = new WeakMap<BlockIndex, WeakSumFilter>();

/** The first hash of {@link WeakSumFilter} (the pair scan inlines its first probe). */
const GOLDEN = 0x9e3779b1;

/** Windows per slice of rolling sums in the pair scan: 256 KiB of sums, cache-resident. */
const SLICE_WINDOWS = 64 * 1024;

/**
 * The pair scan's hot loop, once per byte of the seed: for the windows `[0, n)` of `sums`, the
 * pair key (pairKey, inlined) and the first bit of the filter (WeakSumFilter.has, inlined);
 * writes the windows that pass to `out` and returns how many. A small function of its own, so
 * that V8 optimises it early and once, whatever the scan around it does.
 */
function pairCandidates(sums: Uint32Array, n: number, w: number, mask: number, words: Int32Array, shift: number, out: Int32Array): number {
  let count = 0;
  for (let i = 0; i < n; i++) {
    const s2 = ((sums[i + w] as number) & mask) >>> 0;
    const key = (((sums[i] as number) & mask) ^ ((s2 >>> 16) | (s2 << 16))) >>> 0;
    const h = Math.imul(key, GOLDEN) >>> shift;
    if (((words[h >>> 5] as number) & (1 << (h & 31))) !== 0) out[count++] = i;
  }
  return count;
}

/** A Bloom filter over the weak sums of every pair of full neighbouring blocks (b, b + 1). */
function pairFilterOf(index: BlockIndex): WeakSumFilter {
  let filter = pairFilters.get(index);
  if (filter !== undefined) return filter;
  const w = index.blockSize;
  filter = new WeakSumFilter(index.count, { bitsPerEntry: filterBitsPerEntry(index.count) });
  const paddedLast = index.padLastBlock ? index.count - 1 : -1;
  for (let b = 0; b + 1 < index.count; b++) {
    if (index.blockLength(b + 1) !== w && b + 1 !== paddedLast) continue;
    filter.add(pairKey(index.weakSums[b] as number, index.weakSums[b + 1] as number, index.weakMask));
  }
  pairFilters.set(index, filter);
  return filter;
}

/**
 * The candidate windows of a two-block-matching scan, found as zsync finds them: a window is a
 * candidate only when its weak sum and the weak sum of the window one block further match a pair
 * of neighbouring blocks (zsync's truncated 2-byte sums alone let one window in a few through;
 * the pair lets about one in 2^32). The rolling sums of each buffer are computed in one pass.
 * The window right after a matched run is checked on its own sum (its predecessor confirms it),
 * and so are the last windows of the seed, which have no window one block further.
 *
 * @internal
 */
async function scanPairs(
  ctx: ScanContext,
  reader: SeedReader,
  from: number,
  readTo: number,
  pairs: WeakSumFilter,
  onSums: (buffer: Uint8Array, sums: Uint32Array, first: number, windows: number) => void,
  onHit: (relative: number, sum: number, buffer: Uint8Array, at: number, end: number) => number,
  afterRun: () => number,
): Promise<void> {
  const w = ctx.index.blockSize;
  const mask = ctx.index.weakMask;
  const single = ctx.table.filter;
  // Sums are computed a slice of windows at a time, into an array that stays in the cache:
  // one array of sums for a whole 4 MiB piece was 16 MB of memory traffic per piece.
  const slice = Math.max(SLICE_WINDOWS, w);
  const sums = new Uint32Array(slice + w);
  const words = pairs.words;
  const shift = pairs.shift;
  let buffer = new Uint8Array(0);
  let base = 0; // stream offset (relative to `from`) of buffer[0]
  let x = 0; // the next window to look at, relative to buffer[0]
  let carry = new Uint8Array(0);
  // Positions (relative to the slice) of the windows whose pair key passes the filter's first bit.
  const candidates = new Int32Array(slice);
  // Looks at the windows from x up to `limit` (inclusive) of buffer[0, end).
  const examine = (limit: number, end: number): void => {
    while (x <= limit) {
      // Sums of windows [s0, s0 + n): those looked at in this slice and one block beyond.
      const s0 = x;
      const last = Math.min(limit, s0 + slice - 1);
      const n = Math.min(end - w + 1, last + w + 1) - s0;
      rollingSums(buffer.subarray(s0, s0 + n + w - 1), w, sums);
      onSums(buffer, sums, s0, n);
      // Windows up to `paired` have a window one block further within these sums.
      const paired = Math.min(last, s0 + n - w - 1);
      // The hot loop, once per byte of the seed, kept free of calls and branches that depend on
      // matches: the pair key and the filter's first bit (pairKey and WeakSumFilter.has,
      // inlined). The few windows that pass are looked at in order below.
      const count = pairCandidates(sums, paired - s0 + 1, w, mask, words, shift, candidates);
      let c = 0;
      let runEnd = afterRun() - base;
      while (x <= last) {
        while (c < count && (candidates[c] as number) + s0 < x) c++;
        const next = c < count ? (candidates[c] as number) + s0 : paired + 1;
        let at: number;
        if (runEnd >= x && runEnd <= paired && runEnd <= next) {
          // The window right after a matched run: its own sum decides (its predecessor confirms it).
          at = runEnd;
          if (!single.has(sums[at - s0] as number)) {
            x = at + 1;
            continue;
          }
        } else if (next <= paired) {
          at = next;
          const s2 = ((sums[at + w - s0] as number) & mask) >>> 0;
          if (!pairs.hasSecond((((sums[at - s0] as number) & mask) ^ ((s2 >>> 16) | (s2 << 16))) >>> 0)) {
            x = at + 1;
            continue;
          }
        } else {
          // The last windows of the seed have no window one block further: their own sums decide.
          at = Math.max(x, paired + 1);
          if (at > last) {
            x = at;
            break;
          }
          if (!single.has(sums[at - s0] as number)) {
            x = at + 1;
            continue;
          }
        }
        const advance = onHit(base + at, (sums[at - s0] as number) >>> 0, buffer, at, end);
        x = at + (advance > 0 ? advance : 1);
        runEnd = afterRun() - base;
      }
    }
  };
  for await (const piece of reader.pieces(ctx.signal, from, readTo)) {
    buffer = new Uint8Array(carry.length + piece.length);
    buffer.set(carry);
    buffer.set(piece, carry.length);
    examine(buffer.length - 2 * w, buffer.length);
    // Keep the bytes of every window not looked at yet (a jump may have passed the end).
    const keep = Math.min(x, buffer.length);
    carry = buffer.slice(keep);
    base += keep;
    x -= keep;
    ctx.onBytes?.(piece.length);
  }
  // The last windows have no window one block further: their own sums decide.
  if (carry.length >= w) {
    buffer = carry;
    examine(buffer.length - w, buffer.length);
  }
}
