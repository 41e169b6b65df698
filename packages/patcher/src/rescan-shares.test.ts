import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { Matches } from './matches.js';
import { packShareResults, packShares, recordShares, shareRescans, shareWindows, unpackShareResults, type ShareResult } from './rescan-shares.js';
import type { SeedSection } from './scan.js';
import { pseudoRandom } from './test-support.js';

const arbWindows = fc.array(fc.integer({ min: 1, max: 1 << 21 }), { maxLength: 40 }).map((lengths) => {
  let at = 0;
  return lengths.map((n) => {
    const w = { from: at + 7, to: at + 7 + n };
    at = w.to;
    return w;
  });
});

describe('shareRescans', () => {
  test.prop([arbWindows, fc.integer({ min: 1, max: 5 })])('deals consecutive windows into shares of about equal bytes, a few per thread, few windows to one', (windows, threads) => {
    const shares = shareRescans(windows, threads);
    const bytes = (list: readonly SeedSection[]): number => list.reduce((n, w) => n + (w.to - w.from), 0);
    const total = bytes(windows);
    // All of them, in order.
    expect(shares.flat()).toEqual(windows);
    expect(shares[0]).toBeDefined();
    for (const share of shares.slice(1)) expect(share.length).toBeGreaterThan(0);
    if (total < 2 << 20 || threads === 1) expect(shares).toHaveLength(1);
    else expect(shares.length).toBeLessThanOrEqual(Math.min(4 * threads, windows.length));
    // Each share at most its part of the bytes plus one window.
    const largest = Math.max(0, ...windows.map((w) => w.to - w.from));
    for (const share of shares) expect(bytes(share)).toBeLessThanOrEqual(total / shares.length + largest);
    expect(shareRescans(windows, threads)).toEqual(shares);
  });
});

describe('packShares and the results', () => {
  test.prop([arbWindows, fc.integer({ min: 2, max: 4 })])('carry every share’s windows, and every result, to the other side and back', (windows, threads) => {
    const shares = shareRescans(windows, threads);
    const packed = packShares(shares);
    expect(packed.shareStarts).toHaveLength(shares.length + 1);
    const back = shares.map((_, s) => [...shareWindows(packed, s)]);
    expect(back).toEqual(shares);
    // Results of some of the shares, in any order, land by share number.
    const results: [number, ShareResult][] = shares.map((_, s) => [s, { found: Float64Array.from([s, 10 * s, s + 1, 10 * s + 1].slice(0, s % 3 === 0 ? 0 : 4)), jumps: Float64Array.from(Array.from({ length: s % 4 }, (_, k) => 100 * s + k)) }]);
    const mine = results.filter(([s]) => s % 2 === 0).reverse();
    const theirs = results.filter(([s]) => s % 2 === 1);
    const into: ShareResult[] = [];
    unpackShareResults(packShareResults(mine), into);
    unpackShareResults(packShareResults(theirs), into);
    expect(into.map((r) => ({ found: Array.from(r.found), jumps: Array.from(r.jumps) }))).toEqual(results.map(([, r]) => ({ found: Array.from(r.found), jumps: Array.from(r.jumps) })));
  });
});

describe('recordShares', () => {
  // Shares in seed order, each finding blocks at offsets inside its own stretch, with a jump
  // after each block it found.
  const arbShares = fc.record({ count: fc.integer({ min: 1, max: 30 }), shares: fc.integer({ min: 1, max: 4 }), seed: fc.integer() }).map(({ count, shares, seed }) => {
    const random = pseudoRandom(count * shares * 3 + 8, seed);
    let r = 0;
    const next = (): number => random[r++ % random.length] as number;
    return {
      count,
      shares: Array.from({ length: shares }, (_, s): ShareResult => {
        const found: number[] = [];
        const jumps: number[] = [];
        for (let b = 0; b < count; b++) {
          if (next() % 3 !== 0) continue;
          const at = 1000 * s + (next() % 1000);
          found.push(b, at);
          jumps.push(at + 1, at + 50, 1, b);
        }
        return { found: Float64Array.from(found), jumps: Float64Array.from(jumps) };
      }),
    };
  });

  test.prop([arbShares])('records the shares in order and looks again where a share jumped over an earlier one’s block', ({ count, shares }) => {
    const matches = new Matches(count);
    // Another seed's block stays.
    matches.record(0, 0, 5);
    const again = recordShares(shares, 1, matches);
    const expected = new Matches(count);
    expected.record(0, 0, 5);
    const firstShareOf = new Map<number, number>();
    for (const [s, share] of shares.entries()) {
      for (let i = 0; i + 1 < share.found.length; i += 2) {
        if (expected.record(share.found[i] as number, 1, share.found[i + 1] as number)) firstShareOf.set(share.found[i] as number, s);
      }
    }
    expect(Array.from(matches.seedOf)).toEqual(Array.from(expected.seedOf));
    expect(Array.from(matches.offsetOf)).toEqual(Array.from(expected.offsetOf));
    // Exactly the jumps over a block an earlier share found.
    const expectedAgain: SeedSection[] = [];
    for (const [s, share] of shares.entries()) {
      for (let j = 0; j < share.jumps.length; j += 4) {
        const block = share.jumps[j + 3] as number;
        if ((firstShareOf.get(block) ?? Infinity) < s) expectedAgain.push({ from: share.jumps[j] as number, to: share.jumps[j + 1] as number });
      }
    }
    expect(again).toEqual(expectedAgain);
  });
});

describe('Matches.startLog and takeLog', () => {
  it('give back what was recorded since, in order, and leave the matches as they were', () => {
    const matches = new Matches(10);
    matches.record(2, 0, 20);
    matches.startLog();
    expect(matches.record(5, 1, 50)).toBe(true);
    expect(matches.record(2, 1, 99)).toBe(false);
    expect(matches.record(1, 1, 10)).toBe(true);
    expect(matches.found).toBe(3);
    expect(Array.from(matches.takeLog())).toEqual([5, 50, 1, 10]);
    expect(matches.found).toBe(1);
    expect(Array.from(matches.seedOf)).toEqual([-1, -1, 0, -1, -1, -1, -1, -1, -1, -1]);
    expect(matches.offsetOf[2]).toBe(20);
    // No log any more: later records stay, and an empty log takes nothing back.
    matches.record(7, 0, 70);
    expect(Array.from(matches.takeLog())).toEqual([]);
    expect(matches.has(7)).toBe(true);
  });

  it('log any number of records, one log after another', () => {
    const matches = new Matches(5000);
    for (const n of [3000, 10, 0, 4999]) {
      matches.startLog();
      const want: number[] = [];
      for (let b = 0; b < n; b++) {
        matches.record(b, 0, 10 * b);
        want.push(b, 10 * b);
      }
      expect(Array.from(matches.takeLog())).toEqual(want);
      expect(matches.found).toBe(0);
    }
  });
});
