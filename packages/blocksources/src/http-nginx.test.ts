// HttpSource against a real nginx started by the test run on 127.0.0.1.
import { open, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fc, test as fcTest } from '@fast-check/vitest';
import { isGosyncError } from '@gosync/core';
import { pseudoRandomBytes, skipWithoutTools, startNginx } from '@gosync/testkit';
import type { RunningNginx } from '@gosync/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpSource } from './http-source.js';
import { expectExact, fetchError, spreadRanges, verifierOf } from './test-http.js';

const SIZE = 3_000_000;
const file = pseudoRandomBytes(SIZE, 0x5eed);

describe.skipIf(skipWithoutTools(['nginx'], 'HttpSource against nginx'))('HttpSource against nginx', () => {
  let dir: string;
  let nginx: RunningNginx;
  let url: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gosync-http-'));
    await writeFile(join(dir, 'file.bin'), file);
    nginx = await startNginx({ root: dir });
    url = `${nginx.url}/file.bin`;
  });
  afterAll(async () => {
    await nginx.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('fetches many ranges byte-exact with few multi-range requests', async () => {
    const source = new HttpSource({ urls: [url], verifier: verifierOf(file) });
    const ranges = spreadRanges(SIZE, 300, 2048);
    await expectExact(source, ranges, file);
    // 300 ranges, at most 64 per request: a handful of requests, not 300.
    expect(source.stats.requests).toBeLessThanOrEqual(12);
    expect(source.stats.bytesDelivered).toBe(300 * 2048);
    await source.close();
  });

  it('fetches one large range, the whole file, and empty ranges', async () => {
    const source = new HttpSource({ urls: [url] });
    await expectExact(source, [{ start: 0, end: SIZE }], file);
    await expectExact(source, [{ start: 10, end: 10 }, { start: SIZE - 1, end: SIZE }], file);
    await source.close();
  });

  fcTest.prop(
    [
      fc
        .uniqueArray(fc.nat(SIZE / 1000 - 1), { minLength: 1, maxLength: 40 })
        .map((starts) => starts.map((s) => ({ start: s * 1000, end: s * 1000 + 1 + ((s * 7919) % 999) }))),
      fc.constantFrom(1, 3, 64),
    ],
    { numRuns: 25 },
  )('yields any set of ranges byte-exact, whatever the ranges per request', async (ranges, maxRangesPerRequest) => {
    const source = new HttpSource({ urls: [url], maxRangesPerRequest });
    await expectExact(source, ranges, file);
    await source.close();
  });

  it('names the URL and range of a 404, and of a range past the end', async () => {
    const missing = new HttpSource({ urls: [`${nginx.url}/nope.bin`] });
    const e = await fetchError(missing, [{ start: 0, end: 10 }]);
    expect(isGosyncError(e, 'ERR_BLOCKSOURCE_HTTP_STATUS')).toBe(true);
    expect(e.message).toContain('/nope.bin');
    expect(e.message).toContain('404');
    expect(e.message).toContain('[0, 10)');
    await missing.close();

    const source = new HttpSource({ urls: [url] });
    const past = await fetchError(source, [{ start: SIZE - 5, end: SIZE + 5 }]);
    expect(isGosyncError(past, 'ERR_BLOCKSOURCE_OUT_OF_BOUNDS')).toBe(true);
    expect(past.message).toContain(`[${SIZE - 5}, ${SIZE + 5})`);
    await source.close();
  });

  it('reads past 4 GiB in a sparse 5 GB file', async () => {
    const big = join(dir, 'big.bin');
    const handle = await open(big, 'w');
    try {
      await handle.truncate(5_000_000_000);
      await handle.write(file.subarray(0, 4096), 0, 4096, 4_500_000_000);
    } finally {
      await handle.close();
    }
    const source = new HttpSource({ urls: [`${nginx.url}/big.bin`] });
    const got: Uint8Array[] = [];
    for await (const { data } of source.fetch([{ start: 4_500_000_000, end: 4_500_004_096 }, { start: 4_999_999_000, end: 5_000_000_000 }])) {
      got.push(data);
    }
    expect(got.map((d) => d.length).sort((a, b) => a - b)).toEqual([1000, 4096]);
    const block = got.find((d) => d.length === 4096);
    expect(Buffer.from(block ?? []).equals(Buffer.from(file.subarray(0, 4096)))).toBe(true);
    await source.close();
  });

  it('stops at once when aborted, and refuses to fetch after close()', async () => {
    const source = new HttpSource({ urls: [url], rateLimit: 100_000 });
    const controller = new AbortController();
    const reason = new Error('stop');
    setTimeout(() => {
      controller.abort(reason);
    }, 50);
    expect(await fetchError(source, [{ start: 0, end: SIZE }], controller.signal)).toBe(reason);
    await source.close();
    const closed = await fetchError(source, [{ start: 0, end: 10 }]);
    expect(isGosyncError(closed, 'ERR_BLOCKSOURCE_CLOSED')).toBe(true);
  });

  it('stops the requests when the consumer breaks out of the loop', async () => {
    const source = new HttpSource({ urls: [url], maxRangesPerRequest: 1 });
    let n = 0;
    for await (const item of source.fetch(spreadRanges(SIZE, 100, 1000))) {
      n += item.data.length > 0 ? 1 : 0;
      if (n === 3) break;
    }
    const requests = source.stats.requests;
    await new Promise((r) => setTimeout(r, 100));
    expect(source.stats.requests).toBe(requests);
    expect(requests).toBeLessThan(100);
    await source.close();
  });
});
