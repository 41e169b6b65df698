import { Matches } from './matches.js';
import { scanBlocks, type ScanContext, type SeedSection } from './scan.js';
import type { SeedReader } from './seed-reader.js';

/**
 * The calling thread's pace from which the other threads leave the sections to it: at 1 GB/s or
 * more the data is mostly found blocks, checked in runs, and reading it is most of the work; a
 * second thread reading beside it slows both (on the 557 MB swc pair, near-identical: 1.5 GB/s
 * each against 2.9 GB/s alone). Bytes per millisecond.
 */
const FAST_PACE = 1e6;

/**
 * The smallest section (unless the seed is small): the last sections are the ones that even out
 * the threads' finishing times, and a thread needs 10–25 ms for 8 MiB.
 */
const MIN_SECTION = 8 << 20;

/**
 * For seeds over 1 GiB the smallest section is a 128th of the seed instead: each section has a
 * cost of its own that grows with the index, not with the section (a block that occurs many
 * times in the target, such as a disk image's zero blocks, is found again, with all its copies,
 * by every section), while a section's length only bounds how far apart the threads finish. On
 * a 5 GiB image (655 360 blocks, most of them zeros), two threads: 12.5–12.8 s against 13.3–13.5
 * s with 8 MiB sections.
 */
const MIN_SECTIONS_OF_SEED = 128;

/**
 * How many sections each thread's share of what is left is cut into, at every step of
 * {@link sectionLayout}. One (each section half of what is left, with two threads) left the
 * thread that took the first section alone on half the seed: where that half scans slower (on
 * the 557 MB swc pair it does, by 10–20 %, whichever thread takes it), the other thread ran out
 * of sections and waited. Three, on that pair, in alternating runs of one and two threads: a
 * median speed-up of 1.65–1.69× against 1.62–1.63×, 65.94 MB reused against 65.90 MB.
 */
const SECTIONS_PER_SHARE = 3;

/**
 * Cuts a seed into the sections of a parallel scan with `threads` threads: each section a
 * (3 × `threads`)-th of what is left ({@link SECTIONS_PER_SHARE}), on block boundaries, down to
 * {@link MIN_SECTION} ({@link MIN_SECTIONS_OF_SEED} for large seeds, a quarter of a thread's
 * share for small ones). Large sections first, so that few are needed (each new section start
 * may cost a block or two of reuse); small ones last, so that the threads finish at nearly the
 * same time whichever of them started late, was slowed, or got the slower data. Depends only on its arguments, and with it the plan. On the
 * 557 MB swc pair with 2 threads: 19 sections, from 93 MB down to 8.4 MB; 65.94 MB reused (one
 * thread: 65.86 MB). How much is reused moves by a few tenths of a megabyte with the layout,
 * either way: a sixth of what is left gave 65.94 MB, a quarter 65.43 MB, a half 65.90 MB.
 *
 * @internal
 */
export function sectionLayout(seedLength: number, threads: number, blockSize: number): SeedSection[] {
  const blocksOf = (bytes: number): number => Math.max(1, Math.ceil(bytes / blockSize));
  const minBlocks = blocksOf(Math.min(Math.max(MIN_SECTION, seedLength / MIN_SECTIONS_OF_SEED), seedLength / (4 * threads)));
  const sections: SeedSection[] = [];
  for (let from = 0; from < seedLength; ) {
    const blocks = Math.max(minBlocks, blocksOf((seedLength - from) / (SECTIONS_PER_SHARE * threads)));
    let to = Math.min(seedLength, from + blocks * blockSize);
    // No sliver at the end: it goes with the section before.
    if (seedLength - to < minBlocks * blockSize) to = seedLength;
    sections.push({ from, to });
    from = to;
  }
  return sections;
}

/**
 * What the threads of one parallel scan share (one SharedArrayBuffer): who claimed each section
 * (0: nobody yet, else the claiming thread's number + 1), and the calling thread's pace. Each
 * thread claims the first open section, scans it, and claims the next, until none is left. Who
 * scans a section changes only the time, not the result (see {@link scanSection}).
 *
 * @internal
 */
export class SectionBoard {
  readonly buffer: SharedArrayBuffer;
  readonly #claims: Int32Array;
  /** When the calling thread started (ms since the epoch), and bytes it has scanned. */
  readonly #pace: Float64Array;
  /** This side's first section that may still be open. */
  #next = 0;

