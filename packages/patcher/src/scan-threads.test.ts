import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { planPatch } from './patch.js';
import { endScanThreads, ScanThreadPool, scanThreads, startScanThreads } from './scan-threads.js';
import { applyEdits, indexOf, pseudoRandom, text } from './test-support.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gosync-threads-'));
});
afterAll(async () => {
  await scanThreads.end();
  await rm(dir, { recursive: true, force: true });
});

/** A thread that waits for messages, like a scan thread between jobs. */
function waiting(): Worker {
  return new Worker('require("node:worker_threads").parentPort.on("message", () => {});', { eval: true });
}

/** Records the threads the shared pool hands out (scans take them out of the arrays it returns). */
function watchTake(): { readonly threads: Worker[]; mockRestore: () => void } {
  const threads: Worker[] = [];
  const take = scanThreads.take.bind(scanThreads);
  const spy = vi.spyOn(scanThreads, 'take').mockImplementation((count) => {
    const taken = take(count);
    threads.push(...taken);
    return taken;
  });
  return { threads, mockRestore: () => { spy.mockRestore(); } };
}

/**
 * Waits for the shared pool's threads to be back (a thread that claimed no section answers when
 * it gets there: a new one may take seconds on a loaded CI machine), and ends them.
 */
async function settled(): Promise<void> {
  await allBack();
  await scanThreads.end();
}

/** Waits for every thread lent to a scan to be back in the pool (see settled). */
async function allBack(): Promise<void> {
  await vi.waitFor(() => { expect(scanThreads.lent).toBe(0); }, { timeout: 15_000 });
}

function exited(thread: Worker): Promise<number> {
  return new Promise((resolve) => thread.once('exit', resolve));
}

describe('ScanThreadPool', () => {
  it('hands back the threads given to it, newest first, and starts new ones for the rest', async () => {
    let started = 0;
    const pool = new ScanThreadPool(() => {
      started++;
      return waiting();
    });
    const [a, b] = pool.take(2);
    expect(started).toBe(2);
    pool.give(a!);
    pool.give(b!);
    expect(pool.idle).toBe(2);
    const again = pool.take(3);
    expect(again.slice(0, 2)).toEqual([b, a]);
    expect(started).toBe(3);
    expect(pool.idle).toBe(0);
    for (const t of again) pool.give(t);
    const ends = again.map(exited);
    await pool.end();
    expect(pool.idle).toBe(0);
    await Promise.all(ends);
  });

  it('lets go of a thread that exited, idle or not', async () => {
    const pool = new ScanThreadPool(waiting);
    const [a, b] = pool.take(2);
    expect(pool.lent).toBe(2);
    await a!.terminate();
    expect(pool.lent).toBe(1);
    pool.give(a!);
    expect(pool.idle).toBe(0);
    pool.give(b!);
    expect(pool.idle).toBe(1);
    expect(pool.lent).toBe(0);
    await b!.terminate();
    expect(pool.idle).toBe(0);
    // Nor does it keep a thread it did not lend.
    const stranger = waiting();
    pool.give(stranger);
    expect(pool.idle).toBe(0);
    const [c] = pool.take(1);
    expect(c).not.toBe(b);
    expect(c).not.toBe(stranger);
    await Promise.all([c!.terminate(), stranger.terminate(), pool.end()]);
  });

  it('ends idle threads after the idle time, and one whose idle thread fails', async () => {
    const pool = new ScanThreadPool(waiting, 50);
    const [a] = pool.take(1);
    const end = exited(a!);
    pool.give(a!);
    await end;
    expect(pool.idle).toBe(0);
    // An error thrown in an idle thread ends it and nothing else.
    const failing = new ScanThreadPool(
      () => new Worker('require("node:worker_threads").parentPort.on("message", () => { throw new Error("boom"); });', { eval: true }),
      60_000,
    );
    const [f] = failing.take(1);
    failing.give(f!);
    const fEnd = exited(f!);
    f!.postMessage('go');
    await fEnd;
    expect(failing.idle).toBe(0);
  });

  it('never keeps a process alive with idle threads', async () => {
    // A child process that gives a thread back to a pool with an idle time of an hour, then
    // has nothing left to do: it must exit at once (execFile's timeout kills it otherwise).
    const script = join(dir, 'idle-exit.mjs');
    await writeFile(
      script,
      `const { ScanThreadPool } = await import(${JSON.stringify(new URL('./scan-threads.ts', import.meta.url).href)});
const p = new ScanThreadPool(undefined, 3600000);
const [t] = p.take(1);
await new Promise((resolve) => t.once('online', resolve));
p.give(t);
console.log('idle', p.idle);
`,
    );
    // tsx (for the TypeScript sources) resolves from this package.
    const cwd = fileURLToPath(new URL('..', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], { timeout: 20_000, cwd });
    expect(stdout.trim()).toBe('idle 1');
  }, 30_000);
});

