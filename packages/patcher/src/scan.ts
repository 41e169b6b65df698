import { throwIfAborted } from '@gosync/core';
import { createStrongHasher, filterBitsPerEntry, type BlockIndex, type WeakSumTable } from '@gosync/index';
import { Chunker, WeakSumFilter, weakSum } from '@gosync/rollsum';
import type { BlockCheck } from './block-check.js';
import { BlockScan } from './block-scan.js';
import { PairScanMemory } from './pair-scan-memory.js';
import type { Matches } from './matches.js';
import { ScanPrefilter } from './prefilter.js';
import type { SeedReader } from './seed-reader.js';

/** The windows starting in `[from, to)` of a seed: one worker's share. @internal */
export interface SeedSection {
  readonly from: number;
  readonly to: number;
}

/**
 * Told of each jump after new matches: the window `[from, to)` skipped and the blocks found new
 * at its start. @internal
 */
export type JumpHandler = (from: number, to: number, blocks: readonly number[]) => void;

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
  readonly onJump?: JumpHandler | undefined;
  /**
   * The rolling scanner and its prefilter, kept across the scans of these matches (the re-scans
   * of a parallel scan, the next seeds); without it every scan makes its own.
   */
  readonly prefilter?: ScanPrefilter | undefined;
  /** The pair scan's kernel and buffers, kept across the scans of one thread (see PairScanMemory). */
  readonly pairMemory?: PairScanMemory | undefined;
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
  // Truncated sums with two-block matching go through the pair scan below, with a filter of
  // its own; the rest through the rolling scanner, whose filter drops found blocks' sums.
  const pairScan = seq2 && index.weakMask !== 0xffffffff;
  const prefilter = pairScan ? undefined : (ctx.prefilter ?? new ScanPrefilter(index, table));
  const scan = new BlockScan(ctx, seedId, from, prefilter);
  const onHit = (relative: number, sum: number, buffer: Uint8Array, at: number, end: number): number => scan.hit(relative, sum, buffer, at, end);

  // A section sees the windows that start inside it, plus one more block of them with two-block
  // matching, so that a pair straddling the boundary is still confirmed.
  const readTo = section === undefined ? reader.length : section.to + (seq2 ? 2 * w : w) - 1;
  if (prefilter === undefined) {
    await scanPairs(ctx, reader, from, readTo, pairFilterOf(index), scan, onHit);
  } else {
    const scanner = prefilter.scanner(scan.addWanted, matches.found);
    // Read straight into the scanner's memory (no copy of each piece into it), into buffers no
    // larger than the stretch: a small seed or re-scan window does not grow the memory by 4 MiB.
    const inputs = scanner.inputBuffers(reader.pieceLength(from, readTo));
    for await (const piece of reader.pieces(ctx.signal, from, readTo, inputs)) {
      scanner.update(piece, onHit);
      ctx.onBytes?.(piece.length);
    }
  }

  const last = count - 1;
  if (lastLength < w && !matches.has(last)) {
    const lastSum = index.weakSums[last] as number;
    const candidates: [number, number][] = isLastSection ? [[reader.length - lastLength, -1]] : [];
    for (const at of scan.penultimateAt) candidates.push([at + w, at]);
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

/** Windows per slice of rolling sums in the pair scan: 256 KiB of sums, cache-resident. */
const SLICE_WINDOWS = 64 * 1024;

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
  scan: BlockScan,
  onHit: (relative: number, sum: number, buffer: Uint8Array, at: number, end: number) => number,
): Promise<void> {
  const w = ctx.index.blockSize;
  const mask = ctx.index.weakMask;
  const single = ctx.table.filter;
  // Sums are computed a slice of windows at a time, into an array that stays in the cache:
  // one array of sums for a whole 4 MiB piece was 16 MB of memory traffic per piece.
  const slice = Math.max(SLICE_WINDOWS, w);
  // The hot loop (the pair key and the pair filter, once per byte) runs in WebAssembly, over
  // sums written straight into its memory.
  const memory = ctx.pairMemory ?? new PairScanMemory();
  const kernel = memory.kernel(pairs, mask, slice, w);
  const sums = kernel.sums;
  const candidates = kernel.out;
  let buffer = new Uint8Array(0);
  let base = 0; // stream offset (relative to `from`) of buffer[0]
  let x = 0; // the next window to look at, relative to buffer[0]
  let carry = new Uint8Array(0);
  // Looks at the windows from x up to `limit` (inclusive) of buffer[0, end).
  const examine = (limit: number, end: number): void => {
    while (x <= limit) {
      // Sums of windows [s0, s0 + n): those looked at in this slice and one block beyond.
      const s0 = x;
      const last = Math.min(limit, s0 + slice - 1);
      const n = Math.min(end - w + 1, last + w + 1) - s0;
      kernel.input.set(buffer.subarray(s0, s0 + n + w - 1));
      kernel.rollingSums(n + w - 1);
      scan.setAhead(buffer, sums, s0, n);
      // Windows up to `paired` have a window one block further within these sums.
      const paired = Math.min(last, s0 + n - w - 1);
      // The windows whose pair key passes the pair filter (in `candidates`, relative to the
      // slice): the few that do are looked at in order below.
      const count = kernel.candidates(paired - s0 + 1);
      let c = 0;
      let runEnd = scan.afterRun - from - base;
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
        runEnd = scan.afterRun - from - base;
      }
    }
  };
  // File pieces are read after room for the bytes carried over (fewer than two blocks), where
  // they are put: no new buffer and copy of every piece.
  const room = 2 * w;
  const size = reader.pieceLength(from, readTo);
  const own = memory.buffers(room + size);
  for await (const piece of reader.pieces(ctx.signal, from, readTo, [own[0].subarray(room), own[1].subarray(room)])) {
    if ((piece.buffer === own[0].buffer || piece.buffer === own[1].buffer) && piece.byteOffset >= carry.length) {
      buffer = new Uint8Array(piece.buffer, piece.byteOffset - carry.length, carry.length + piece.length);
      buffer.set(carry);
    } else {
      // A seed in memory: its pieces are its own bytes, never written to.
      buffer = new Uint8Array(carry.length + piece.length);
      buffer.set(carry);
      buffer.set(piece, carry.length);
    }
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
