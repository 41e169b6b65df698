import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PIECE, SeedReader } from './seed-reader.js';
import { pseudoRandom } from './test-support.js';

const MiB = 1 << 20;

describe('SeedReader.pieces (file seeds read one piece ahead)', () => {
  let dir: string;
  const bytes = pseudoRandom(10 * MiB + 12345, 7);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gosync-seed-reader-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('yields [from, to) in order, each piece intact when it is yielded', async () => {
    const path = join(dir, 'seed');
    await writeFile(path, bytes);
    const reader = await SeedReader.open(path, 0);
    try {
      for (const [from, to] of [[0, bytes.length], [1, 2 * PIECE + 1], [PIECE - 3, 4 * PIECE + 5], [7, 7], [bytes.length - 10, bytes.length + 100]] as const) {
        const want = bytes.subarray(from, Math.min(to, bytes.length));
        let at = 0;
        for await (const piece of reader.pieces(undefined, from, to)) {
          // Compared before asking for the next piece, which may reuse a buffer.
          expect(Buffer.compare(piece, want.subarray(at, at + piece.length)), `piece at ${from + at}`).toBe(0);
          at += piece.length;
        }
        expect(at).toBe(want.length);
      }
    } finally {
      await reader.close();
    }
  });

  it('a seed cut short while reading fails with ERR_PATCHER_SEED naming where it ended', async () => {
    const path = join(dir, 'shrinking');
    await writeFile(path, bytes);
    const reader = await SeedReader.open(path, 0);
    const cut = 2 * PIECE + PIECE / 2;
    await truncate(path, cut);
    try {
      const seen: number[] = [];
      const run = async (): Promise<void> => {
        for await (const piece of reader.pieces()) seen.push(piece.length);
      };
      await expect(run()).rejects.toMatchObject({ code: 'ERR_PATCHER_SEED', message: expect.stringContaining(`ended at ${cut}`) as unknown });
      expect(seen).toEqual([PIECE, PIECE]);
    } finally {
      await reader.close();
    }
  });

  it('stopping early while the next read fails leaves nothing unhandled', async () => {
    const path = join(dir, 'early');
    await writeFile(path, bytes);
    const reader = await SeedReader.open(path, 0);
    await truncate(path, PIECE + 10);
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => {
      unhandled.push(e);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      for await (const piece of reader.pieces()) {
        expect(piece.length).toBe(PIECE);
        // The read of the second piece fails while this one is being looked at.
        await new Promise((r) => setTimeout(r, 50));
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await reader.close();
    }
  });
});

describe('SeedReader.read (either way: on the calling thread, small or `here`, or on the thread pool)', () => {
  let dir: string;
  const bytes = pseudoRandom(3 * MiB + 777, 11);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gosync-seed-read-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives the bytes asked for, clamped to the end, by either way, into a buffer given or not', async () => {
    const path = join(dir, 'seed');
    await writeFile(path, bytes);
    const reader = await SeedReader.open(path, 0);
    try {
      for (const [offset, length] of [[0, 1], [5, 4096], [MiB - 3, (256 << 10) + 1], [123, 2 * MiB], [bytes.length - 10, 1000], [bytes.length, 5]] as const) {
        const want = bytes.subarray(offset, Math.min(bytes.length, offset + length));
        for (const here of [false, true]) {
          expect(Buffer.compare(await reader.read(offset, length, undefined, here), want), `${offset}+${length}`).toBe(0);
          const into = new Uint8Array(length + 7).fill(0xee);
          expect(Buffer.compare(await reader.read(offset, length, into, here), want), `${offset}+${length} into`).toBe(0);
        }
      }
    } finally {
      await reader.close();
    }
  });

  it('a seed cut short fails with ERR_PATCHER_SEED naming where it ended, by either way', async () => {
    const path = join(dir, 'shrinking');
    await writeFile(path, bytes);
    const reader = await SeedReader.open(path, 0);
    const cut = MiB + 100;
    await truncate(path, cut);
    try {
      for (const [offset, length, here] of [[cut - 10, 4096, false], [cut - 10, 2 * MiB, false], [0, 2 * MiB, true]] as const) {
        await expect(reader.read(offset, length, undefined, here)).rejects.toMatchObject({
          code: 'ERR_PATCHER_SEED',
          message: expect.stringContaining(`ended at ${cut}`) as unknown,
        });
      }
    } finally {
      await reader.close();
    }
  });

  it('a failing read is ERR_PATCHER_SEED naming the seed and offset, by either way', async () => {
    const path = join(dir, 'closed');
    await writeFile(path, bytes);
    const reader = await SeedReader.open(path, 0);
    await reader.close();
    for (const length of [4096, 2 * MiB]) {
      await expect(reader.read(4096, length)).rejects.toMatchObject({
        code: 'ERR_PATCHER_SEED',
        message: expect.stringContaining(`cannot read seed ${path} at offset 4096`) as unknown,
      });
    }
  });
});
