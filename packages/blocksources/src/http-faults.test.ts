// The fault matrix: HttpSource against a server that misbehaves in every way a CDN or proxy can.
// Each fault ends in byte-exact data or a typed error that names the status, URL and range;
// none may hang (every test has a bound far below vitest's) or spin (request counts are bounded).
import { bytesEqual, isGosyncError } from '@gosync/core';
import { pseudoRandomBytes } from '@gosync/testkit';
import { startFaultServer } from '@gosync/testkit/fault-server';
import type { Fault, FaultServer } from '@gosync/testkit/fault-server';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { HttpSource } from './http-source.js';
import type { HttpSourceOptions } from './http-source.js';
import { expectExact, fetchError, spreadRanges, verifierOf } from './test-http.js';

// Timeout faults wait out undici's coarse timers (about a second each, four attempts): allow
// for a loaded machine. A hang still fails, at 20 s.
vi.setConfig({ testTimeout: 20_000 });

const SIZE = 1_000_000;
const file = pseudoRandomBytes(SIZE, 0xfa17);
const ranges = spreadRanges(SIZE, 40, 3000);
/** Fast retries and short timeouts, so that the matrix runs in seconds. */
const quick = {
  retries: { count: 3, baseDelay: 5, maxDelay: 20 },
  timeouts: { connect: 2000, firstByte: 500, idle: 300, request: 5000 },
} as const;

let server: FaultServer;
let url: string;
const sources: HttpSource[] = [];
function source(options: Partial<HttpSourceOptions> = {}): HttpSource {
  const s = new HttpSource({ urls: [url], verifier: verifierOf(file), ...quick, ...options });
  sources.push(s);
  return s;
}

