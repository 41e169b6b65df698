import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WeakSumTable, type BlockIndex } from '@gosync/index';
import { fc, test } from '@fast-check/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockCheck } from './block-check.js';
import { Matches } from './matches.js';
import { initOf, mergeFindings } from './parallel-scan.js';
import { packShares, unpackShareResults, type ShareResult } from './rescan-shares.js';
import { scanBlocks, type SeedSection } from './scan.js';
import type { ScanJob, ScanPrepare, ScanReply, ScanRescan } from './scan-worker.js';
import { scanSection, SectionBoard, sectionLayout, ThreadFindings, type SectionResult } from './section-scan.js';
import { SeedReader } from './seed-reader.js';
import { applyEdits, indexOf, pseudoRandom, text } from './test-support.js';
import { startPatcherWorker } from './worker-start.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gosync-section-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The message that sends a thread an index. */
function prepare(indexId: number, index: BlockIndex): ScanPrepare {
  return { kind: 'prepare', indexId, index: initOf(index) };
}

/** Sends messages in turn to one real scan worker thread and returns the jobs' final replies. */
async function inWorker(...jobs: (ScanJob | ScanPrepare | ScanRescan)[]): Promise<ScanReply[]> {
  const thread = startPatcherWorker('scan-worker');
  try {
    const replies: ScanReply[] = [];
    for (const job of jobs) {
      if (job.kind === 'prepare') {
        // No answer: the next job finds the index.
        thread.postMessage(job);
        continue;
      }
      replies.push(
        await new Promise<ScanReply>((resolve, reject) => {
          const onMessage = (reply: ScanReply): void => {
            if (reply.kind === 'progress') return;
            thread.off('message', onMessage);
            resolve(reply);
          };
          thread.on('message', onMessage);
          thread.once('error', reject);
          thread.postMessage(job);
        }),
      );
    }
    return replies;
  } finally {
    await thread.terminate();
  }
}

async function scanHere(index: BlockIndex, seed: string, section: SeedSection): Promise<SectionResult> {
  const reader = await SeedReader.open(seed, 0);
  try {
    return await scanSection({ index, table: new WeakSumTable(index), check: await BlockCheck.create(index) }, reader, section);
  } finally {
    await reader.close();
  }
}

describe('scanSection', () => {
  it('gives with one scratch for all sections what fresh matches give, and leaves the scratch empty', async () => {
    const base = pseudoRandom(300_000, 41);
    const target = applyEdits(base, [
      { kind: 'insert', at: 120_000, bytes: text('new bytes') },
      { kind: 'duplicate', at: 5_000, length: 20_000, to: 250_000 },
    ]);
    const seed = join(dir, 'scratch.seed');
    await writeFile(seed, base);
    const index = await indexOf(target, { blockSize: 1024 });
    const layout = [{ from: 0, to: 100_000 }, { from: 100_000, to: 200_000 }, { from: 200_000, to: 300_000 }];
    const scratch = new Matches(index.count);
    const reader = await SeedReader.open(seed, 0);
    try {
      const ctx = { index, table: new WeakSumTable(index), check: await BlockCheck.create(index) };
      for (const section of layout) {
        const reused = await scanSection(ctx, reader, section, scratch);
        const fresh = await scanSection(ctx, reader, section);
        expect(reused.found.length).toBeGreaterThan(100);
        expect(Array.from(reused.found)).toEqual(Array.from(fresh.found));
        expect(Array.from(reused.jumps)).toEqual(Array.from(fresh.jumps));
        expect(scratch.found).toBe(0);
        expect(scratch.seedOf.every((s) => s === -1)).toBe(true);
      }
    } finally {
      await reader.close();
    }
  });
});

