import { fc, test } from '@fast-check/vitest';
import { WeakSumTable, type BlockIndex } from '@gosync/index';
import { weakSum, type WeakSumFilter } from '@gosync/rollsum';
import { describe, expect, it } from 'vitest';
import { WeakSumFilter as Filter } from '@gosync/rollsum';
import { BlockCheck } from './block-check.js';
import { BlockScan } from './block-scan.js';
import { Matches } from './matches.js';
import { ScanPrefilter } from './prefilter.js';
import { scanBlocks } from './scan.js';
import { scanSection } from './section-scan.js';
import { SeedReader } from './seed-reader.js';
import { applyEdits, arbEdit, indexOf, pseudoRandom } from './test-support.js';

/** Scans `seeds` in turn against `index` with one prefilter, refreshed after `threshold` stale hits. */
/** The prefilter's rebuild: the sums of the blocks not in `matches`. */
function notFound(index: BlockIndex, matches: Matches): (filter: WeakSumFilter) => void {
  return (filter) => {
    for (let b = 0; b < index.count; b++) if (!matches.has(b)) filter.add(index.weakSums[b] as number);
  };
}

async function scanWith(index: BlockIndex, seeds: readonly Uint8Array[], threshold: number): Promise<Matches> {
  const table = new WeakSumTable(index);
  const matches = new Matches(index.count);
  const ctx = { index, table, check: await BlockCheck.create(index), matches, prefilter: new ScanPrefilter(index, table, threshold) };
  for (const [i, seed] of seeds.entries()) await scanBlocks(ctx, i, await SeedReader.open(seed, i));
  return matches;
}

