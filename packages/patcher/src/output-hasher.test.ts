import { createHash } from 'node:crypto';
import { mkdtemp, rm, truncate, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fc, test } from '@fast-check/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutputFile } from './output-file.js';
import { createOutputHasher } from './output-hasher.js';
import { pseudoRandom } from './test-support.js';
import { WrittenFrontier } from './written-frontier.js';

describe('WrittenFrontier', () => {
  it('follows writes that finish out of order', () => {
    const f = new WrittenFrontier();
    expect(f.mark(10, 20)).toBe(0);
    expect(f.mark(30, 40)).toBe(0);
    expect(f.mark(0, 10)).toBe(20);
    expect(f.mark(20, 30)).toBe(40);
    expect(f.mark(40, 40)).toBe(40);
    expect(f.upTo).toBe(40);
  });

  test.prop([fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 60 }), fc.infiniteStream(fc.nat())])(
    'is the longest written prefix after every write, whatever the order (against a byte map)',
    (lengths, picks) => {
      const ranges: [number, number][] = [];
      let at = 0;
      for (const n of lengths) ranges.push([at, (at += n)]);
      const written = new Uint8Array(at);
      const f = new WrittenFrontier();
      const it = picks[Symbol.iterator]();
      while (ranges.length > 0) {
        const [start, end] = ranges.splice((it.next().value as number) % ranges.length, 1)[0] as [number, number];
        written.fill(1, start, end);
        let prefix = written.indexOf(0);
        if (prefix < 0) prefix = written.length;
        expect(f.mark(start, end)).toBe(prefix);
      }
      expect(f.upTo).toBe(at);
    },
  );
});

describe('OutputHasher', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gosync-hasher-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // Writes `data` in chunks in a shuffled order, telling the hasher how far the prefix is written.
  async function writeShuffled(out: OutputFile, data: Uint8Array, hasher: { advance(upTo: number): void }, seed: number): Promise<void> {
    const chunk = 1 << 20;
    const starts: number[] = [];
    for (let s = 0; s < data.length; s += chunk) starts.push(s);
    let x = seed;
    for (let i = starts.length - 1; i > 0; i--) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const j = x % (i + 1);
      [starts[i], starts[j]] = [starts[j] as number, starts[i] as number];
    }
    const frontier = new WrittenFrontier();
    for (const s of starts) {
      const end = Math.min(data.length, s + chunk);
      await out.write(data.subarray(s, end), s);
      hasher.advance(frontier.mark(s, end));
    }
  }

  for (const mode of ['inline', 'worker'] as const) {
    it(`${mode}: hashes what was written, in any order, as SHA-256 and SHA-1`, async () => {
      const data = pseudoRandom(13 * (1 << 20) + 777, 3);
      data.fill(0, 2 << 20, 5 << 20); // zeros stay a hole in the part file: they must read back as zeros
      const out = await OutputFile.create(join(dir, `out-${mode}`), data.length);
      const hasher = createOutputHasher(out, ['sha256', 'sha1'], data.length, mode);
      try {
        await writeShuffled(out, data, hasher, 42);
        const [sha256, sha1] = await hasher.digests(data.length);
        expect(Buffer.from(sha256 as Uint8Array).toString('hex')).toBe(createHash('sha256').update(data).digest('hex'));
        expect(Buffer.from(sha1 as Uint8Array).toString('hex')).toBe(createHash('sha1').update(data).digest('hex'));
        expect(hasher.hashedOn).toBe(mode);
      } finally {
        await hasher.close();
        await out.close();
      }
    });

    it(`${mode}: a file shorter than its length fails with ERR_PATCHER_VERIFY_FAILED`, async () => {
      const data = pseudoRandom(6 << 20, 5);
      const out = await OutputFile.create(join(dir, `short-${mode}`), data.length);
      const hasher = createOutputHasher(out, ['sha256'], data.length, mode);
      try {
        await writeShuffled(out, data, hasher, 7);
        await truncate(out.path, 5 << 20);
        await expect(hasher.digests(data.length)).rejects.toMatchObject({ code: 'ERR_PATCHER_VERIFY_FAILED' });
      } finally {
        await hasher.close();
        await out.close();
      }
    });
  }

  it('worker: when the worker cannot read the file, the hashes are computed here instead', async () => {
    const data = pseudoRandom(9 << 20, 11);
    const out = await OutputFile.create(join(dir, 'vanishing'), data.length);
    // The part file's name is gone, but its open handle still reads and writes it.
    await unlink(out.path);
    const hasher = createOutputHasher(out, ['sha256'], data.length, 'worker');
    try {
      await writeShuffled(out, data, hasher, 9);
      const [sha256] = await hasher.digests(data.length);
      expect(Buffer.from(sha256 as Uint8Array).toString('hex')).toBe(createHash('sha256').update(data).digest('hex'));
      expect(hasher.hashedOn).toBe('inline');
    } finally {
      await hasher.close();
      await out.close();
    }
  });

  it('worker: an abort while waiting for the digests rejects with the reason', async () => {
    const data = pseudoRandom(5 << 20, 13);
    const out = await OutputFile.create(join(dir, 'aborted'), data.length);
    const hasher = createOutputHasher(out, ['sha256'], data.length, 'worker');
    try {
      await writeShuffled(out, data, hasher, 1);
      const reason = new Error('stop');
      await expect(hasher.digests(data.length, AbortSignal.abort(reason))).rejects.toBe(reason);
    } finally {
      await hasher.close();
      await out.close();
    }
  });
});
