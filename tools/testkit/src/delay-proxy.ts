// A TCP proxy that behaves like a slow network link: a fixed one-way latency in each direction
// and, optionally, a bandwidth cap per direction shared by every connection (like
// `tc qdisc … netem delay … rate …` on an interface). Used by the HTTP benchmarks to put a
// realistic link between a client and nginx on 127.0.0.1, without root or network namespaces.
import { createServer, connect, type Server, type Socket } from 'node:net';

/** Options of {@link startDelayProxy}. */
export interface DelayProxyOptions {
  /** Where connections are forwarded to. */
  readonly target: { readonly host: string; readonly port: number };
  /** Round-trip time the link adds: `rttMs / 2` in each direction, plus one RTT of handshake. */
  readonly rttMs: number;
  /** Capacity of each direction in bits per second, shared by all connections (default: unlimited). */
  readonly bandwidthBitsPerSecond?: number;
  /** Address to listen on (default `127.0.0.1`). */
  readonly host?: string;
  /** Port to listen on (default 0: a free port). */
  readonly port?: number;
}

/** Byte and connection counters of a running proxy. */
export interface DelayProxyStats {
  /** Connections accepted so far. */
  connections: number;
  /** Bytes received from clients (forwarded towards the target). */
  bytesUp: number;
  /** Bytes received from the target (forwarded towards clients). */
  bytesDown: number;
}

/** A running {@link startDelayProxy}. */
export interface RunningDelayProxy {
  /** The port it listens on. */
  readonly port: number;
  /** `http://<host>:<port>` (no trailing slash), for HTTP targets. */
  readonly url: string;
  /** Live counters. */
  readonly stats: DelayProxyStats;
  /** Stops listening and destroys every open connection. */
  close(): Promise<void>;
}

/** Above this many bytes waiting in one direction of one connection, its source is paused. */
const HIGH_WATER = 4 * 1024 * 1024;
/** …and resumed when the queue falls below this. */
const LOW_WATER = 1024 * 1024;
/** Chunks are cut into slices of at most this size so that a capped link delivers smoothly. */
const SLICE = 16 * 1024;