describe('sectionLayout', () => {
  test.prop([fc.integer({ min: 1, max: 2 ** 40 }), fc.integer({ min: 2, max: 16 }), fc.integer({ min: 1, max: 1 << 20 })])(
    'cuts the whole seed into block-aligned sections, large ones first',
    (seedLength, threads, blockSize) => {
      fc.pre(seedLength / blockSize < 1e9);
      const sections = sectionLayout(seedLength, threads, blockSize);
      expect(sections[0]?.from).toBe(0);
      expect(sections.at(-1)?.to).toBe(seedLength);
      for (const [i, s] of sections.entries()) {
        expect(s.to).toBeGreaterThan(s.from);
        if (i > 0) expect(s.from).toBe(sections[i - 1]?.to);
        if (i < sections.length - 1) {
          expect(s.to % blockSize).toBe(0);
          // Never larger than the one before (the last one may be cut short).
          if (i > 0) expect(s.to - s.from).toBeLessThanOrEqual((sections[i - 1]?.to ?? 0) - (sections[i - 1]?.from ?? 0));
        }
      }
      // Few of them: each takes a (3 × threads)-th of what is left, down to 8 MiB (or a quarter share).
      expect(sections.length).toBeLessThanOrEqual(Math.ceil(3 * threads * Math.log(Math.max(2, seedLength / (8 << 20))) + 4 * threads + 2));
      expect(sectionLayout(seedLength, threads, blockSize)).toEqual(sections);
    },
  );

  it('keeps the smallest section at a 128th of seeds over 1 GiB', () => {
    const seedLength = 5 * 2 ** 30;
    const sizes = sectionLayout(seedLength, 2, 8192).map((s) => s.to - s.from);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(seedLength / 128);
    expect(sizes[0]).toBe(Math.ceil(seedLength / 6 / 8192) * 8192);
    expect(sizes.length).toBeLessThan(30);
  });

  it('gives 557 MB and 2 threads 19 sections, from a sixth of it down to about 8 MiB', () => {
    // The length of the old swc tarball of the benchmarks.
    const sections = sectionLayout(557_466_112, 2, 4096);
    const sizes = sections.map((s) => s.to - s.from);
    expect(sizes[0]).toBe(Math.ceil(557_466_112 / 6 / 4096) * 4096);
    expect(sizes[1]).toBe(Math.ceil((557_466_112 - (sizes[0] as number)) / 6 / 4096) * 4096);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(8 << 20);
    // The sliver left after the smallest goes with the last.
    expect(sizes.at(-1)).toBeGreaterThan(8 << 20);
    expect(sizes.at(-1)).toBeLessThan(16 << 20);
    expect(sections).toHaveLength(19);
  });
});

describe('SectionBoard', () => {
  it('gives each section to one thread, in order, whoever asks', () => {
    const board = new SectionBoard(4);
    // The same memory seen from another thread: a second board on the buffer.
    const there = new SectionBoard(board.buffer);
    expect(board.sections).toBe(4);
    expect(board.owner(0)).toBe(-1);
    expect(board.claim(0)).toBe(0);
    expect(there.claim(2)).toBe(1);
    expect(there.claim(2)).toBe(2);
    expect(board.claim(0)).toBe(3);
    expect(board.claim(0)).toBe(-1);
    expect(there.claim(2)).toBe(-1);
    expect([0, 1, 2, 3].map((i) => board.owner(i))).toEqual([0, 2, 2, 0]);
  });

  it('tells a worker the calling thread is fast only from 1 GB/s on', () => {
    const board = new SectionBoard(2);
    // Not started, then nothing scanned, then 10 bytes: nowhere near 1 GB/s.
    expect(board.callerIsFast()).toBe(false);
    board.start();
    expect(board.callerIsFast()).toBe(false);
    board.advance(10);
    expect(board.callerIsFast()).toBe(false);
    board.advance(1e15);
    expect(new SectionBoard(board.buffer).callerIsFast()).toBe(true);
  });
});

