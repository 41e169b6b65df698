import type { BlockIndex, WeakSumTable } from '@gosync/index';
import type { WeakSumFilter } from '@gosync/rollsum';
import type { BlockCheck } from './block-check.js';
import type { Matches } from './matches.js';
import type { ScanPrefilter } from './prefilter.js';
import type { JumpHandler, ScanContext } from './scan.js';

/**
 * Blocks the scan checks at once after a match (a longer run goes on in the next step): bounds
 * the look-ahead in the index per match.
 */
const RUN_STEP = 128;

/** The most blocks a jump reports (JumpLog keeps as many). */
const JUMP_BLOCKS = 64;

/**
 * The lists one hit fills and reads (`BlockScan.hit`, which runs to its end without waiting), one
 * set for every scan of the thread. Where a block occurs many times in the target, a hit lists
 * all its copies: lists of each scan's own were 655 360 entries long for every section of a
 * 5 GiB disk image, and garbage after it.
 */
const HIT_SCRATCH: { readonly current: number[]; readonly next: number[]; readonly recorded: number[] } = { current: [], next: [], recorded: [] };

/** What a {@link BlockScan} works with: the index and its tables, the matches to add to. @internal */
export type BlockScanParts = Pick<ScanContext, 'index' | 'table' | 'check' | 'matches' | 'onJump'>;

/**
 * What the scan of one stretch of one seed does at a weak-sum hit: looks the window up in the
 * weak-sum table, confirms it by the strong hash, follows a run of matching blocks, and says how
 * far to jump.
 *
 * A class rather than closures made per scan: its methods are the same functions for every scan
 * (a parallel scan's re-scans are a dozen scans of a few kilobytes), so V8 optimises them once per
 * thread. With closures, each new scan's helpers were new call targets that threw the optimised
 * hit code away, and it was compiled again (about 25 ms of a background thread each time, which
 * two scanning threads on two cores have to share).
 *
 * A block already found is not looked for again (as zsync drops it from its hash table):
 * jumping over a second copy of known bytes could skip an overlapping block still needed. With
 * two-block matching (`seqMatches = 2`) a found block still counts while its successor is
 * missing, since it is what confirms the successor.
 *
 * @internal
 */
export class BlockScan {
  /** Offsets where the block before the last one was found (the short last block may follow). */
  readonly penultimateAt: number[] = [];
  readonly #index: BlockIndex;
  readonly #table: WeakSumTable;
  readonly #check: BlockCheck;
  readonly #matches: Matches;
  readonly #onJump: JumpHandler | undefined;
  readonly #prefilter: ScanPrefilter | undefined;
  readonly #seedId: number;
  /** Seed offset of the stream's first byte. */
  readonly #from: number;
  readonly #count: number;
  readonly #w: number;
  readonly #seq2: boolean;
  readonly #mask: number;
  readonly #weakSums: Uint32Array;
  /** The blocks matched side by side at #previousOffset (see PreviousBlocks). */
  readonly #previous = new PreviousBlocks();
  /** The candidates of this hit and of the next window (HIT_SCRATCH). */
  readonly #current: number[] = HIT_SCRATCH.current;
  readonly #next: number[] = HIT_SCRATCH.next;
  #previousOffset = -Infinity;
  /** The first blocks (up to JUMP_BLOCKS) found for the first time by the current hit, for onJump (HIT_SCRATCH). */
  readonly #recordedNow: number[] = HIT_SCRATCH.recorded;
  // The pair scan's rolling sums of its buffer (see setAhead).
  #ahead: Uint32Array = new Uint32Array(0);
  #aheadOf: Uint8Array | undefined;
  #aheadFrom = 0;
  #aheadTo = 0;
  /** {@link BlockScan.addWantedSums} as a function of its own, for the prefilter. */
  readonly addWanted = (filter: WeakSumFilter): void => {
    this.addWantedSums(filter);
  };

