import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WeakSumTable, type BlockIndex } from '@gosync/index';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockCheck } from './block-check.js';
import { initOf } from './parallel-scan.js';
import type { SeedSection } from './scan.js';
import type { ScanJob, ScanPrepare, ScanReply } from './scan-worker.js';
import { CLAIM, scanSection, SectionBoard, type SectionResult } from './section-scan.js';
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

/** Sends messages in turn to one real scan worker thread and returns the jobs' final replies. */
async function inWorker(...jobs: (ScanJob | ScanPrepare)[]): Promise<ScanReply[]> {
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

describe('SectionBoard', () => {
  it('gives each section to whoever claims it first', () => {
    const board = new SectionBoard(3);
    expect(board.claim(1, CLAIM.worker)).toBe(true);
    expect(board.claim(1, CLAIM.caller)).toBe(false);
    // The same memory seen from another thread: a second board on the buffer.
    const there = new SectionBoard(board.buffer);
    expect(there.claim(2, CLAIM.caller)).toBe(true);
    expect(board.claim(2, CLAIM.worker)).toBe(false);
    expect(there.claim(1, CLAIM.caller)).toBe(false);
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

describe('scan worker', () => {
  const base = pseudoRandom(600_000, 21);
  const target = applyEdits(base, [
    { kind: 'insert', at: 250_000, bytes: text('something new') },
    { kind: 'duplicate', at: 10_000, length: 30_000, to: 500_000 },
  ]);
  const section = { from: 200_000, to: 600_000 };

  it('finds in its section exactly what the calling thread finds there', async () => {
    const seed = join(dir, 'same.seed');
    await writeFile(seed, base);
    const index = await indexOf(target, { blockSize: 1024 });
    const [reply] = await inWorker({ kind: 'scan', id: 1, indexId: 1, index: initOf(index), seed, section, board: new SectionBoard(2).buffer });
    expect(reply?.kind).toBe('done');
    if (reply?.kind !== 'done') return;
    const here = await scanHere(index, seed, section);
    expect(Array.from(reply.seedOf)).toEqual(Array.from(here.seedOf));
    expect(Array.from(reply.offsetOf)).toEqual(Array.from(here.offsetOf));
    expect(Array.from(reply.jumps)).toEqual(Array.from(here.jumps));
    // Something was found, and only in the section.
    const found = Array.from(here.offsetOf).filter((_, b) => (here.seedOf[b] as number) >= 0);
    expect(found.length).toBeGreaterThan(100);
    for (const offset of found) expect(offset).toBeGreaterThanOrEqual(section.from);
  }, 30_000);

  it('leaves a section the calling thread claimed, or one it is going through fast', async () => {
    const seed = join(dir, 'skip.seed');
    await writeFile(seed, base);
    const index = await indexOf(target, { blockSize: 1024 });
    const taken = new SectionBoard(2);
    expect(taken.claim(1, CLAIM.caller)).toBe(true);
    expect((await inWorker({ kind: 'scan', id: 1, indexId: 1, index: initOf(index), seed, section, board: taken.buffer }))[0]?.kind).toBe('skipped');
    const fast = new SectionBoard(2);
    fast.start();
    fast.advance(1e15);
    expect((await inWorker({ kind: 'scan', id: 1, indexId: 1, index: initOf(index), seed, section, board: fast.buffer }))[0]?.kind).toBe('skipped');
    // Left open for the calling thread.
    expect(fast.claim(1, CLAIM.caller)).toBe(true);
  }, 30_000);

  it('keeps the index of its last job for the next, and asks for one it was not sent', async () => {
    const seed = join(dir, 'kept.seed');
    await writeFile(seed, base);
    const first = await indexOf(target, { blockSize: 1024 });
    const second = await indexOf(base, { blockSize: 2048 });
    const job = (indexId: number, index: BlockIndex | undefined): ScanJob => ({
      kind: 'scan',
      id: 1,
      indexId,
      ...(index === undefined ? {} : { index: initOf(index) }),
      seed,
      section,
      board: new SectionBoard(2).buffer,
    });
    // Sent once, then named only; then another index, sent ahead of its job; then one no longer kept.
    const replies = await inWorker(
      job(7, first),
      job(7, undefined),
      { kind: 'prepare', indexId: 8, index: initOf(second) },
      job(8, undefined),
      job(8, undefined),
      job(7, undefined),
    );
    const [once, again, other, otherAgain, unknown] = replies;
    const here = await scanHere(first, seed, section);
    for (const reply of [once, again]) {
      expect(reply?.kind).toBe('done');
      if (reply?.kind === 'done') expect(Array.from(reply.offsetOf)).toEqual(Array.from(here.offsetOf));
    }
    const hereOther = await scanHere(second, seed, section);
    for (const reply of [other, otherAgain]) {
      expect(reply?.kind).toBe('done');
      if (reply?.kind === 'done') expect(Array.from(reply.offsetOf)).toEqual(Array.from(hereOther.offsetOf));
    }
    expect(unknown).toMatchObject({ kind: 'error', message: expect.stringContaining('index 7 was not sent') as unknown });
  }, 30_000);
});