describe('mergeFindings', () => {
  // Random sections of a seed, each with blocks found at random offsets inside it and jumps; the
  // sections dealt to 1–3 threads in any way: the merge must equal recording the sections in order.
  const arbCase = fc
    .record({
      count: fc.integer({ min: 1, max: 40 }),
      cuts: fc.uniqueArray(fc.integer({ min: 1, max: 9999 }), { maxLength: 8 }),
      seed: fc.integer(),
      threads: fc.integer({ min: 1, max: 3 }),
    })
    .map(({ count, cuts, seed, threads }) => {
      const bounds = [0, ...[...cuts].sort((x, y) => x - y), 10_000];
      const sections = bounds.slice(1).map((to, i) => ({ from: bounds[i] as number, to }));
      const random = pseudoRandom(count * sections.length * 4 + 8, seed);
      let r = 0;
      const next = (): number => (random[r++ % random.length] as number);
      const results = sections.map((s): SectionResult => {
        const found: number[] = [];
        const jumps: number[] = [];
        for (let b = 0; b < count; b++) {
          if (next() % 3 !== 0) continue;
          const at = s.from + ((next() * 97) % (s.to - s.from));
          found.push(b, at);
          jumps.push(at, at + 1, 1, b);
        }
        // In the order found, which is not the blocks' order.
        const pairs: [number, number][] = [];
        for (let i = 0; i < found.length; i += 2) pairs.push([found[i] as number, found[i + 1] as number]);
        pairs.sort((x, y) => x[1] - y[1]);
        return { found: Float64Array.from(pairs.flat()), jumps: Float64Array.from(jumps) };
      });
      const owner = sections.map(() => next() % threads);
      return { count, sections, results, owner, threads };
    });

  test.prop([arbCase])('records what the sections found in order, whoever scanned them, and picks the windows to look at again', ({ count, sections, results, owner, threads }) => {
    const expected = new Matches(count);
    // Seed 0 was scanned before: what it holds stays.
    expected.record(0, 0, 12345);
    for (const r of results) for (let i = 0; i + 1 < r.found.length; i += 2) expected.record(r.found[i] as number, 1, r.found[i + 1] as number);
    const found = Array.from({ length: threads }, () => new ThreadFindings(count));
    // Each thread adds its sections in the order it claimed them (any order among its own).
    for (let k = sections.length - 1; k >= 0; k--) found[owner[k] as number]?.add(k, results[k] as SectionResult);
    const merged = new Matches(count);
    merged.record(0, 0, 12345);
    const rescans = mergeFindings(found.map((f) => ({ offsetOf: f.offsetOf, jumps: f.jumps })), sections, 1, merged);
    expect(Array.from(merged.seedOf)).toEqual(Array.from(expected.seedOf));
    expect(Array.from(merged.offsetOf)).toEqual(Array.from(expected.offsetOf));
    // Looked again exactly at the jumps of blocks an earlier section found, in section order.
    const expectedRescans: SeedSection[] = [];
    for (const [k, r] of results.entries()) {
      for (let j = 0; j < r.jumps.length; j += 4) {
        const block = r.jumps[j + 3] as number;
        if ((expected.seedOf[block] as number) === 1 && (expected.offsetOf[block] as number) < (sections[k]?.from ?? 0)) {
          expectedRescans.push({ from: r.jumps[j] as number, to: r.jumps[j + 1] as number });
        }
      }
    }
    expect(rescans).toEqual(expectedRescans);
  });
});

