import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDelayProxy, type RunningDelayProxy } from './delay-proxy.js';
import { startNginx } from './nginx.js';
import { pseudoRandomBytes } from './random.js';
import { skipWithoutTools } from './tools.js';

/** A TCP server that hands each connection to `onConnection`; `sockets` are the open ones. */
async function tcpServer(onConnection: (socket: Socket) => void): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return { server, port: address.port, sockets };
}

/** Echo: every byte back, then end when the client ends. */
function echo(socket: Socket): void {
  socket.on('error', () => undefined);
  socket.pipe(socket);
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Connects, writes `data` in pieces, half-closes, and collects everything until the server ends. */
function roundTrip(port: number, data: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => {
      socket.end();
      resolve(Buffer.concat(chunks));
    });
    socket.on('error', reject);
    let offset = 0;
    const write = (): void => {
      while (offset < data.length) {
        const piece = data.subarray(offset, offset + 100_000);
        offset += piece.length;
        if (!socket.write(piece)) {
          socket.once('drain', write);
          return;
        }
      }
      socket.end();
    };
    write();
  });
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(rttMs: number, onConnection: (socket: Socket) => void, bandwidthBitsPerSecond?: number): Promise<{ proxy: RunningDelayProxy; targetPort: number }> {
  const { server, port, sockets } = await tcpServer(onConnection);
  cleanups.push(() => new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
    for (const socket of sockets) socket.destroy();
  }));
  const proxy = await startDelayProxy({ target: { host: '127.0.0.1', port }, rttMs, ...(bandwidthBitsPerSecond === undefined ? {} : { bandwidthBitsPerSecond }) });
  cleanups.push(() => proxy.close());
  return { proxy, targetPort: port };
}

describe('startDelayProxy', () => {
  it('passes 8 MiB through byte-exact in both directions and counts the bytes', async () => {
    const { proxy } = await setup(10, echo);
    const data = pseudoRandomBytes(8 * 1024 * 1024 + 13, 7);
    const back = await roundTrip(proxy.port, data);
    expect(back.length).toBe(data.length);
    expect(sha256(back)).toBe(sha256(data));
    expect(proxy.stats).toEqual({ connections: 1, bytesUp: data.length, bytesDown: data.length });
  });

  it('passes bytes through byte-exact with a bandwidth cap', async () => {
    const { proxy } = await setup(2, echo, 1e9);
    const data = pseudoRandomBytes(3 * 1024 * 1024, 9);
    const back = await roundTrip(proxy.port, data);
    expect(sha256(back)).toBe(sha256(data));
  });

  it('delivers a server-only stream (download) byte-exact', async () => {
    const data = pseudoRandomBytes(5 * 1024 * 1024 + 1, 3);
    const { proxy } = await setup(4, (socket) => {
      socket.on('error', () => undefined);
      socket.end(data);
    });
    const got = await roundTrip(proxy.port, new Uint8Array(0));
    expect(sha256(got)).toBe(sha256(data));
    expect(proxy.stats.bytesDown).toBe(data.length);
    expect(proxy.stats.bytesUp).toBe(0);
  });

  it('serves 40 concurrent connections, each with its own bytes', async () => {
    const { proxy } = await setup(20, echo, 200e6);
    const inputs = Array.from({ length: 40 }, (_, i) => pseudoRandomBytes(50_000 + i * 1_111, i + 1));
    const outputs = await Promise.all(inputs.map((d) => roundTrip(proxy.port, d)));
    outputs.forEach((out, i) => {
      expect(sha256(out)).toBe(sha256(inputs[i]!));
    });
    expect(proxy.stats.connections).toBe(40);
  });

  it('adds at least one round trip to a request and its answer', async () => {
    const { proxy } = await setup(100, echo);
    const t0 = performance.now();
    await roundTrip(proxy.port, new Uint8Array([1, 2, 3]));
    // Lower bound only: handshake (1 RTT) + there and back (1 RTT) ≥ 200 ms; allow timer slack.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
  });

  it('propagates a client end to the target and the target end back', async () => {
    const events: string[] = [];
    const { proxy } = await setup(10, (socket) => {
      socket.on('error', () => undefined);
      socket.on('end', () => {
        events.push('target saw end');
        socket.end('bye');
      });
      socket.resume();
    });
    const got = await roundTrip(proxy.port, Buffer.from('hello'));
    expect(got.toString()).toBe('bye');
    expect(events).toEqual(['target saw end']);
  });

  it('destroys the client when the target resets the connection', async () => {
    const { proxy } = await setup(10, (socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.resetAndDestroy());
    });
    const closed = await new Promise<{ ended: boolean }>((resolve) => {
      const socket = connect(proxy.port, '127.0.0.1');
      let ended = false;
      socket.on('error', () => undefined);
      socket.on('end', () => (ended = true));
      socket.on('close', () => {
        resolve({ ended });
      });
      socket.write('x');
    });
    expect(closed.ended).toBe(false);
  });

  it('resets the target side when the client resets', async () => {
    const targetClosed = new Promise<void>((resolve) => {
      void setup(10, (socket) => {
        socket.on('error', () => undefined);
        socket.on('close', () => {
          resolve();
        });
        socket.once('data', () => undefined);
      }).then(({ proxy }) => {
        const socket = connect(proxy.port, '127.0.0.1');
        socket.on('error', () => undefined);
        socket.write('x', () => setTimeout(() => socket.resetAndDestroy(), 50));
      });
    });
    await targetClosed;
  });

  it('closes with connections still open', async () => {
    const { proxy } = await setup(10, (socket) => {
      socket.on('error', () => undefined);
    });
    const socket = connect(proxy.port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise((r) => socket.once('connect', r));
    const closed = new Promise((r) => socket.once('close', r));
    await proxy.close();
    await closed;
  });
});

describe.skipIf(skipWithoutTools(['nginx'], 'nginx behind the delay proxy'))('nginx behind the delay proxy', () => {
  it('serves whole files and ranges byte-exact and logs each request with its bytes', async () => {
    const root = await mkdtemp(join(tmpdir(), 'gosync-proxy-test-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const data = pseudoRandomBytes(1_000_000, 5);
    await writeFile(join(root, 'file.bin'), data);
    const nginx = await startNginx({ root, accessLog: true });
    cleanups.push(() => nginx.close());
    const proxy = await startDelayProxy({ target: { host: '127.0.0.1', port: nginx.port }, rttMs: 20, bandwidthBitsPerSecond: 1e9 });
    cleanups.push(() => proxy.close());
    const whole = new Uint8Array(await (await fetch(`${proxy.url}/file.bin`)).arrayBuffer());
    expect(sha256(whole)).toBe(sha256(data));
    const part = await fetch(`${proxy.url}/file.bin`, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(Buffer.from(data.subarray(100, 200)))).toBe(true);
    const log = await nginx.readAccessLog();
    expect(log.map((e) => [e.request, e.status, e.range])).toEqual([
      ['GET /file.bin HTTP/1.1', 200, '-'],
      ['GET /file.bin HTTP/1.1', 206, 'bytes=100-199'],
    ]);
    expect(log[0]!.bytesSent).toBeGreaterThan(data.length);
    expect(log[1]!.bytesSent).toBeGreaterThan(100);
    expect(proxy.stats.bytesDown).toBe(log[0]!.bytesSent + log[1]!.bytesSent);
  });
});
