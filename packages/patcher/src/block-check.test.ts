import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { createStrongHasher, type BlockIndex } from '@gosync/index';
import { BlockCheck } from './block-check.js';
import { indexOf, pseudoRandom } from './test-support.js';

/**
 * The naive model: block by block, each hashed on its own by hash-wasm (not by a kernel) and
 * compared with the index.
 */
async function naiveRun(index: BlockIndex, first: number, bytes: Uint8Array, maxBlocks: number): Promise<number> {
  const hasher = await createStrongHasher(index.strongHash);
  const w = index.blockSize;
  let n = 0;
  while (n < maxBlocks && first + n < index.count && (n + 1) * w <= bytes.length && index.strongHashMatches(first + n, hasher.init().update(bytes.subarray(n * w, (n + 1) * w)).digest())) n++;
  return n;
}

describe('BlockCheck.matchRun', () => {
  test.prop(
    [
      fc.constantFrom(
        { blockSize: 256 }, // xxh128 in WebAssembly (blocks of more than 240 bytes)
        { blockSize: 2048, hashLengths: 'full' as const },
        { blockSize: 128 }, // xxh128 through hash-wasm
        { profile: 'zsync' as const, blockSize: 512 }, // md4, truncated
      ),
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: 45 }),
      fc.option(fc.integer({ min: 0, max: 50 * 2048 }), { nil: undefined }),
      fc.integer({ min: 0, max: 1000 }),
    ],
    { numRuns: 60 },
  )('equals checking block by block, wherever a run starts and breaks', async (options, first, maxBlocks, flip, seed) => {
    const target = pseudoRandom(40 * options.blockSize + 100, seed);
    const index = await indexOf(target, options);
    const check = await BlockCheck.create(index);
    const w = index.blockSize;
    const bytes = target.slice(Math.min(first, index.count) * w);
    if (flip !== undefined && flip < bytes.length) bytes[flip] = (bytes[flip] as number) ^ 0x80;
    expect(check.matchRun(first, bytes, maxBlocks)).toBe(await naiveRun(index, first, bytes, maxBlocks));
  });

  it.each([
    ['xxh128', { blockSize: 512 }],
    ['md4 (.zsync)', { profile: 'zsync' as const, blockSize: 512, hashLengths: 'full' as const }],
  ])('counts a whole run of hundreds of blocks, across its batches: %s, against the hashes the index was built with', async (_, options) => {
    const target = pseudoRandom(700 * 512, 5);
    const index = await indexOf(target, options);
    const check = await BlockCheck.create(index);
    expect(check.matchRun(0, target, 10_000)).toBe(700);
    expect(check.matchRun(1, target.subarray(512), 10_000)).toBe(699);
    const changed = target.slice();
    changed[600 * 512 + 3] = (changed[600 * 512 + 3] as number) ^ 1;
    expect(check.matchRun(0, changed, 10_000)).toBe(600);
    expect(check.matchRun(0, target, 333)).toBe(333);
  });

  it('hashes a zero-padded short last block as the index did (zsync layout)', async () => {
    const target = pseudoRandom(3 * 512 + 300, 9);
    const index = await indexOf(target, { profile: 'zsync', blockSize: 512 });
    const check = await BlockCheck.create(index);
    expect(check.matches(3, target.subarray(3 * 512))).toBe(true);
  });
});
