import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { CopyPipe } from './copy-pipe.js';
import { WriteQueue } from './write-queue.js';

/** Resolves after `ticks` turns of the event loop (0: a microtask). */
async function later(ticks: number): Promise<void> {
  for (let i = 0; i < ticks; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('WriteQueue', () => {
  test.prop([fc.integer({ min: 1, max: 5 }), fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 40 })])(
    'never has more than its limit in flight, and reports every write once, after it ends',
    async (limit, delays) => {
      const queue = new WriteQueue(limit);
      let running = 0;
      let most = 0;
      const ended: number[] = [];
      const reported: number[] = [];
      for (const [i, delay] of delays.entries()) {
        await queue.add(
          async () => {
            most = Math.max(most, ++running);
            await later(delay);
            running--;
            ended.push(i);
          },
          () => {
            expect(ended).toContain(i);
            reported.push(i);
          },
        );
      }
      await queue.drain();
      expect(running).toBe(0);
      expect(most).toBeLessThanOrEqual(limit);
      expect([...reported].sort((a, b) => a - b)).toEqual(delays.map((_, i) => i));
    },
  );

  it('reports the first failure at once, throws it from the next add, and settles the others first when asked', async () => {
    const reported: unknown[] = [];
    const queue = new WriteQueue(2, (error) => reported.push(error));
    const failure = new Error('ENOSPC');
    let slowEnded = false;
    await queue.add(
      async () => {
        await later(2);
        slowEnded = true;
      },
      () => undefined,
    );
    await queue.add(
      () => Promise.reject(failure),
      () => undefined,
    );
    await later(0);
    // Reported before anything else is added or awaited: whoever feeds the queue can stop now.
    expect(reported).toEqual([failure]);
    await expect(queue.add(() => Promise.resolve(), () => undefined)).rejects.toBe(failure);
    await queue.settle();
    expect(slowEnded).toBe(true);
    await expect(queue.drain()).rejects.toBe(failure);
    expect(reported).toEqual([failure]);
  });
});

describe('CopyPipe', () => {
  test.prop([
    fc.integer({ min: 1, max: 16 }),
    fc.array(fc.record({ from: fc.nat(200), length: fc.integer({ min: 0, max: 60 }) }), { minLength: 1, maxLength: 12 }),
    fc.infiniteStream(fc.integer({ min: 0, max: 3 })),
  ])('copies what a naive copy copies, never reading into a buffer that is being written from', async (pieceSize, copies, delays) => {
    const source = Uint8Array.from({ length: 260 }, (_, i) => (i * 31 + 7) & 0xff);
    const expected = new Uint8Array(copies.reduce((n, c) => n + c.length, 0));
    const actual = new Uint8Array(expected.length);
    const pause = delays[Symbol.iterator]();
    const pipe = new CopyPipe(pieceSize, async (bytes, offset) => {
      const before = bytes.slice();
      await later(pause.next().value as number);
      // The bytes handed to a write stay as they were until it ends.
      expect(bytes).toEqual(before);
      actual.set(bytes, offset);
    });
    const written: [number, number][] = [];
    let to = 0;
    for (const { from, length } of copies) {
      expected.set(source.subarray(from, from + length), to);
      const read = async (offset: number, n: number, into: Uint8Array): Promise<Uint8Array> => {
        await later(pause.next().value as number);
        into.set(source.subarray(offset, offset + n));
        return into.subarray(0, n);
      };
      await pipe.copy(read, from, to, length, undefined, (start, end) => written.push([start, end]));
      to += length;
    }
    await pipe.drain();
    expect(actual).toEqual(expected);
    expect(written.reduce((n, [start, end]) => n + end - start, 0)).toBe(expected.length);
  });

  it('when a read fails while a write is in flight, waits for that write before it throws', async () => {
    const failure = new Error('EIO');
    let running = 0;
    let reads = 0;
    const pipe = new CopyPipe(4, async () => {
      running++;
      await later(3);
      running--;
    });
    const read = async (offset: number, n: number, into: Uint8Array): Promise<Uint8Array> => {
      if (++reads === 2) throw failure;
      await later(0);
      return into.subarray(0, n);
    };
    await expect(pipe.copy(read, 0, 0, 40, undefined, () => undefined)).rejects.toBe(failure);
    expect(running).toBe(0);
  });

  it('throws a failed write', async () => {
    const failure = new Error('EIO');
    let calls = 0;
    const pipe = new CopyPipe(4, async () => {
      await later(1);
      if (++calls === 2) throw failure;
    });
    const read = (offset: number, n: number, into: Uint8Array): Promise<Uint8Array> => Promise.resolve(into.subarray(0, n));
    await expect(pipe.copy(read, 0, 0, 40, undefined, () => undefined)).rejects.toBe(failure);
  });

  it('stops at an abort between pieces', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    let reads = 0;
    const pipe = new CopyPipe(4, () => Promise.resolve());
    const read = (offset: number, n: number, into: Uint8Array): Promise<Uint8Array> => {
      if (++reads === 3) controller.abort(reason);
      return Promise.resolve(into.subarray(0, n));
    };
    await expect(pipe.copy(read, 0, 0, 40, controller.signal, () => undefined)).rejects.toBe(reason);
    expect(reads).toBe(3);
  });
});