describe('scan worker', () => {
  const base = pseudoRandom(600_000, 21);
  const target = applyEdits(base, [
    { kind: 'insert', at: 250_000, bytes: text('something new') },
    { kind: 'duplicate', at: 10_000, length: 30_000, to: 500_000 },
  ]);
  const section = { from: 200_000, to: 600_000 };
  const sections = [{ from: 0, to: 200_000 }, section];
  /** A board on which the calling thread took the first section already. */
  const firstTaken = (): SectionBoard => {
    const board = new SectionBoard(2);
    board.claim(0);
    return board;
  };
  /** Per block, where a section scanned here found it (−1: not). */
  const offsetsOf = (here: SectionResult, count: number): number[] => {
    const offsetOf = Array<number>(count).fill(-1);
    for (let i = 0; i + 1 < here.found.length; i += 2) offsetOf[here.found[i] as number] = here.found[i + 1] as number;
    return offsetOf;
  };
  /** What a worker reports for one section scanned here. */
  const asFound = (here: SectionResult, k: number, count: number): { offsetOf: number[]; jumps: number[] } => ({
    offsetOf: offsetsOf(here, count),
    jumps: [k, here.jumps.length, ...here.jumps],
  });

  it('finds in the sections it claims exactly what the calling thread finds there', async () => {
    const seed = join(dir, 'same.seed');
    await writeFile(seed, base);
    const index = await indexOf(target, { blockSize: 1024 });
    const board = firstTaken();
    const [reply] = await inWorker(prepare(1, index), { kind: 'scan', id: 1, indexId: 1, seed, sections, board: board.buffer });
    expect(reply?.kind).toBe('done');
    if (reply?.kind !== 'done') return;
    expect(board.owner(1)).toBe(1);
    const here = await scanHere(index, seed, section);
    expect({ offsetOf: Array.from(reply.offsetOf), jumps: Array.from(reply.jumps) }).toEqual(asFound(here, 1, index.count));
    // Something was found, and only in the section.
    const found = Array.from(reply.offsetOf).filter((at) => at >= 0);
    expect(found.length).toBeGreaterThan(100);
    for (const offset of found) expect(offset).toBeGreaterThanOrEqual(section.from);
    // Both sections: the first offset of each block, and the jumps of each section.
    const [both] = await inWorker(prepare(1, index), { kind: 'scan', id: 1, indexId: 1, seed, sections, board: new SectionBoard(2).buffer });
    if (both?.kind !== 'done') throw new Error(`expected done, got ${both?.kind}`);
    const first = await scanHere(index, seed, sections[0] as SeedSection);
    const merged = Array<number>(index.count).fill(-1);
    for (const r of [first, here]) {
      for (const [b, at] of offsetsOf(r, index.count).entries()) if (at >= 0 && ((merged[b] as number) < 0 || at < (merged[b] as number))) merged[b] = at;
    }
    expect(Array.from(both.offsetOf)).toEqual(merged);
    expect(Array.from(both.jumps)).toEqual([...asFound(first, 0, index.count).jumps, ...asFound(here, 1, index.count).jumps]);
  }, 30_000);

  it('leaves the sections to a calling thread that took them all, or is going through fast', async () => {
    const seed = join(dir, 'skip.seed');
    await writeFile(seed, base);
    const index = await indexOf(target, { blockSize: 1024 });
    const taken = firstTaken();
    taken.claim(0);
    expect((await inWorker(prepare(1, index), { kind: 'scan', id: 1, indexId: 1, seed, sections, board: taken.buffer }))[0]?.kind).toBe('skipped');
    const fast = new SectionBoard(2);
    fast.start();
    fast.advance(1e15);
    expect((await inWorker(prepare(1, index), { kind: 'scan', id: 1, indexId: 1, seed, sections, board: fast.buffer }))[0]?.kind).toBe('skipped');
    // Left open for the calling thread.
    expect(fast.claim(0)).toBe(0);
    expect(fast.claim(0)).toBe(1);
  }, 30_000);

  it('keeps the index of its last job for the next, and asks for one it was not sent', async () => {
    const seed = join(dir, 'kept.seed');
    await writeFile(seed, base);
    const first = await indexOf(target, { blockSize: 1024 });
    const second = await indexOf(base, { blockSize: 2048 });
    const job = (indexId: number): ScanJob => ({ kind: 'scan', id: 1, indexId, seed, sections, board: firstTaken().buffer });
    // Sent, then sent again (the thread keeps its tables); then another index; then the first,
    // no longer kept.
    const replies = await inWorker(prepare(7, first), job(7), prepare(7, first), job(7), prepare(8, second), job(8), job(8), job(7));
    const [once, again, other, otherAgain, unknown] = replies;
    const here = asFound(await scanHere(first, seed, section), 1, first.count).offsetOf;
    for (const reply of [once, again]) {
      expect(reply?.kind).toBe('done');
      if (reply?.kind === 'done') expect(Array.from(reply.offsetOf)).toEqual(here);
    }
    const hereOther = asFound(await scanHere(second, seed, section), 1, second.count).offsetOf;
    for (const reply of [other, otherAgain]) {
      expect(reply?.kind).toBe('done');
      if (reply?.kind === 'done') expect(Array.from(reply.offsetOf)).toEqual(hereOther);
    }
    expect(unknown).toMatchObject({ kind: 'error', message: expect.stringContaining('index 7 was not sent') as unknown });
  }, 30_000);

  it('looks again at the shares it claims as the calling thread would, each from what the sections found', async () => {
    const seed = join(dir, 'rescan.seed');
    await writeFile(seed, base);
    const index = await indexOf(target, { blockSize: 1024 });
    // What the sections found: the first section's blocks only; seed 0 is another seed.
    const known = new Matches(index.count);
    known.record(0, 0, 999);
    const first = await scanHere(index, seed, sections[0] as SeedSection);
    for (let i = 0; i + 1 < first.found.length; i += 2) known.record(first.found[i] as number, 1, first.found[i + 1] as number);
    // Two shares: the first finds more blocks in its first window than make a filter rebuild
    // worth it at its second; the second share looks again where the first found them (it must
    // neither see what that share found nor miss it because the thread's filter left it out).
    const shares = [[{ from: 480_000, to: 560_000 }, { from: 560_000, to: 590_000 }], [{ from: 220_000, to: 260_000 }, { from: 480_000, to: 530_000 }]];
    /** What the calling thread finds in a share, from `known`: block, offset (sorted by block), and jumps. */
    const here = async (share: readonly SeedSection[]): Promise<{ found: number[]; jumps: number[] }> => {
      const matches = Matches.of(known.seedOf, known.offsetOf);
      const jumps: number[] = [];
      const reader = await SeedReader.open(seed, 1);
      try {
        const ctx = { index, table: new WeakSumTable(index), check: await BlockCheck.create(index), matches, onJump: (from: number, to: number, blocks: readonly number[]) => jumps.push(from, to, Math.min(64, blocks.length), ...blocks.slice(0, 64)) };
        for (const w of share) await scanBlocks(ctx, 1, reader, w);
      } finally {
        await reader.close();
      }
      const found: number[] = [];
      for (let b = 0; b < index.count; b++) if (!known.has(b) && matches.has(b)) found.push(b, matches.offsetOf[b] as number);
      return { found, jumps };
    };
    const sorted = (found: Float64Array): number[] => {
      const pairs: [number, number][] = [];
      for (let i = 0; i + 1 < found.length; i += 2) pairs.push([found[i] as number, found[i + 1] as number]);
      return pairs.sort((x, y) => x[0] - y[0]).flat();
    };
    const expected = await Promise.all(shares.map(here));
    expect(expected[0]?.found.length).toBeGreaterThan(20);
    expect(expected[1]?.found.length).toBeGreaterThan(20);
    const job = (board: SectionBoard): ScanRescan => ({ kind: 'rescan', id: 1, indexId: 3, seed, seedId: 1, seedOf: known.seedOf, offsetOf: known.offsetOf, ...packShares(shares), board: board.buffer });
    // The thread claims both shares.
    const [both] = await inWorker(prepare(3, index), job(new SectionBoard(2)));
    if (both?.kind !== 'rescanned') throw new Error(`expected rescanned, got ${both?.kind}`);
    const results: ShareResult[] = [];
    unpackShareResults(both.results, results);
    expect(results.map((r) => ({ found: sorted(r.found), jumps: Array.from(r.jumps) }))).toEqual(expected);
    // The calling thread took the first share already: the thread looks at the second alone.
    const taken = new SectionBoard(2);
    expect(taken.claim(0)).toBe(0);
    const [second] = await inWorker(prepare(3, index), job(taken));
    if (second?.kind !== 'rescanned') throw new Error(`expected rescanned, got ${second?.kind}`);
    const only: ShareResult[] = [];
    unpackShareResults(second.results, only);
    expect(only[0]).toBeUndefined();
    expect(sorted(only[1]?.found ?? new Float64Array())).toEqual(expected[1]?.found);
    expect(taken.owner(1)).toBe(1);
  }, 30_000);
});