  /**
   * @param parts - the index and its tables, the matches to add to
   * @param seedId - the seed's number in the matches
   * @param from - the seed offset of the first byte scanned
   * @param prefilter - the rolling scanner's prefilter, told about hits on found blocks only
   */
  constructor(parts: BlockScanParts, seedId: number, from: number, prefilter: ScanPrefilter | undefined) {
    this.#index = parts.index;
    this.#table = parts.table;
    this.#check = parts.check;
    this.#matches = parts.matches;
    this.#onJump = parts.onJump;
    this.#prefilter = prefilter;
    this.#seedId = seedId;
    this.#from = from;
    this.#count = parts.index.count;
    this.#w = parts.index.blockSize;
    this.#seq2 = parts.index.seqMatches === 2;
    this.#mask = parts.index.weakMask;
    this.#weakSums = parts.index.weakSums;
  }

  /**
   * Whether block b can be matched by a full window: every block but a short last one, which
   * can where it is hashed zero-padded (zsync's layout) and the seed holds it followed by zeros.
   */
  fillsWindow(b: number): boolean {
    return this.#index.blockLength(b) === this.#w || (this.#index.padLastBlock && b === this.#count - 1);
  }

  /** Whether block b is still looked for. */
  wanted(b: number): boolean {
    const matches = this.#matches;
    return !matches.has(b) || (this.#seq2 && b + 1 < this.#count && !matches.has(b + 1));
  }

  /** Whether a window may still match block b. */
  wantedInWindow(b: number): boolean {
    return this.fillsWindow(b) && this.wanted(b);
  }

  /**
   * Adds to `filter` the weak sums of the blocks a window may still match
   * ({@link BlockScan.wantedInWindow}), in one pass over the matches: the prefilter's rebuild,
   * on the critical path after a parallel scan (a test per block through a closure took 4 ms
   * for 136 000 blocks).
   */
  addWantedSums(filter: WeakSumFilter): void {
    const seedOf = this.#matches.seedOf;
    const sums = this.#weakSums;
    const count = this.#count;
    const seq2 = this.#seq2;
    for (let b = 0; b < count; b++) {
      // Found, and not needed to confirm its successor.
      if ((seedOf[b] as number) >= 0 && !(seq2 && b + 1 < count && (seedOf[b + 1] as number) < 0)) continue;
      // Only the last block can be short.
      if (b === count - 1 && !this.fillsWindow(b)) continue;
      filter.add(sums[b] as number);
    }
  }

  /** The seed offset just past the last matched run: the window there is checked on its own sum. */
  get afterRun(): number {
    return this.#previousOffset + this.#w;
  }

  /**
   * The pair scan's rolling sums of `buffer`: `sums[i]` is the weak sum of the window at
   * `first + i`, for `windows` windows. With two-block matching and short weak sums (zsync keeps
   * 2 bytes of 4), a block is strong-hashed only when the window one block further has its
   * successor's weak sum (unless its predecessor already confirms it), as zsync does.
   */
  setAhead(buffer: Uint8Array, sums: Uint32Array, first: number, windows: number): void {
    this.#ahead = sums;
    this.#aheadOf = buffer;
    this.#aheadFrom = first;
    this.#aheadTo = first + windows;
  }

  #successorMayFollow(b: number, buffer: Uint8Array, at: number, end: number, confirmed: boolean): boolean {
    const w = this.#w;
    const next = at + w;
    if (this.#aheadOf !== buffer || confirmed || b + 1 >= this.#count || this.#index.blockLength(b + 1) !== w || at + 2 * w > end) return true;
    if (next < this.#aheadFrom || next >= this.#aheadTo) return true;
    return (((this.#ahead[next - this.#aheadFrom] as number) ^ (this.#weakSums[b + 1] as number)) & this.#mask) === 0;
  }

  /**
   * Not jumping over known blocks would roll through a long run of one byte value (zeros in a
   * disk image) one window at a time, each one a hit on the known run block. Every window that
   * starts inside such a run is that same block, so skip to the last one in the run at once;
   * windows that reach past the run are still looked at.
   */
  #skipKnownRun(b: number, buffer: Uint8Array, at: number, end: number): number {
    const w = this.#w;
    const c = buffer[at] as number;
    if (buffer[at + w - 1] !== c) return 0;
    for (let i = at + 1; i < at + w; i++) if (buffer[i] !== c) return 0;
    if (!this.#index.strongHashMatches(b, this.#check.hash(b, buffer.subarray(at, at + w)))) return 0;
    let r = at + w;
    while (r < end && buffer[r] === c) r++;
    return r - w + 1 - at;
  }

  #record(b: number, at: number): void {
    if (this.#matches.record(b, this.#seedId, at) && this.#recordedNow.length < JUMP_BLOCKS) this.#recordedNow.push(b);
  }

  /**
   * A window whose weak sum passed the filter: `relative` is its offset from the first byte
   * scanned, `buffer.subarray(at, end)` the bytes from it on. Returns how far to move on (0 for
   * one byte; a block or more after a match), as {@link WeakScanHit} does.
   */
  hit(relative: number, sum: number, buffer: Uint8Array, at: number, end: number): number {
    const table = this.#table;
    const current = this.#current;
    const offset = this.#from + relative;
    let digest: Uint8Array | undefined;
    current.length = 0;
    const confirmed = this.#previousOffset + this.#w === offset;
    let known = -1;
    let stale = true;
    for (let b = table.first(sum); b >= 0; b = table.next(b)) {
      // A short last block fills a window only zero-padded (zsync's layout), where the seed holds
      // it followed by zeros; otherwise it is looked for after the scan.
      if (!this.fillsWindow(b)) continue;
      if (!this.wanted(b)) {
        known = b;
        continue;
      }
      stale = false;
      if (!this.#successorMayFollow(b, buffer, at, end, confirmed && this.#seq2 && this.#previous.has(b - 1))) continue;
      digest ??= this.#check.hash(b, buffer.subarray(at, at + this.#w));
      if (this.#index.strongHashMatches(b, digest)) current.push(b);
    }
    if (current.length === 0) {
      if (known < 0) return 0;
      // Only found blocks have this sum: after enough such hits, stop looking for their sums.
      if (stale) this.#prefilter?.onStaleHit(this.addWanted, this.#matches.found);
      return this.#skipKnownRun(known, buffer, at, end);
    }
    return this.#matched(offset, confirmed, buffer, at, end);
  }

  /**
   * Records the blocks of `#current`, matched at `offset` (`confirmed`: right after the last
   * matched run), follows their run, and says how far to move on.
   */
  #matched(offset: number, confirmed: boolean, buffer: Uint8Array, at: number, end: number): number {
    const w = this.#w;
    const count = this.#count;
    const current = this.#current;
    const previous = this.#previous;
    const foundBefore = this.#matches.found;
    this.#recordedNow.length = 0;
    for (const b of current) {
      if (!this.#seq2 || b === count - 1) {
        this.#record(b, offset);
        // The last block confirms the block before it, as a pair does.
        if (this.#seq2 && confirmed && previous.has(b - 1)) this.#record(b - 1, this.#previousOffset);
      } else if (confirmed && previous.has(b - 1)) {
        this.#record(b - 1, this.#previousOffset);
        this.#record(b, offset);
      }
      if (b === count - 2) this.penultimateAt.push(offset);
    }
    const q = this.#followRun(offset, buffer, at, end);
    // Only two-block matching asks who matched right before.
    if (this.#seq2) previous.set(current, count);
    this.#previousOffset = q - w;
    // Nothing new here: a known block again (say in a run of zeros whose last block waits for a
    // successor that never follows), or a block that two-block matching has not confirmed. Skip
    // the rest of such a run, but do not jump a block: that could pass over a needed block that
    // overlaps this one (the next window is still checked on its own sum, as a run's successor).
    if (this.#matches.found === foundBefore && current[0] !== undefined) return Math.max(1, this.#skipKnownRun(current[0], buffer, at, end));
    if (q - offset > 1 && this.#recordedNow.length > 0) this.#onJump?.(offset + 1, q, this.#recordedNow);
    return q - offset;
  }

  /**
   * Where the seed goes on like the target, the next block is right behind: checks it by its
   * strong hash alone, without rolling, for as long as the buffered bytes allow. Leaves the last
   * blocks matched in `#current` and returns the seed offset one block past them.
   */
  #followRun(offset: number, buffer: Uint8Array, at: number, end: number): number {
    const w = this.#w;
    const count = this.#count;
    const index = this.#index;
    const current = this.#current;
    const next = this.#next;
    let q = offset + w;
    for (let i = at + w; i + w <= end; i += w, q += w) {
      // One block whose successors are wanted (the usual case where the seed goes on like the
      // target): check the run of them at once, then go on one block at a time where it ends.
      if (current.length === 1) {
        const b = current[0] as number;
        const most = Math.min(Math.floor((end - i) / w), count - 1 - b, RUN_STEP);
        let limit = 0;
        while (limit < most && this.fillsWindow(b + 1 + limit) && this.wanted(b + 1 + limit)) limit++;
        if (limit > 0) {
          const n = this.#check.matchRun(b + 1, buffer.subarray(i, i + limit * w), limit);
          for (let nb = b + 1; nb <= b + n; nb++, i += w, q += w) {
            this.#record(nb - 1, q - w);
            this.#record(nb, q);
            if (nb === count - 2) this.penultimateAt.push(q);
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
        if (nb >= count || !this.fillsWindow(nb) || (!this.wanted(nb) && this.#matches.has(b))) continue;
        nextDigest ??= this.#check.hash(nb, buffer.subarray(i, i + w));
        if (index.strongHashMatches(nb, nextDigest)) next.push(nb);
      }
      if (next.length === 0) break;
      for (const nb of next) {
        // Two neighbours side by side: with two-block matching they confirm each other.
        this.#record(nb - 1, q - w);
        this.#record(nb, q);
        if (nb === count - 2) this.penultimateAt.push(q);
      }
      // No spread: a run of identical blocks can make these lists a million long.
      current.length = 0;
      for (const nb of next) current.push(nb);
    }
    return q;
  }
}

/** Lists up to this long are searched; longer ones are marked in an array (see PreviousBlocks). */
const LISTED = 32;

/**
 * The blocks matched at the last hit, for two-block matching to ask whether a block's
 * predecessor was one of them. Almost always one or two blocks, looked through in a list; where a
 * block occurs many times in the target (a disk image's zero blocks: 655 360 of them), all its
 * copies match at once, and they are marked with a generation number in an array of a number per
 * block, made the first time, instead of a Set rebuilt with every copy at each such hit (655 360
 * entries per section of a 5 GB image, where each section finds the zero blocks again).
 *
 * @internal
 */
export class PreviousBlocks {
  readonly #list: number[] = [];
  #marks: Int32Array | undefined;
  #generation = 0;

  /** Whether block b was matched at the last hit. */
  has(b: number): boolean {
    const list = this.#list;
    if (list.length <= LISTED) {
      for (const x of list) if (x === b) return true;
      return false;
    }
    return b >= 0 && (this.#marks as Int32Array)[b] === this.#generation;
  }

  /** The blocks matched at this hit (of an index of `count` blocks). */
  set(blocks: readonly number[], count: number): void {
    const list = this.#list;
    list.length = 0;
    for (const b of blocks) list.push(b);
    if (list.length <= LISTED) return;
    const marks = (this.#marks ??= new Int32Array(count));
    this.#generation++;
    for (const b of list) marks[b] = this.#generation;
  }
}
