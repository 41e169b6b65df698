import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WeakSumTable } from '@gosync/index';
import { WeakSumFilter } from '@gosync/rollsum';
import { describe, expect, it } from 'vitest';
import { BlockCheck } from './block-check.js';
import { PairScanMemory } from './pair-scan-memory.js';
import { scanSection } from './section-scan.js';
import { SeedReader } from './seed-reader.js';
import { applyEdits, indexOf, pseudoRandom, text } from './test-support.js';

describe('PairScanMemory', () => {
  it('keeps its kernel for the same filter, mask, slice and block size, and its buffers while long enough', () => {
    const memory = new PairScanMemory();
    const filter = new WeakSumFilter(100);
    const kernel = memory.kernel(filter, 0xffff, 1024, 64);
    expect(memory.kernel(filter, 0xffff, 1024, 64)).toBe(kernel);
    // A filter changed since: a new copy.
    filter.add(12345);
    const changed = memory.kernel(filter, 0xffff, 1024, 64);
    expect(changed).not.toBe(kernel);
    expect(memory.kernel(filter, 0xffff, 1024, 64)).toBe(changed);
    for (const other of [memory.kernel(new WeakSumFilter(100), 0xffff, 1024, 64), memory.kernel(filter, 0xffffff, 1024, 64), memory.kernel(filter, 0xffff, 2048, 64), memory.kernel(filter, 0xffff, 1024, 128)]) {
      expect(other).not.toBe(kernel);
    }
    const [a, b] = memory.buffers(1000);
    expect(a.length).toBe(1000);
    expect(b).not.toBe(a);
    expect(memory.buffers(10)[0]).toBe(a);
    expect(memory.buffers(1000)[1]).toBe(b);
    expect(memory.buffers(1001)[0].length).toBe(1001);
  });

  it('gives a .zsync scan of sections and windows, big and small in turn, what fresh memory gives', async () => {
    // Truncated sums and two-block matching: the pair scan.
    const base = pseudoRandom(3_000_000, 51);
    const target = applyEdits(base, [
      { kind: 'insert', at: 400_000, bytes: text('new') },
      { kind: 'delete', at: 1_700_000, length: 5000 },
      { kind: 'duplicate', at: 20_000, length: 40_000, to: 2_900_000 },
    ]);
    const index = await indexOf(target, { profile: 'zsync', blockSize: 2048 });
    expect(index.seqMatches).toBe(2);
    // A file seed: its pieces are read into the memory's buffers.
    const dir = await mkdtemp(join(tmpdir(), 'gosync-pair-memory-'));
    const seed = join(dir, 'seed');
    await writeFile(seed, base);
    const reader = await SeedReader.open(seed, 0);
    const ctx = { index, table: new WeakSumTable(index), check: await BlockCheck.create(index) };
    const memory = new PairScanMemory();
    // Larger than a 2 MiB piece, then a few kilobytes, then mid-sized, then all of it.
    const stretches = [{ from: 0, to: 2_500_000 }, { from: 2_890_000, to: 2_900_000 }, { from: 390_000, to: 900_000 }, { from: 0, to: base.length }];
    for (const stretch of stretches) {
      const reused = await scanSection({ ...ctx, pairMemory: memory }, reader, stretch);
      const fresh = await scanSection(ctx, reader, stretch);
      expect(Array.from(reused.found), `${stretch.from}–${stretch.to}`).toEqual(Array.from(fresh.found));
      expect(Array.from(reused.jumps)).toEqual(Array.from(fresh.jumps));
    }
    expect((await scanSection({ ...ctx, pairMemory: memory }, reader, { from: 0, to: base.length })).found.length).toBeGreaterThan(2 * 1400);
    await reader.close();
    await rm(dir, { recursive: true, force: true });
  }, 30_000);
});
