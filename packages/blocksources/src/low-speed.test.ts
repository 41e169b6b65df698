// The low-speed rule on a fake clock: when it fires, and above all when it must not.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LowSpeedMeter } from './low-speed.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** A meter of `bytesPerSecond` over `seconds`, recording when (in fake ms) it fired and what it measured. */
function meter(bytesPerSecond: number, seconds: number): { m: LowSpeedMeter; fired: { at: number; measured: number }[] } {
  const fired: { at: number; measured: number }[] = [];
  const m = new LowSpeedMeter({
    bytesPerSecond,
    seconds,
    onSlow: (measured) => fired.push({ at: performance.now(), measured }),
  });
  return { m, fired };
}

/** `count` chunks of `bytes`, each after `waitMs` of waiting and followed by `holdMs` of the consumer's time. */
function feed(m: LowSpeedMeter, count: number, bytes: number, waitMs: number, holdMs = 0): void {
  for (let i = 0; i < count; i++) {
    m.resume();
    vi.advanceTimersByTime(waitMs);
    m.pause(bytes);
    vi.advanceTimersByTime(holdMs);
  }
}

describe('LowSpeedMeter', () => {
  it('fires once, one window into a drip that beats any idle timeout', () => {
    const { m, fired } = meter(1000, 1);
    const t0 = performance.now();
    feed(m, 30, 10, 100); // 100 B/s, a chunk every 100 ms
    expect(fired).toHaveLength(1);
    const [first] = fired;
    expect((first?.at ?? 0) - t0).toBeGreaterThanOrEqual(1000);
    expect((first?.at ?? 0) - t0).toBeLessThanOrEqual(1200);
    expect(first?.measured).toBeGreaterThan(50);
    expect(first?.measured).toBeLessThan(1000);
    expect(m.fired).toBe(first?.measured);
  });

  it('fires on a stall too, once the window has passed', () => {
    const { m, fired } = meter(1000, 2);
    m.resume();
    vi.advanceTimersByTime(1999);
    expect(fired).toHaveLength(0);
    vi.advanceTimersByTime(2);
    expect(fired).toHaveLength(1);
    expect(fired[0]?.measured).toBe(0);
  });

  it('never fires on a body at or above the limit', () => {
    const { m, fired } = meter(1000, 1);
    feed(m, 200, 100, 100); // exactly 1000 B/s for 20 s
    feed(m, 200, 5000, 10); // then fast
    m.resume();
    vi.advanceTimersByTime(999); // and a pause shorter than the window
    expect(fired).toHaveLength(0);
  });

  it('does not count the consumer’s time: a rate limit far below the limit never trips it', () => {
    const { m, fired } = meter(1000, 1);
    // 100 bytes a second on the wall clock, but each chunk was waiting when asked for: the
    // source's own rate limiter (or a slow disk) held the body back, not the server.
    feed(m, 60, 100, 0, 1000);
    expect(fired).toHaveLength(0);
  });

  it('judges the last window, not the whole body: a fast start then a drip fires one window into the drip', () => {
    const { m, fired } = meter(1000, 1);
    feed(m, 10, 100_000, 10); // 10 MB/s for 100 ms
    const dripStart = performance.now();
    feed(m, 30, 1, 100);
    expect(fired).toHaveLength(1);
    expect((fired[0]?.at ?? 0) - dripStart).toBeLessThanOrEqual(1200);
  });

  it('never judges a body shorter than one window, nor time before resume', () => {
    const { m, fired } = meter(1000, 1);
    vi.advanceTimersByTime(60_000); // waiting in a queue, for headers: not the body's time
    feed(m, 9, 1, 100);
    m.stop();
    vi.advanceTimersByTime(60_000);
    expect(fired).toHaveLength(0);
  });

  it('is off with a limit or a window of 0', () => {
    for (const [rate, seconds] of [
      [0, 1],
      [1000, 0],
    ] as const) {
      const { m, fired } = meter(rate, seconds);
      m.resume();
      vi.advanceTimersByTime(600_000);
      m.pause(1);
      expect(fired).toHaveLength(0);
      expect(m.bytes).toBe(1);
    }
  });

  it('rejects a negative or non-finite limit or window', () => {
    for (const [rate, seconds] of [
      [-1, 1],
      [1, -1],
      [Number.NaN, 1],
      [1, Number.POSITIVE_INFINITY],
    ] as const) {
      expect(() => new LowSpeedMeter({ bytesPerSecond: rate, seconds, onSlow: () => undefined })).toThrow(RangeError);
    }
  });

  it('watch() yields the chunks, stops the clock while the consumer holds one, and stops at the end', async () => {
    const { m, fired } = meter(1000, 1);
    const body = [new Uint8Array(10), new Uint8Array(20)];
    const iterable: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => {
        let i = 0;
        return { next: () => Promise.resolve(i < body.length ? { done: false, value: body[i++] as Uint8Array } : { done: true, value: undefined }) };
      },
    };
    let seen = 0;
    for await (const chunk of m.watch(iterable)) {
      seen += chunk.length;
      vi.advanceTimersByTime(5000); // the consumer's time
    }
    vi.advanceTimersByTime(5000);
    expect(seen).toBe(30);
    expect(m.bytes).toBe(30);
    expect(fired).toHaveLength(0);
  });
});

describe('LowSpeedMeter.describe', () => {
  it('says the measured speed, the window, the bytes and the limit', () => {
    const { m } = meter(1024, 30);
    expect(m.describe()).toBe('0 bytes received, within the low-speed limit of 1024 B/s');
    feed(m, 1, 5, 100);
    m.resume();
    vi.advanceTimersByTime(31_000);
    expect(m.describe()).toMatch(/^the body slowed to 0\.\d B\/s over the last 30 s of waiting \(5 bytes received\), below the low-speed limit of 1024 B\/s$/);
  });
});
