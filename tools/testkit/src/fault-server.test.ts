// The fault server's own behaviour, where a client test would not notice it going wrong: the
// drip fault's optional burst, and plain range serving.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultServer, type FaultServer } from './fault-server.js';
import { pseudoRandomBytes } from './random.js';

const file = pseudoRandomBytes(10_000, 0xd1);
let server: FaultServer;

beforeAll(async () => {
  server = await startFaultServer();
  server.setFile('/file.bin', file);
});
afterAll(async () => {
  await server.close();
});

/** GETs `path` with `range`; resolves with the status and body once `enough` bytes came or the body ended. */
function get(path: string, range: string, enough = Infinity): Promise<{ status: number; body: Buffer; chunks: number }> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, { headers: { range } }, (res) => {
      const parts: Buffer[] = [];
      let length = 0;
      const done = (): void => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts), chunks: parts.length });
      };
      res.on('data', (chunk: Buffer) => {
        parts.push(chunk);
        length += chunk.length;
        if (length >= enough) {
          done();
          req.destroy();
        }
      });
      res.on('end', done);
      res.on('error', () => undefined);
    });
    req.on('error', (e) => {
      if (!req.destroyed) reject(e);
    });
    req.end();
  });
}

describe('fault server', { timeout: 20_000 }, () => {
  it('serves a range byte-exact without a fault', async () => {
    server.setDefault(undefined);
    const r = await get('/file.bin', 'bytes=100-1099');
    expect(r.status).toBe(206);
    expect(r.body.equals(Buffer.from(file.subarray(100, 1100)))).toBe(true);
  });

  it('drips the body in ticks, complete and byte-exact in the end', async () => {
    server.plan({ kind: 'drip', intervalMs: 5, bytesPerTick: 100 });
    const r = await get('/file.bin', 'bytes=0-999');
    expect(r.status).toBe(206);
    expect(r.body.equals(Buffer.from(file.subarray(0, 1000)))).toBe(true);
    expect(r.chunks).toBeGreaterThan(1);
    expect(server.log.at(-1)?.fault).toBe('drip');
  });

  it('sends afterBytes at once, then waits one interval before the first drip', async () => {
    // The next tick is a minute away: the client sees the burst and nothing more, then leaves.
    server.plan({ kind: 'drip', intervalMs: 60_000, bytesPerTick: 1, afterBytes: 4000 });
    const r = await get('/file.bin', 'bytes=0-9999', 4000);
    expect(r.status).toBe(206);
    expect(r.body.equals(Buffer.from(file.subarray(0, 4000)))).toBe(true);
  });
});
