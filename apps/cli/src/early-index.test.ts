import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildIndex, encodeIndex } from '@gosync/index';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discardEarlyIndex, startEarlyIndex } from './early-index.js';
import { downloadIndex } from './remote-index.js';

describe('startEarlyIndex', () => {
  let server: Server;
  let base = '';
  const seen: string[] = [];
  let body: Uint8Array = new Uint8Array(0);
  beforeAll(async () => {
    const target = new TextEncoder().encode('early bird '.repeat(5000));
    const input = (async function* () {
      await Promise.resolve();
      yield target;
    })();
    body = encodeIndex(await buildIndex(input, { blockSize: 1024 }));
    server = createServer((req, res) => {
      seen.push(`${req.method ?? ''} ${req.url ?? ''} ${req.headers['accept-encoding'] ?? ''}`);
      if (req.url === '/i.gsi') res.end(body);
      else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  it('sends nothing for other commands, --help, a local index or a command line the sync would refuse', () => {
    const url = `${base}/i.gsi`;
    for (const args of [
      ['index', url],
      ['diff', url],
      ['sync', url, '-o', 'out', '--help'],
      ['sync', url],
      ['sync', 'local.gsi', '-o', 'out'],
      ['sync', url, url, '-o', 'out'],
      ['sync', url, '-o', 'out', '--timeout', '0'],
      ['sync', url, '-o', 'out', '--connections', 'many'],
      ['sync', url, '-o', 'out', '--no-such-option'],
      ['sync', url, '-o', 'out', '--speed-limit', 'slow'],
      ['sync', url, '-o', 'out', '--workers', '0'],
    ]) {
      expect(startEarlyIndex(args), args.join(' ')).toBeUndefined();
    }
    expect(seen).toEqual([]);
  });

  it('sends the GET of a sync index once; the download takes that answer', async () => {
    seen.length = 0;
    const early = startEarlyIndex(['sync', `${base}/i.gsi`, '-o', 'out', '--timeout', '5', '--seed', 'a']);
    expect(early?.url).toBe(`${base}/i.gsi`);
    if (early === undefined) return;
    try {
      const remote = await downloadIndex(early.url, { dispatcher: early.dispatcher, first: early.response });
      expect(remote.bytes).toBe(body.length);
      expect(remote.requests).toBe(1);
      expect(seen).toEqual(['GET /i.gsi identity']);
    } finally {
      await early.dispatcher.close();
    }
  });

  it('a failed early answer is asked again, and an unused one is let go', async () => {
    seen.length = 0;
    const refused = startEarlyIndex(['sync', 'http://127.0.0.1:1/i.gsi', '-o', 'out']);
    expect(refused).toBeDefined();
    if (refused === undefined) return;
    // The early request failed (nothing listens on port 1): the download sends its own.
    const remote = await downloadIndex(`${base}/i.gsi`, { dispatcher: refused.dispatcher, first: Promise.resolve(undefined), retries: 0 });
    expect(remote.requests).toBe(2);
    expect(seen).toEqual(['GET /i.gsi identity']);
    await refused.dispatcher.close();
    const unused = startEarlyIndex(['sync', `${base}/i.gsi`, '-o', 'out']);
    if (unused === undefined) throw new Error('expected an early request');
    await discardEarlyIndex(unused);
    expect(unused.dispatcher.closed).toBe(true);
  });
});