describe('ScanPrefilter', () => {
  test.prop(
    [
      fc.uint8Array({ maxLength: 800 }).map((d) => d.map((x) => x & 3)),
      fc.array(arbEdit, { maxLength: 6 }),
      fc.integer({ min: 1, max: 48 }),
      fc.constantFrom('native', 'gosync'),
      fc.boolean(),
    ],
    { numRuns: 80 },
  )('finds the same blocks at the same offsets whether it refreshes at every stale hit or never', async (base, edits, blockSize, profile, twoSeeds) => {
    // A four-letter alphabet: many windows share the sums of blocks found earlier.
    const target = applyEdits(base, edits);
    const index = await indexOf(target, { profile, blockSize });
    const seeds = twoSeeds ? [base, applyEdits(target, edits)] : [base];
    const eager = await scanWith(index, seeds, 1);
    const never = await scanWith(index, seeds, Number.POSITIVE_INFINITY);
    expect(Array.from(eager.seedOf)).toEqual(Array.from(never.seedOf));
    expect(Array.from(eager.offsetOf)).toEqual(Array.from(never.offsetOf));
  });

  it('drops the sums of found blocks after `threshold` stale hits, and keeps the rest', async () => {
    const target = pseudoRandom(64 * 8, 7);
    const index = await indexOf(target, { blockSize: 64 });
    const table = new WeakSumTable(index);
    const matches = new Matches(index.count);
    const prefilter = new ScanPrefilter(index, table, 3);
    const sumOf = (b: number): number => weakSum(target.subarray(b * 64, b * 64 + 64));
    for (const b of [0, 1, 2]) matches.record(b, 0, b * 64);
    const wanted = notFound(index, matches);
    expect(prefilter.filter).toBe(table.filter);
    prefilter.onStaleHit(wanted, matches.found);
    prefilter.onStaleHit(wanted, matches.found);
    expect(prefilter.filter).toBe(table.filter);
    prefilter.onStaleHit(wanted, matches.found);
    const fresh = prefilter.filter;
    expect(fresh).not.toBe(table.filter);
    for (const b of [0, 1, 2]) expect(fresh.has(sumOf(b))).toBe(false);
    for (let b = 3; b < 8; b++) expect(fresh.has(sumOf(b))).toBe(true);
    // The next refresh refills the same filter (no new memory), without what it held before.
    for (const b of [3, 4]) matches.record(b, 0, b * 64);
    for (let i = 0; i < 3; i++) prefilter.onStaleHit(wanted, matches.found);
    expect(prefilter.filter).toBe(fresh);
    for (const b of [0, 1, 2, 3, 4]) expect(fresh.has(sumOf(b))).toBe(false);
    for (let b = 5; b < 8; b++) expect(fresh.has(sumOf(b))).toBe(true);
    // restart() goes back to the index's filter; a rebuild after it still reuses the own one.
    prefilter.restart();
    expect(prefilter.filter).toBe(table.filter);
    for (let i = 0; i < 3; i++) prefilter.onStaleHit(wanted, matches.found);
    expect(prefilter.filter).toBe(fresh);
  });

  it('keeps one scanner, reset for each scan, and rebuilds the filter first when many blocks were found meanwhile', async () => {
    const target = pseudoRandom(64 * 200, 9);
    const index = await indexOf(target, { blockSize: 64 });
    const table = new WeakSumTable(index);
    const matches = new Matches(index.count);
    const prefilter = new ScanPrefilter(index, table);
    const wanted = notFound(index, matches);
    const scanner = prefilter.scanner(wanted, 0);
    scanner.update(target.subarray(0, 100), () => undefined);
    expect(scanner.position).toBe(100);
    // 64 blocks or fewer found since: the same filter.
    for (let b = 0; b < 64; b++) matches.record(b, 0, b * 64);
    expect(prefilter.scanner(wanted, matches.found)).toBe(scanner);
    expect(scanner.position).toBe(0);
    expect(scanner.filter).toBe(table.filter);
    matches.record(64, 0, 64 * 64);
    prefilter.scanner(wanted, matches.found);
    expect(scanner.filter).not.toBe(table.filter);
    expect(scanner.filter.has(weakSum(target.subarray(0, 64)))).toBe(false);
  });

  test.prop(
    [
      fc.integer({ min: 1, max: 40 }).chain((blocks) => fc.tuple(fc.constant(blocks), fc.array(fc.boolean(), { minLength: blocks, maxLength: blocks }))),
      fc.integer({ min: 0, max: 15 }),
      fc.constantFrom('native', 'zsync'),
    ],
    { numRuns: 60 },
  )('rebuilds from the blocks a window may still match, as testing each block does', async ([blocks, found], short, profile) => {
    // A short last block (zsync pads it: it fills a window; native does not) and, for zsync,
    // two-block matching, where a found block still counts while its successor is missing.
    const target = pseudoRandom(16 * blocks - (blocks > 1 ? short : 0), blocks);
    const index = await indexOf(target, { profile, blockSize: 16 });
    const matches = new Matches(index.count);
    for (let b = 0; b < index.count; b++) if (found[b] === true) matches.record(b, 0, 16 * b);
    const table = new WeakSumTable(index);
    const scan = new BlockScan({ index, table, check: await BlockCheck.create(index), matches, onJump: undefined }, 0, 0, undefined);
    const options = { mask: table.filter.mask, bitsPerEntry: 64 };
    const fast = new Filter(index.count, options);
    scan.addWantedSums(fast);
    const slow = new Filter(index.count, options);
    for (let b = 0; b < index.count; b++) if (scan.wantedInWindow(b)) slow.add(index.weakSums[b] as number);
    expect(Array.from(fast.words)).toEqual(Array.from(slow.words));
    expect(Array.from(fast.confirm)).toEqual(Array.from(slow.confirm));
  });

  it('restarts with the index filter, so that a section scanned after another finds what it finds alone', async () => {
    // The seed holds the target twice: the second section finds every block the first found.
    const target = pseudoRandom(64 * 50, 11);
    const seed = new Uint8Array(2 * target.length);
    seed.set(target);
    seed.set(target, target.length);
    const index = await indexOf(target, { blockSize: 64 });
    const table = new WeakSumTable(index);
    const check = await BlockCheck.create(index);
    const reader = await SeedReader.open(seed, 0);
    const first = { from: 0, to: target.length };
    const second = { from: target.length, to: seed.length };
    const alone = await scanSection({ index, table, check }, reader, second);
    const shared = new ScanPrefilter(index, table, 1);
    const before = await scanSection({ index, table, check, prefilter: shared }, reader, first);
    const foundBefore = new Set<number>();
    for (let i = 0; i < before.found.length; i += 2) foundBefore.add(before.found[i] as number);
    expect(foundBefore.size).toBe(index.count);
    // Rebuilt without the blocks the first section found: all of them.
    shared.onStaleHit((filter) => {
      for (let b = 0; b < index.count; b++) if (!foundBefore.has(b)) filter.add(index.weakSums[b] as number);
    }, index.count);
    expect(shared.filter).not.toBe(table.filter);
    const after = await scanSection({ index, table, check, prefilter: shared }, reader, second);
    expect(shared.filter).toBe(table.filter);
    expect(Array.from(after.found)).toEqual(Array.from(alone.found));
    expect(after.found.length).toBe(2 * index.count);
  });

  it('held, finds in each share what a fresh thread finds, whatever shares it took before', async () => {
    // Share A finds many blocks (a rebuild mid-share would leave their sums out), then is taken
    // back; share B, from the same start, looks for some of them again.
    const target = pseudoRandom(200 * 1024, 7);
    const index = await indexOf(target, { blockSize: 1024 });
    const table = new WeakSumTable(index);
    const check = await BlockCheck.create(index);
    const reader = await SeedReader.open(target, 1);
    const shareA = [{ from: 0, to: 100 * 1024 }, { from: 150 * 1024, to: 160 * 1024 }];
    const shareB = [{ from: 50 * 1024, to: 100 * 1024 }];
    const run = async (matches: Matches, prefilter: ScanPrefilter, share: readonly { from: number; to: number }[]): Promise<number[]> => {
      matches.startLog();
      for (const w of share) await scanBlocks({ index, table, check, matches, prefilter }, 1, reader, w);
      return Array.from(matches.takeLog());
    };
    const fresh = await run(new Matches(index.count), new ScanPrefilter(index, table), shareB);
    expect(fresh.length / 2).toBeGreaterThan(40);
    const matches = new Matches(index.count);
    const held = new ScanPrefilter(index, table);
    held.hold();
    expect((await run(matches, held, shareA)).length / 2).toBeGreaterThan(90);
    expect(await run(matches, held, shareB)).toEqual(fresh);
    // Not held, the filter rebuilt in share A leaves out what A found: share B misses them.
    const plain = new ScanPrefilter(index, table);
    const other = new Matches(index.count);
    await run(other, plain, shareA);
    expect((await run(other, plain, shareB)).length).toBeLessThan(fresh.length);
  });
});