/** Aborts a socket with a TCP reset when it is connected (a plain destroy would send a FIN). */
function reset(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/** One direction of the link, shared by all connections: when its wire is next free. */
interface Link {
  readonly delayMs: number;
  /** Milliseconds per byte, 0 when unlimited. */
  readonly msPerByte: number;
  wireFreeAt: number;
}

type Item =
  | { readonly at: number; readonly kind: 'data'; readonly data: Buffer }
  | { readonly at: number; readonly kind: 'end' }
  | { readonly at: number; readonly kind: 'destroy' };

/**
 * Carries one direction of one connection: bytes read from `from` are written to `to` once the
 * link has serialised them (bandwidth) and they have travelled the one-way delay, in order.
 */
class Pipe {
  private readonly queue: Item[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private blocked = false;
  private pausedSource = false;
  private finished = false;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly link: Link,
    /** Data may not start crossing the link before this time (connection set-up). */
    private readonly notBefore: number,
    private readonly count: (n: number) => void,
  ) {
    from.on('data', (chunk: Buffer) => {
      this.count(chunk.length);
      this.push(chunk);
    });
    from.on('end', () => {
      this.enqueue({ at: this.lastAt(), kind: 'end' });
    });
    from.on('close', () => {
      // Closed without a clean end (reset, destroy): tear the other side down after the delay.
      if (!from.readableEnded) this.enqueue({ at: Math.max(performance.now(), this.notBefore) + link.delayMs, kind: 'destroy' });
    });
  }

  /** Delivery time of the last queued item (an end follows the data before it). */
  private lastAt(): number {
    const last = this.queue.at(-1);
    return Math.max(last?.at ?? 0, Math.max(performance.now(), this.notBefore) + this.link.delayMs);
  }

  private push(chunk: Buffer): void {
    const link = this.link;
    for (let offset = 0; offset < chunk.length; offset += SLICE) {
      const data = chunk.subarray(offset, Math.min(chunk.length, offset + SLICE));
      const start = Math.max(performance.now(), this.notBefore, link.wireFreeAt);
      const sent = start + data.length * link.msPerByte;
      if (link.msPerByte > 0) link.wireFreeAt = sent;
      this.queuedBytes += data.length;
      this.enqueue({ at: sent + link.delayMs, kind: 'data', data });
    }
    if (this.queuedBytes > HIGH_WATER && !this.pausedSource) {
      this.pausedSource = true;
      this.from.pause();
    }
  }

  private enqueue(item: Item): void {
    if (this.finished) return;
    this.queue.push(item);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.blocked) return;
    const head = this.queue[0];
    if (head === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, Math.max(0, head.at - performance.now()));
  }

  private pump(): void {
    const now = performance.now();
    while (!this.blocked && !this.finished) {
      const head = this.queue[0];
      if (head === undefined || head.at > now + 0.5) break;
      this.queue.shift();
      if (head.kind === 'end') {
        this.finished = true;
        this.to.end();
      } else if (head.kind === 'destroy') {
        this.finished = true;
        reset(this.to);
      } else {
        this.queuedBytes -= head.data.length;
        if (this.to.destroyed) continue;
        if (!this.to.write(head.data)) {
          this.blocked = true;
          this.to.once('drain', () => {
            this.blocked = false;
            this.pump();
          });
        }
      }
    }
    if (this.pausedSource && this.queuedBytes < LOW_WATER) {
      this.pausedSource = false;
      this.from.resume();
    }
    this.schedule();
  }

  /** Drops everything queued (the proxy is closing). */
  stop(): void {
    this.finished = true;
    this.queue.length = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * Starts a TCP proxy that adds `rttMs / 2` of latency in each direction and, when
 * `bandwidthBitsPerSecond` is given, serialises each direction at that rate across all
 * connections (a link cap). It models a pipe: chunks are delivered in order after the delay,
 * so throughput is not limited to one chunk per round trip. Opening a connection costs one
 * extra round trip (the TCP handshake): the client's first bytes reach the target after
 * 1.5 × RTT. A direction whose queue exceeds 4 MiB pauses its source until it drains. An end
 * (FIN) is forwarded after the data before it; a reset (or any close without an end) resets
 * the other side after the one-way delay.
 *
 * @param options - the target, the RTT and the optional bandwidth cap
 * @returns the port, an `http://` URL, live counters and `close()`
 * @throws Error when the port cannot be listened on
 * @example
 * ```ts
 * const proxy = await startDelayProxy({ target: { host: '127.0.0.1', port: nginx.port }, rttMs: 50, bandwidthBitsPerSecond: 100e6 });
 * await fetch(`${proxy.url}/file.bin`);
 * await proxy.close();
 * ```
 */
export async function startDelayProxy(options: DelayProxyOptions): Promise<RunningDelayProxy> {
  const { target, rttMs } = options;
  if (!(rttMs >= 0)) throw new Error(`delay proxy: rttMs must be ≥ 0, got ${rttMs}`);
  const bandwidth = options.bandwidthBitsPerSecond;
  if (bandwidth !== undefined && !(bandwidth > 0)) throw new Error(`delay proxy: bandwidthBitsPerSecond must be > 0, got ${bandwidth}`);
  const msPerByte = bandwidth === undefined ? 0 : 8000 / bandwidth;
  const up: Link = { delayMs: rttMs / 2, msPerByte, wireFreeAt: 0 };
  const down: Link = { delayMs: rttMs / 2, msPerByte, wireFreeAt: 0 };
  const stats: DelayProxyStats = { connections: 0, bytesUp: 0, bytesDown: 0 };
  const open = new Set<{ client: Socket; upstream: Socket; pipes: Pipe[] }>();

  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    stats.connections++;
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
    const notBefore = performance.now() + rttMs;
    const pipes = [
      new Pipe(client, upstream, up, notBefore, (n) => (stats.bytesUp += n)),
      new Pipe(upstream, client, down, 0, (n) => (stats.bytesDown += n)),
    ];
    const entry = { client, upstream, pipes };
    open.add(entry);
    const forget = (): void => {
      if (client.destroyed && upstream.destroyed) open.delete(entry);
    };
    // Errors surface as 'close' without a clean end, which the pipes forward as a destroy.
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    client.on('close', forget);
    upstream.on('close', forget);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const host = options.host ?? '127.0.0.1';
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    stats,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => {
        resolve();
      }));
      for (const { client, upstream, pipes } of open) {
        for (const pipe of pipes) pipe.stop();
        client.destroy();
        upstream.destroy();
      }
      open.clear();
      await closed;
    },
  };
}