describe('parallel scans with kept threads', () => {
  it('reuse the scan thread, with the plan a new thread gives, across seeds and indexes', async () => {
    const base = pseudoRandom(3_000_000, 41);
    const target = applyEdits(base, [
      { kind: 'insert', at: 1_200_000, bytes: text('changed here') },
      { kind: 'delete', at: 2_000_000, length: 5000 },
    ]);
    const seedPath = join(dir, 'kept.seed');
    await writeFile(seedPath, base);
    const first = await indexOf(target, { blockSize: 2048 });
    const second = await indexOf(base, { blockSize: 4096 });
    // New threads for each plan: the reference.
    const fresh = async (index: typeof first): Promise<unknown> => {
      await settled();
      return planPatch(index, { seeds: [seedPath], workers: 2 });
    };
    const expected = [await fresh(first), await fresh(second)];
    await settled();
    const taken = watchTake();
    try {
      const kept: unknown[] = [];
      for (const index of [first, second, first, first]) {
        kept.push(await planPatch(index, { seeds: [seedPath], workers: 2 }));
        // Back in the pool once it answered (a section the calling thread took is answered late).
        await allBack();
      }
      expect(kept).toEqual([expected[0], expected[1], expected[0], expected[0]]);
      // One thread served all four.
      expect(new Set(taken.threads.map((t) => t.threadId)).size).toBe(1);
      // Two seeds in one plan, three threads: the second seed's scan takes the first's threads.
      const plan = await planPatch(first, { seeds: [seedPath, seedPath], workers: 3 });
      expect(plan).toEqual(await fresh(first).then(() => planPatch(first, { seeds: [seedPath, seedPath], workers: 3 })));
    } finally {
      taken.mockRestore();
    }
  }, 60_000);

  it('terminates the threads of an aborted scan instead of keeping them', async () => {
    const seedPath = join(dir, 'abort.seed');
    await writeFile(seedPath, pseudoRandom(8_000_000, 42));
    const index = await indexOf(pseudoRandom(2_000_000, 43), { blockSize: 1024 });
    await settled();
    const taken = watchTake();
    try {
      const controller = new AbortController();
      const run = planPatch(index, {
        seeds: [seedPath],
        workers: 3,
        signal: controller.signal,
        onProgress: (e) => {
          if (e.done > 1_000_000) controller.abort(new Error('stop'));
        },
      });
      await expect(run).rejects.toThrow('stop');
      const threads = taken.threads;
      expect(threads.length).toBe(2);
      // Each ends (a hang here fails the test by its timeout), and none is kept.
      await Promise.all(threads.map((t) => (t.threadId < 0 ? Promise.resolve(0) : exited(t))));
      expect(scanThreads.idle + scanThreads.lent).toBe(0);
    } finally {
      taken.mockRestore();
    }
  }, 60_000);

  it('start ahead with startScanThreads, which the scan then takes, and end with endScanThreads', async () => {
    const seedPath = join(dir, 'ahead.seed');
    const base = pseudoRandom(2_000_000, 44);
    await writeFile(seedPath, base);
    const index = await indexOf(applyEdits(base, [{ kind: 'insert', at: 900_000, bytes: text('new') }]), { blockSize: 1024 });
    await settled();
    const taken = watchTake();
    try {
      expect(await startScanThreads({ seeds: [seedPath], workers: 3 })).toBe(2);
      expect(scanThreads.idle).toBe(2);
      const ahead = [...taken.threads];
      // Started again: the two are waiting already.
      expect(await startScanThreads({ seeds: [seedPath], workers: 3 })).toBe(2);
      expect(taken.threads).toEqual(ahead);
      const plan = await planPatch(index, { seeds: [seedPath], workers: 3 });
      expect(plan.fetchBytes).toBeLessThanOrEqual(2 * 1024);
      // The scan took the two started ahead, and no other.
      const ids = (threads: readonly Worker[]): number[] => [...new Set(threads.map((t) => t.threadId))].sort();
      expect(ids(taken.threads)).toEqual(ids(ahead));
      expect(ids(ahead)).toHaveLength(2);
    } finally {
      taken.mockRestore();
    }
    await allBack();
    await endScanThreads();
    expect(scanThreads.idle).toBe(0);
    // Nothing to start: one thread (automatic below 512 MiB), bytes instead of a file, a missing file.
    expect(await startScanThreads({ seeds: [seedPath] })).toBe(0);
    expect(await startScanThreads({ seeds: [base], workers: 2 })).toBe(0);
    expect(await startScanThreads({ seeds: [join(dir, 'missing')], workers: 2 })).toBe(0);
    expect(scanThreads.idle).toBe(0);
    await expect(startScanThreads({ seeds: [seedPath], workers: 0 })).rejects.toMatchObject({ code: 'ERR_PATCHER_INVALID_OPTION' });
  }, 60_000);
});