beforeAll(async () => {
  server = await startFaultServer();
  url = `${server.url}/file.bin`;
});
afterEach(async () => {
  server.plan();
  server.setDefault(undefined);
  server.setMultipartStyle({});
  server.onRequest(undefined);
  server.setFile('/file.bin', file);
  server.resetCounters();
  await Promise.all(sources.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await server.close();
});

describe('answers that still give byte-exact data', () => {
  beforeAll(() => {
    server.setFile('/file.bin', file);
  });

  it.each<[string, Fault]>([
    ['one part for a multi-range request', { kind: 'single-part' }],
    ['200 to multi-range requests', { kind: 'refuse-multi', status: 200 }],
    ['416 to multi-range requests', { kind: 'refuse-multi', status: 416 }],
    ['501 to multi-range requests', { kind: 'refuse-multi', status: 501 }],
  ])('%s: backs off to fewer ranges per request and remembers it', async (_name, fault) => {
    server.setDefault(fault);
    const s = source();
    await expectExact(s, ranges, file);
    const afterFirst = server.requests;
    server.resetCounters();
    await expectExact(s, ranges, file);
    // The second fetch starts at the learnt limit. That limit may still be one step above what
    // the server takes (when no request needed more ranges after the last refusal), so at most
    // one more refusal, never the first fetch's cascade.
    expect(server.log.filter((l) => l.status !== 206).length).toBeLessThanOrEqual(1);
    expect(server.requests).toBeLessThanOrEqual(ranges.length);
    expect(afterFirst).toBeLessThanOrEqual(ranges.length + 12);
  });

  it('a server that ignores Range: reads the whole body once and cuts every range out of it', async () => {
    server.setDefault({ kind: 'ignore-range' });
    const s = source({ maxRangesPerRequest: 1 });
    await expectExact(s, ranges, file);
    // Several requests were in flight when the first 200 came; they join the one stream.
    expect(s.stats.bytesDelivered).toBe(40 * 3000);
    expect(server.log.every((l) => l.status === 200)).toBe(true);
    expect(server.requests).toBeLessThanOrEqual(6);
  });

  it("a server that ignores Range, with wholeBody 'fail': a typed error", async () => {
    server.setDefault({ kind: 'ignore-range' });
    const e = await fetchError(source({ wholeBody: 'fail', maxRangesPerRequest: 1 }), ranges.slice(0, 1));
    expect(isGosyncError(e, 'ERR_BLOCKSOURCE_RANGES_UNSUPPORTED')).toBe(true);
    expect(e.message).toContain(url);
  });

  // Each fault hits the first two requests, except bad bytes: one re-fetch is allowed per mirror.
  it.each<[string, Fault]>([
    ['a connection reset mid-body', { kind: 'reset', afterBytes: 5000 }],
    ['a truncated body', { kind: 'truncate', afterBytes: 5000 }],
    ['bytes shifted inside a range', { kind: 'shift', by: 1 }],
    ['a wrong Content-Range', { kind: 'wrong-content-range', by: 10 }],
    ['503 with Retry-After', { kind: 'status', status: 503, retryAfter: '0' }],
    ['429 with Retry-After', { kind: 'status', status: 429, retryAfter: '0' }],
    ['500', { kind: 'status', status: 500 }],
    ['a stalled response', { kind: 'stall' }],
    ['a body that drips slower than the idle timeout', { kind: 'drip', intervalMs: 1000, bytesPerTick: 100 }],
  ])('once: %s is retried', async (_name, fault) => {
    if (fault.kind === 'shift') server.plan(fault);
    else server.plan(fault, fault);
    const s = source();
    await expectExact(s, ranges, file);
    expect(s.stats.retries).toBeGreaterThanOrEqual(1);
    expect(server.requests).toBeLessThanOrEqual(12);
  });

  it('honours Retry-After before retrying', async () => {
    server.plan({ kind: 'status', status: 503, retryAfter: '1' });
    const s = source({ maxInFlight: 1 });
    const t0 = performance.now();
    await expectExact(s, ranges.slice(0, 2), file);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(950);
    expect(server.log.map((l) => l.status)).toEqual([503, 206]);
  });

  it('every multipart style: bare LF, quoted boundary, parts in reverse order', async () => {
    server.setMultipartStyle({ newline: '\n', quoteBoundary: true, reverse: true });
    const s = source();
    await expectExact(s, ranges, file);
    expect(server.log.every((l) => l.status === 206)).toBe(true);
  });

  it('follows a redirect, and resolves it once', async () => {
    server.setFile('/moved.bin', file);
    server.setDefault(undefined);
    const s = source({ urls: [`${server.url}/old.bin`], maxInFlight: 1, maxRangesPerRequest: 4 });
    server.plan({ kind: 'redirect', location: '/moved.bin' });
    await expectExact(s, ranges, file);
    const paths = server.log.map((l) => l.path);
    expect(paths[0]).toBe('/old.bin');
    expect(paths.slice(1).every((p) => p === '/moved.bin')).toBe(true);
  });

  it('fails over to the next mirror when one answers 404 or sends bad bytes', async () => {
    const other = await startFaultServer();
    try {
      other.setFile('/file.bin', file);
      server.setDefault({ kind: 'status', status: 404 });
      await expectExact(source({ urls: [url, `${other.url}/file.bin`] }), ranges, file);
      server.setDefault({ kind: 'shift', by: 3 });
      const s = source({ urls: [url, `${other.url}/file.bin`], maxInFlight: 1 });
      await expectExact(s, ranges, file);
      expect(other.requests).toBeGreaterThan(1);
    } finally {
      await other.close();
    }
  });

  it('stays within a rate limit', async () => {
    const s = source({ rateLimit: 1_000_000 });
    const t0 = performance.now();
    // 1.5 MB at 1 MB/s: the bucket starts with one second of tokens, so at least 0.4 s.
    await expectExact(s, [{ start: 0, end: SIZE }], file);
    await expectExact(s, [{ start: 0, end: SIZE / 2 }], file);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(400);
  });
});

describe('faults that must end in a typed error', () => {
  beforeAll(() => {
    server.setFile('/file.bin', file);
  });

  it.each<[string, Fault, `ERR_${string}`]>([
    ['404', { kind: 'status', status: 404 }, 'ERR_BLOCKSOURCE_HTTP_STATUS'],
    ['403', { kind: 'status', status: 403 }, 'ERR_BLOCKSOURCE_HTTP_STATUS'],
  ])('%s: fails at once, naming the status, URL and range', async (_name, fault, code) => {
    server.setDefault(fault);
    const e = await fetchError(source({ maxInFlight: 1 }), ranges);
    expect(isGosyncError(e, code)).toBe(true);
    expect(e.message).toContain(url);
    expect(e.message).toContain(`answered ${(fault as { status: number }).status}`);
    expect(e.message).toMatch(/\[\d+, \d+\)/);
    expect(server.requests).toBe(1);
  });

  it.each<[string, Fault, `ERR_${string}`]>([
    ['503 forever', { kind: 'status', status: 503, retryAfter: '0' }, 'ERR_BLOCKSOURCE_HTTP_STATUS'],
    ['a reset forever', { kind: 'reset', afterBytes: 100 }, 'ERR_BLOCKSOURCE_IO'],
    ['a wrong Content-Range forever', { kind: 'wrong-content-range', by: 10 }, 'ERR_BLOCKSOURCE_PROTOCOL'],
    ['a stall forever', { kind: 'stall' }, 'ERR_BLOCKSOURCE_TIMEOUT'],
    ['a drip forever', { kind: 'drip', intervalMs: 1000, bytesPerTick: 10 }, 'ERR_BLOCKSOURCE_TIMEOUT'],
  ])('%s: gives up after the retries, with the last failure as cause', { timeout: 20_000 }, async (_name, fault, causeCode) => {
    server.setDefault(fault);
    const e = await fetchError(source({ maxInFlight: 1 }), ranges.slice(0, 4));
    expect(isGosyncError(e, 'ERR_BLOCKSOURCE_RETRIES_EXHAUSTED')).toBe(true);
    expect(isGosyncError(e.cause, causeCode)).toBe(true);
    expect(e.message).toContain(url);
    // 1 attempt + 3 retries, bounded: no spinning.
    expect(server.requests).toBe(4);
  });

  it('bytes that keep failing verification: a typed error naming the URL and range', async () => {
    server.setDefault({ kind: 'shift', by: 1 });
    const e = await fetchError(source({ maxInFlight: 1 }), ranges.slice(0, 1));
    expect(isGosyncError(e, 'ERR_BLOCKSOURCE_VERIFY_FAILED')).toBe(true);
    expect(e.message).toContain(url);
    expect(e.message).toContain(`[${ranges[0]?.start ?? 0}, ${ranges[0]?.end ?? 0})`);
    expect(server.requests).toBeLessThanOrEqual(3);
  });

  it('a file that changes on the server mid-sync (new ETag): ERR_BLOCKSOURCE_CHANGED', async () => {
    const changed = pseudoRandomBytes(SIZE, 0xbad);
    server.onRequest((n) => {
      if (n === 2) server.setFile('/file.bin', changed);
    });
    const s = source({ maxInFlight: 1, maxRangesPerRequest: 2, verifier: undefined });
    const e = await fetchError(s, ranges);
    expect(isGosyncError(e, 'ERR_BLOCKSOURCE_CHANGED')).toBe(true);
    expect(e.message).toContain(url);
    // The second request carried If-Range with the first answer's ETag.
    expect(server.log[1]?.ifRange).toMatch(/^"/);
  });

  it('a broken cache that ignores If-Range is still caught by the new ETag', async () => {
    server.setDefault({ kind: 'ignore-if-range' });
    server.onRequest((n) => {
      if (n === 2) server.setFile('/file.bin', pseudoRandomBytes(SIZE, 0xbad));
    });
    const e = await fetchError(source({ maxInFlight: 1, maxRangesPerRequest: 2, verifier: undefined }), ranges);
    expect(isGosyncError(e, 'ERR_BLOCKSOURCE_CHANGED')).toBe(true);
  });

  it('a redirect loop: a typed error, not a hang', async () => {
    server.setDefault({ kind: 'redirect', location: '/file.bin' });
    const e = await fetchError(source({ maxInFlight: 1 }), ranges.slice(0, 1));
    expect(isGosyncError(e, 'ERR_BLOCKSOURCE_HTTP_STATUS')).toBe(true);
    expect(e.message).toContain('redirects');
    expect(server.requests).toBeLessThanOrEqual(6);
  });

  it('a connection refused: a typed error after the retries', async () => {
    const dead = await startFaultServer();
    const deadUrl = `${dead.url}/file.bin`;
    await dead.close();
    const e = await fetchError(source({ urls: [deadUrl] }), ranges.slice(0, 1));
    expect(isGosyncError(e, 'ERR_BLOCKSOURCE_RETRIES_EXHAUSTED')).toBe(true);
    expect(isGosyncError(e.cause, 'ERR_BLOCKSOURCE_IO')).toBe(true);
    expect(e.message).toContain(deadUrl);
  });

  it('aborting during a back-off wait stops at once with the reason', async () => {
    server.setDefault({ kind: 'status', status: 503, retryAfter: '30' });
    const controller = new AbortController();
    const reason = new Error('user abort');
    setTimeout(() => {
      controller.abort(reason);
    }, 100);
    const t0 = performance.now();
    expect(await fetchError(source({ retries: { maxRetryAfter: 60_000 } }), ranges, controller.signal)).toBe(reason);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});

describe('the low-speed rule (a body that drips just inside the idle timeout)', () => {
  // A rule of 1 s so that the tests run in seconds; the whole-request timeout is far away, so
  // only the rule can end a drip. The drips tick every 100 ms, well inside the 300 ms idle timeout.
  const slowRule = { ...quick.timeouts, request: 60_000, lowSpeedBytesPerSecond: 1024, lowSpeedSeconds: 1 };
  const drip: Fault = { kind: 'drip', intervalMs: 100, bytesPerTick: 10 };
  beforeAll(() => {
    server.setFile('/file.bin', file);
  });

  it('ends in a typed error naming the URL, the range and the speed, after the retries', async () => {
    server.setDefault(drip);
    const s = source({ maxInFlight: 1, timeouts: slowRule });
    const t0 = performance.now();
    const e = await fetchError(s, ranges.slice(0, 4));
    expect(isGosyncError(e, 'ERR_BLOCKSOURCE_RETRIES_EXHAUSTED')).toBe(true);
    expect(isGosyncError(e.cause, 'ERR_BLOCKSOURCE_TOO_SLOW')).toBe(true);
    expect(e.message).toContain(url);
    expect(e.message).toContain(`bytes=${ranges[0]?.start ?? 0}-`);
    expect(e.message).toMatch(/\[\d+, \d+\)/);
    expect(e.message).toMatch(/slowed to [\d.]+ B\/s over the last 1 s .*below the low-speed limit of 1024 B\/s/);
    // 1 attempt + 3 retries, each ended by the rule.
    expect(server.requests).toBe(4);
    expect(s.stats.retries).toBe(3);
    // Did not hang: four 1 s windows, not four request timeouts.
    expect(performance.now() - t0).toBeLessThan(15_000);
  });

  it('a fast start does not buy a drip its way: the window slides', async () => {
    server.setDefault({ ...drip, afterBytes: 60_000 });
    const e = await fetchError(source({ maxInFlight: 1, timeouts: slowRule, retries: { count: 0 } }), [{ start: 0, end: 200_000 }]);
    expect(isGosyncError(e, 'ERR_BLOCKSOURCE_RETRIES_EXHAUSTED')).toBe(true);
    expect(isGosyncError(e.cause, 'ERR_BLOCKSOURCE_TOO_SLOW')).toBe(true);
    // Judged on the drip after the 60 000-byte burst, which alone would average far above the limit.
    expect(e.message).toMatch(/\(60\d{3} bytes received\)/);
  });

  it('remembers a slow mirror: the batches after the first start at the healthy one', async () => {
    const other = await startFaultServer();
    try {
      other.setFile('/file.bin', file);
      server.setDefault(drip);
      // Six ranges, one per request, one request at a time: six batches in a row.
      const six = Array.from({ length: 6 }, (_, i) => ({ start: i * 150_000, end: i * 150_000 + 20_000 }));
      const s = source({ urls: [url, `${other.url}/file.bin`], timeouts: slowRule, maxInFlight: 1, maxRangesPerRequest: 1, mergeGap: 0 });
      await expectExact(s, six, file);
      // Only the first batch waited out the drip (1 s); the other five went to the healthy mirror.
      expect(server.requests).toBe(1);
      expect(other.requests).toBe(6);
    } finally {
      await other.close();
    }
  });

  it('moves to a healthy mirror, which finishes the fetch byte-exact', async () => {
    const other = await startFaultServer();
    try {
      other.setFile('/file.bin', file);
      server.setDefault(drip);
      const s = source({ urls: [url, `${other.url}/file.bin`], timeouts: slowRule });
      await expectExact(s, ranges, file);
      expect(s.stats.retries).toBeGreaterThanOrEqual(1);
      expect(server.log.every((l) => l.fault === 'drip')).toBe(true);
      expect(other.log.length).toBeGreaterThanOrEqual(1);
    } finally {
      await other.close();
    }
  });

  it('never fires on our own rate limit, even one far below the low-speed limit', async () => {
    // 40 000 B/s on the wall clock, under a rule of 64 KiB/s over 0.5 s: the rule must see that
    // the body was waiting for our limiter, not for the server.
    const s = source({ rateLimit: 40_000, timeouts: { ...slowRule, lowSpeedBytesPerSecond: 64 * 1024, lowSpeedSeconds: 0.5 } });
    await expectExact(s, [{ start: 0, end: 120_000 }], file);
    expect(s.stats.retries).toBe(0);
    expect(server.requests).toBe(1);
  });

  it('never fires on a slow consumer', async () => {
    // The whole file in 4000-byte ranges (one request), taken by a consumer far slower than the
    // rule's 16 MB/s, with room for one range between them: the body waits for the consumer.
    const rule = { ...slowRule, lowSpeedBytesPerSecond: 16_000_000, lowSpeedSeconds: 0.3 };
    const s = source({ maxInFlight: 1, maxBytesInFlight: 4000, timeouts: rule });
    const all = Array.from({ length: SIZE / 4000 }, (_, i) => ({ start: i * 4000, end: (i + 1) * 4000 }));
    let n = 0;
    for await (const { range, data } of s.fetch(all)) {
      expect(bytesEqual(data, file.subarray(range.start, range.end))).toBe(true);
      n++;
      await new Promise((resolve) => setTimeout(resolve, 4));
    }
    expect(n).toBe(all.length);
    expect(s.stats.retries).toBe(0);
  });

  it('is off with lowSpeedBytesPerSecond 0, and checks its options', () => {
    expect(() => source({ timeouts: { lowSpeedBytesPerSecond: -1 } })).toThrow(/lowSpeedBytesPerSecond/);
    expect(() => source({ timeouts: { lowSpeedSeconds: Number.NaN } })).toThrow(/lowSpeedSeconds/);
    expect(() => source({ timeouts: { lowSpeedBytesPerSecond: 0 } })).not.toThrow();
  });
});