  constructor(bufferOrSections: SharedArrayBuffer | number) {
    this.buffer = typeof bufferOrSections === 'number' ? new SharedArrayBuffer(16 + 4 * bufferOrSections) : bufferOrSections;
    this.#pace = new Float64Array(this.buffer, 0, 2);
    this.#claims = new Int32Array(this.buffer, 16);
  }

  /** The number of sections. */
  get sections(): number {
    return this.#claims.length;
  }

  /** Claims the first open section for thread `thread` (0: the calling thread): its number, or −1 if none is open. */
  claim(thread: number): number {
    const claims = this.#claims;
    for (; this.#next < claims.length; this.#next++) {
      if (Atomics.compareExchange(claims, this.#next, 0, thread + 1) === 0) return this.#next++;
    }
    return -1;
  }

  /** Which thread claimed section `i` (−1: nobody yet). */
  owner(i: number): number {
    return Atomics.load(this.#claims, i) - 1;
  }

  /** The threads other than the calling one (0) that claimed a section, each once. */
  otherOwners(): number[] {
    const owners = new Set<number>();
    for (let i = 0; i < this.#claims.length; i++) owners.add(this.owner(i));
    return [...owners].filter((t) => t > 0);
  }

  /** The calling thread starts. */
  start(): void {
    this.#pace[0] = performance.timeOrigin + performance.now();
  }

  /** The calling thread has scanned `bytes` more. */
  advance(bytes: number): void {
    this.#pace[1] = (this.#pace[1] as number) + bytes;
  }

  /**
   * Whether the other threads should leave the sections to the calling thread: it is going at
   * {@link FAST_PACE} or faster. (A torn read of the pace could only change who scans.)
   */
  callerIsFast(): boolean {
    const elapsed = performance.timeOrigin + performance.now() - (this.#pace[0] as number);
    const scanned = this.#pace[1] as number;
    return scanned > 0 && elapsed > 0 && scanned / elapsed >= FAST_PACE;
  }
}

/** What the scan of one section of a seed found, on its own. @internal */
export interface SectionResult {
  /**
   * The blocks the section found: block, offset, … in the order found, each block once, at its
   * first match in the section.
   */
  readonly found: Float64Array;
  /**
   * The jumps after new matches (see ScanContext.onJump): from, to, n, then n blocks found (at
   * most 64), per jump.
   */
  readonly jumps: Float64Array;
}

/**
 * Scans one section of a seed with fresh matches, as if nothing had been found before it: its
 * result depends only on the section, the seed and the index, so a worker thread or the calling
 * thread may compute it and the parallel scan's result stays the same. The thread's scanner
 * (`ctx.prefilter`) is restarted with the index's filter, which holds every block.
 *
 * `scratch` (no match recorded, and left so) holds the section's matches while it is scanned: a
 * thread keeps one for all its sections. A new one per section, and a pass over all its blocks
 * to collect them, cost 1–1.5 ms a section on the 557 MB index (27 ms of the threads' time for
 * its 19 sections); the section's finds are now its matches' log. Blocks `reported` already
 * (per block, an offset, −1 for none: what the thread's earlier sections found, at smaller
 * offsets) are left out of `found`, never out of the scan: merged, the result is the same, and
 * a block that occurs 655 360 times in a disk image is not listed again by every section.
 *
 * @internal
 */
export async function scanSection(
  ctx: Omit<ScanContext, 'matches' | 'onJump'>,
  reader: SeedReader,
  section: SeedSection,
  scratch: Matches = new Matches(ctx.index.count),
  reported?: Float64Array,
): Promise<SectionResult> {
  const jumps = new JumpLog();
  ctx.prefilter?.restart();
  scratch.startLog(reported);
  let found: Float64Array;
  try {
    await scanBlocks({ ...ctx, matches: scratch, onJump: jumps.onJump }, 0, reader, section);
  } finally {
    found = scratch.takeLog();
  }
  return { found, jumps: jumps.array() };
}

/**
 * The jumps of a scan after new matches (ScanContext.onJump): from, to, n, then n blocks found
 * (at most 64), per jump: enough to tell a chain of known blocks (no spread of a list that can be
 * a million long). See {@link forEachKnownJump}.
 *
 * @internal
 */
export class JumpLog {
  readonly #jumps: number[] = [];

  readonly onJump = (from: number, to: number, blocks: readonly number[]): void => {
    const n = Math.min(64, blocks.length);
    this.#jumps.push(from, to, n);
    for (let k = 0; k < n; k++) this.#jumps.push(blocks[k] as number);
  };

  array(): Float64Array {
    return Float64Array.from(this.#jumps);
  }
}

/**
 * Calls `window` for each jump of `jumps` (as {@link JumpLog} writes them) over a block that
 * `matches` has in seed `seedId` at an offset before `before(from)`: where one thread, knowing
 * it, would have rolled on.
 *
 * @internal
 */
export function forEachKnownJump(jumps: Float64Array, matches: Matches, seedId: number, before: (from: number) => number, window: (w: SeedSection) => void): void {
  for (let j = 0; j + 2 < jumps.length; j += 3 + (jumps[j + 2] as number)) {
    const n = jumps[j + 2] as number;
    const from = jumps[j] as number;
    const limit = before(from);
    let known = false;
    for (let q = 0; q < n && !known; q++) {
      const block = jumps[j + 3 + q] as number;
      known = (matches.seedOf[block] as number) === seedId && (matches.offsetOf[block] as number) < limit;
    }
    if (known) window({ from, to: jumps[j + 1] as number });
  }
}

/**
 * What one thread found in the sections it scanned: per block, the smallest offset any of them
 * found it at (−1: none), and the jumps of each section. Sections are disjoint ranges in seed
 * order, so the smallest offset is the first section's, whichever thread scanned which: merged
 * over all threads, the result is that of the sections in order.
 *
 * @internal
 */
export class ThreadFindings {
  /** Per block, the smallest offset found, −1 where none. */
  readonly offsetOf: Float64Array;
  /** Per section scanned: its number, the length of its jumps, then its jumps (SectionResult.jumps). */
  #jumps: number[] = [];
  #sections = 0;

  constructor(count: number) {
    this.offsetOf = new Float64Array(count).fill(-1);
  }

  /** Adds what section `section` found. */
  add(section: number, result: SectionResult): void {
    const { found } = result;
    const offsetOf = this.offsetOf;
    for (let i = 0; i + 1 < found.length; i += 2) {
      const b = found[i] as number;
      const at = found[i + 1] as number;
      const had = offsetOf[b] as number;
      if (had < 0 || at < had) offsetOf[b] = at;
    }
    this.#jumps.push(section, result.jumps.length);
    for (const v of result.jumps) this.#jumps.push(v);
    this.#sections++;
  }

  /** How many sections were added. */
  get sections(): number {
    return this.#sections;
  }

  /** The jumps of every section added, as {@link ThreadFindings.jumpsBySection} reads them. */
  get jumps(): Float64Array {
    return Float64Array.from(this.#jumps);
  }

  /** Splits `jumps` (as {@link ThreadFindings.jumps} makes them) into the jumps of each section, by section number. */
  static jumpsBySection(jumps: Float64Array, into: Float64Array[]): void {
    for (let i = 0; i + 1 < jumps.length; ) {
      const section = jumps[i] as number;
      const n = jumps[i + 1] as number;
      into[section] = jumps.subarray(i + 2, i + 2 + n);
      i += 2 + n;
    }
  }
}

/**
 * Keeps in `into`, per block, the smaller of its offset and the one in `offsetOf` (−1 in either:
 * none).
 *
 * @internal
 */
export function keepFirst(into: Float64Array, offsetOf: Float64Array): void {
  for (let b = 0; b < into.length; b++) {
    const at = offsetOf[b] as number;
    const had = into[b] as number;
    if (at >= 0 && (had < 0 || at < had)) into[b] = at;
  }
}

/**
 * Claims and scans sections on `board` as thread `thread` (0: the calling thread) with `scan`,
 * until none is left open; another thread also stops when it should leave the rest to the
 * calling thread (see SectionBoard.callerIsFast).
 *
 * @internal
 */
export async function scanClaimed(
  scan: (section: SeedSection, reported: Float64Array) => Promise<SectionResult>,
  sections: readonly SeedSection[],
  board: SectionBoard,
  thread: number,
  count: number,
): Promise<ThreadFindings> {
  const findings = new ThreadFindings(count);
  for (;;) {
    if (thread !== 0 && board.callerIsFast()) break;
    const i = board.claim(thread);
    if (i < 0) break;
    findings.add(i, await scan(sections[i] as SeedSection, findings.offsetOf));
  }
  return findings;
}
