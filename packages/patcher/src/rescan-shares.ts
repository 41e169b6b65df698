// The re-scans that end a parallel scan, dealt into shares that threads claim (see
// scanInParallel): how the windows are dealt, how a share's windows and results travel to and
// from a scan thread, and how the results are recorded, share by share, in order.
import type { Matches } from './matches.js';
import type { JumpHandler, SeedSection } from './scan.js';
import { forEachKnownJump, JumpLog } from './section-scan.js';

/**
 * Re-scans of a parallel scan shorter than this in all stay on the calling thread: a thread's
 * share costs a few milliseconds before it starts (the matches sent, its filter rebuilt).
 */
const SHARED_RESCANS_FROM = 2 << 20;

/** Shares of re-scans per thread: enough that the threads end at nearly the same time. */
const SHARES_PER_THREAD = 4;

/**
 * Deals the windows to look at again into shares of consecutive windows and about equal bytes,
 * {@link SHARES_PER_THREAD} per thread (at most one per window), or one share when they are few
 * ({@link SHARED_RESCANS_FROM}). The threads claim the shares as they claim sections: the bytes
 * of a window say little of its time (a window of 1.8 MB took 5–15 ms, one of 20 KB 4 ms), and
 * a thread that is handed its share starts some milliseconds after the calling thread. Depends
 * only on its arguments: each share starts from what the sections found and adds what it finds,
 * so the result does not depend on timing.
 *
 * @internal
 */
export function shareRescans(windows: readonly SeedSection[], threads: number): SeedSection[][] {
  const total = windows.reduce((n, w) => n + (w.to - w.from), 0);
  const count = total < SHARED_RESCANS_FROM || threads < 2 ? 1 : Math.max(1, Math.min(SHARES_PER_THREAD * threads, windows.length));
  const shares: SeedSection[][] = [[]];
  let done = 0;
  for (const window of windows) {
    const length = window.to - window.from;
    // A window goes to the next share when its middle is past this share's part of the bytes.
    if (shares.length < count && done + length / 2 > (shares.length * total) / count && (shares.at(-1) as SeedSection[]).length > 0) shares.push([]);
    (shares.at(-1) as SeedSection[]).push(window);
    done += length;
  }
  return shares;
}

/** What one share of re-scans found: block, offset, … (new ones only), and its jumps (as JumpLog). @internal */
export interface ShareResult {
  readonly found: Float64Array;
  readonly jumps: Float64Array;
}

/**
 * Looks again at one share's windows, in order, with `scan`, from `matches` as they are, and
 * takes back what it recorded (see Matches.takeLog), even when a window fails: returns what the
 * share found and its jumps. The calling thread and the scan threads look at their shares so.
 *
 * @internal
 */
export async function rescanShare(matches: Matches, windows: Iterable<SeedSection>, scan: (window: SeedSection, onJump: JumpHandler) => Promise<void>): Promise<ShareResult> {
  const jumps = new JumpLog();
  matches.startLog();
  let found: Float64Array;
  try {
    for (const window of windows) await scan(window, jumps.onJump);
  } finally {
    found = matches.takeLog();
  }
  return { found, jumps: jumps.array() };
}

/** The shares as a scan thread receives them: every window (from, to, …), and where each share's windows start (one more: the end). @internal */
export function packShares(shares: readonly (readonly SeedSection[])[]): { windows: Float64Array; shareStarts: Int32Array } {
  const windows = new Float64Array(2 * shares.reduce((n, share) => n + share.length, 0));
  const shareStarts = new Int32Array(shares.length + 1);
  let i = 0;
  for (const [s, share] of shares.entries()) {
    shareStarts[s] = i;
    for (const w of share) {
      windows[2 * i] = w.from;
      windows[2 * i + 1] = w.to;
      i++;
    }
  }
  shareStarts[shares.length] = i;
  return { windows, shareStarts };
}

/** Share `s`'s windows, from what {@link packShares} made. @internal */
export function* shareWindows({ windows, shareStarts }: { readonly windows: Float64Array; readonly shareStarts: Int32Array }, s: number): Generator<SeedSection> {
  for (let w = shareStarts[s] as number; w < (shareStarts[s + 1] as number); w++) yield { from: windows[2 * w] as number, to: windows[2 * w + 1] as number };
}

/**
 * The results of the shares a thread looked at, packed for the reply: per share, its number,
 * the length of its finds, its finds, the length of its jumps, its jumps.
 *
 * @internal
 */
export function packShareResults(results: readonly (readonly [number, ShareResult])[]): Float64Array {
  const out = new Float64Array(results.reduce((n, [, r]) => n + 3 + r.found.length + r.jumps.length, 0));
  let i = 0;
  for (const [s, { found, jumps }] of results) {
    out[i++] = s;
    out[i++] = found.length;
    out.set(found, i);
    i += found.length;
    out[i++] = jumps.length;
    out.set(jumps, i);
    i += jumps.length;
  }
  return out;
}

/** Reads what {@link packShareResults} packed into `into`, by share number. @internal */
export function unpackShareResults(packed: Float64Array, into: ShareResult[]): void {
  for (let i = 0; i < packed.length; ) {
    const s = packed[i] as number;
    const nFound = packed[i + 1] as number;
    const found = packed.subarray(i + 2, i + 2 + nFound);
    const nJumps = packed[i + 2 + nFound] as number;
    const jumps = packed.subarray(i + 3 + nFound, i + 3 + nFound + nJumps);
    into[s] = { found, jumps };
    i += 3 + nFound + nJumps;
  }
}

/**
 * Records what the shares found, share by share, in order: a block two shares found keeps the
 * first share's offset, the smaller one (shares are in seed order). Returns the windows to look
 * at again: a share did not know what the shares before it found, so where it matched such a
 * block and jumped (its match at `from` − 1), one thread would have rolled on, as for the
 * sections (mergeFindings).
 *
 * @internal
 */
export function recordShares(shares: readonly ShareResult[], seedId: number, matches: Matches): SeedSection[] {
  for (const { found } of shares) {
    for (let i = 0; i + 1 < found.length; i += 2) matches.record(found[i] as number, seedId, found[i + 1] as number);
  }
  const again: SeedSection[] = [];
  for (const { jumps } of shares) forEachKnownJump(jumps, matches, seedId, (from) => from - 1, (w) => again.push(w));
  return again;
}
