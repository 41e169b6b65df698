import { Matches } from './matches.js';
import { scanBlocks, type ScanContext, type SeedSection } from './scan.js';
import type { SeedReader } from './seed-reader.js';

/**
 * Who scans a section of a parallel scan: nobody yet, its worker (which claims it when ready to
 * scan), or the calling thread (which claims the sections still open when done with its own).
 * @internal
 */
export const CLAIM = { open: 0, worker: 1, caller: 2 } as const;

/**
 * The calling thread's pace from which a worker leaves its section to the calling thread: at
 * 1 GB/s or more the data is mostly found blocks, checked in runs, and reading it is most of the
 * work; a second thread reading beside it slows both (on the 557 MB swc pair, near-identical:
 * 1.5 GB/s each against 2.9 GB/s alone). Bytes per millisecond.
 */
const FAST_PACE = 1e6;

/**
 * What the threads of one parallel scan share (one SharedArrayBuffer): a CLAIM per section and
 * the calling thread's pace on its own section. Who scans a section changes only the time, not
 * the result (see {@link scanSection}).
 *
 * @internal
 */
export class SectionBoard {
  readonly buffer: SharedArrayBuffer;
  readonly #claims: Int32Array;
  /** When the calling thread started its section (ms since the epoch), and bytes it has scanned. */
  readonly #pace: Float64Array;

  constructor(bufferOrSections: SharedArrayBuffer | number) {
    this.buffer = typeof bufferOrSections === 'number' ? new SharedArrayBuffer(16 + 4 * bufferOrSections) : bufferOrSections;
    this.#pace = new Float64Array(this.buffer, 0, 2);
    this.#claims = new Int32Array(this.buffer, 16);
  }

  /** Claims section `i` for `who`: true if it was still open. */
  claim(i: number, who: typeof CLAIM.worker | typeof CLAIM.caller): boolean {
    return Atomics.compareExchange(this.#claims, i, CLAIM.open, who) === CLAIM.open;
  }

  /** The calling thread starts its own section. */
  start(): void {
    this.#pace[0] = performance.timeOrigin + performance.now();
  }

  /** The calling thread has scanned `bytes` more of its section. */
  advance(bytes: number): void {
    this.#pace[1] = (this.#pace[1] as number) + bytes;
  }

  /**
   * Whether a worker ready to scan should leave its section to the calling thread: it is going
   * at {@link FAST_PACE} or faster. (A torn read of the pace could only change who scans.)
   */
  callerIsFast(): boolean {
    const elapsed = performance.timeOrigin + performance.now() - (this.#pace[0] as number);
    const scanned = this.#pace[1] as number;
    return scanned > 0 && elapsed > 0 && scanned / elapsed >= FAST_PACE;
  }
}

/** What the scan of one section of a seed found, on its own. @internal */
export interface SectionResult {
  /** Per block, 0 where the section has it, −1 where not. */
  readonly seedOf: Int32Array;
  /** Per block, the seed offset of its first match in the section. */
  readonly offsetOf: Float64Array;
  /**
   * The jumps after new matches (see ScanContext.onJump): from, to, n, then n blocks found (at
   * most 64), per jump.
   */
  readonly jumps: Float64Array;
}

/**
 * Scans one section of a seed with fresh matches, as if nothing had been found before it: its
 * result depends only on the section, the seed and the index, so a worker thread or the calling
 * thread may compute it and the parallel scan's result stays the same.
 *
 * @internal
 */
export async function scanSection(
  ctx: Omit<ScanContext, 'matches' | 'onJump' | 'prefilter'>,
  reader: SeedReader,
  section: SeedSection,
): Promise<SectionResult> {
  const matches = new Matches(ctx.index.count);
  const jumps: number[] = [];
  const onJump = (from: number, to: number, blocks: readonly number[]): void => {
    // At most 64 blocks a jump: enough to tell a chain of known blocks (no spread of a list
    // that can be a million long).
    const n = Math.min(64, blocks.length);
    jumps.push(from, to, n);
    for (let k = 0; k < n; k++) jumps.push(blocks[k] as number);
  };
  await scanBlocks({ ...ctx, matches, onJump, prefilter: undefined }, 0, reader, section);
  return { seedOf: matches.seedOf, offsetOf: matches.offsetOf, jumps: Float64Array.from(jumps) };
}
