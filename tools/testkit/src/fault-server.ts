/**
 * A fault-injecting HTTP/1.1 file server on 127.0.0.1 for testing range clients: it serves
 * in-memory files with `Range` (single and multi-range), `ETag`, `Last-Modified` and `If-Range`,
 * and misbehaves on request, as a scripted queue of faults (one per request) or a default fault
 * applied to every request. It imports nothing from `@gosync`.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** One way to misbehave. `when: 'multi'` applies a fault only to multi-range requests. */
export type Fault =
  /** Ignore `Range`: 200 with the whole body. */
  | { readonly kind: 'ignore-range' }
  /** Refuse multi-range requests with this status (200 = whole body); single ranges are served. */
  | { readonly kind: 'refuse-multi'; readonly status: 200 | 416 | 501 }
  /** Answer a multi-range request with a single-part 206 holding only the first range. */
  | { readonly kind: 'single-part' }
  /** Send the headers and `afterBytes` body bytes, then destroy the socket. */
  | { readonly kind: 'reset'; readonly afterBytes: number }
  /** Send `afterBytes` body bytes with chunked encoding and end the response cleanly. */
  | { readonly kind: 'truncate'; readonly afterBytes: number }
  /** Serve the bytes of each range shifted by `by` bytes (the Content-Range stays right). */
  | { readonly kind: 'shift'; readonly by: number }
  /** Announce each range `by` bytes later than the bytes really sent. */
  | { readonly kind: 'wrong-content-range'; readonly by: number }
  /** Answer this status (429, 503, 404, 403, 500, …) with an optional `Retry-After`. */
  | { readonly kind: 'status'; readonly status: number; readonly retryAfter?: string }
  /**
   * Send the first `afterBytes` body bytes at once (default none), then `bytesPerTick` bytes every
   * `intervalMs`. With `intervalMs` below a client's idle timeout the drip never trips it: only a
   * low-speed rule (a minimum average over a window) or the whole-request timeout ends it.
   */
  | { readonly kind: 'drip'; readonly intervalMs: number; readonly bytesPerTick: number; readonly afterBytes?: number }
  /** Never send the response headers (the socket stays open until the server closes). */
  | { readonly kind: 'stall' }
  /** Redirect (302 unless given) to `location` (a path or a URL). */
  | { readonly kind: 'redirect'; readonly location: string; readonly status?: number }
  /** Serve the range with 206 even if `If-Range` does not match (a broken cache). */
  | { readonly kind: 'ignore-if-range' };

/** How multipart bodies are written. */
export interface MultipartStyle {
  /** Line ends: `\r\n` (default) or bare `\n`. */
  readonly newline?: '\r\n' | '\n';
  /** Quote the boundary in the Content-Type. */
  readonly quoteBoundary?: boolean;
  /** Send the parts in reverse order. */
  readonly reverse?: boolean;
}

/** One request as the server saw it. */
export interface FaultRequestLog {
  readonly method: string;
  readonly path: string;
  readonly range: string | undefined;
  readonly ifRange: string | undefined;
  readonly status: number;
  readonly fault: Fault['kind'] | undefined;
}

/** A running fault server. */
export interface FaultServer {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  readonly url: string;
  /** Puts (or replaces) a file at `path` (e.g. `/file.bin`); a new ETag is derived from its bytes. */
  setFile(path: string, bytes: Uint8Array): void;
  /** Queues faults: the next requests get them, one each, in order. */
  plan(...faults: Fault[]): void;
  /** A fault applied to every request once the queue is empty (undefined: behave). */
  setDefault(fault: Fault | undefined): void;
  /** Multipart formatting for the following answers. */
  setMultipartStyle(style: MultipartStyle): void;
  /** Runs `hook` when a request arrives, before it is answered (e.g. to change a file mid-sync). */
  onRequest(hook: ((count: number) => void) | undefined): void;
  /** Requests seen so far. */
  readonly requests: number;
  /** Ranges asked for so far (a multi-range request counts each). */
  readonly ranges: number;
  /** Every request seen so far. */
  readonly log: readonly FaultRequestLog[];
  /** Zeroes the counters and the log. */
  resetCounters(): void;
  /** Stops the server, destroying open connections. */
  close(): Promise<void>;
}

interface StoredFile {
  readonly bytes: Uint8Array;
  readonly etag: string;
  readonly lastModified: string;
}

function parseRangeHeader(value: string, size: number): { start: number; end: number }[] | undefined {
  const m = /^\s*bytes\s*=(.*)$/i.exec(value);
  if (m === null) return undefined;
  const out: { start: number; end: number }[] = [];
  for (const spec of (m[1] ?? '').split(',')) {
    const s = spec.trim();
    const dash = s.indexOf('-');
    if (dash < 0) return undefined;
    const a = s.slice(0, dash).trim();
    const b = s.slice(dash + 1).trim();
    if (a === '') {
      const n = Number(b);
      if (!Number.isSafeInteger(n)) return undefined;
      out.push({ start: Math.max(0, size - n), end: size });
    } else {
      const start = Number(a);
      const last = b === '' ? size - 1 : Math.min(Number(b), size - 1);
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(last) || last < start) return undefined;
      out.push({ start, end: last + 1 });
    }
  }
  return out;
}

/**
 * Starts a fault server on 127.0.0.1 on a free port.
 *
 * @returns the running server
 */
export async function startFaultServer(): Promise<FaultServer> {
  const files = new Map<string, StoredFile>();
  const queue: Fault[] = [];
  let defaultFault: Fault | undefined;
  let style: MultipartStyle = {};
  let hook: ((count: number) => void) | undefined;
  let requests = 0;
  let ranges = 0;
  let log: FaultRequestLog[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let version = 0;

  function setFile(path: string, bytes: Uint8Array): void {
    version++;
    const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
    files.set(path, {
      bytes: bytes.slice(),
      etag: `"${hash}"`,
      lastModified: new Date(Date.UTC(2020, 0, 1) + version * 1000).toUTCString(),
    });
  }

  /** Writes the status and headers; a truncating fault drops Content-Length (chunked, ends early). */
  function head(res: ServerResponse, status: number, headers: Record<string, string | number>, fault: Fault | undefined): void {
    const out = { ...headers };
    if (fault?.kind === 'truncate') delete out['Content-Length'];
    res.writeHead(status, out);
  }

  function send(res: ServerResponse, body: Uint8Array, fault: Fault | undefined): void {
    if (fault?.kind === 'reset') {
      res.write(body.subarray(0, fault.afterBytes), () => {
        res.socket?.destroy();
      });
      return;
    }
    if (fault?.kind === 'truncate') {
      res.end(body.subarray(0, fault.afterBytes));
      return;
    }
    if (fault?.kind === 'drip') {
      let at = Math.min(body.length, Math.max(0, fault.afterBytes ?? 0));
      const later = (): void => {
        const t = setTimeout(() => {
          timers.delete(t);
          tick();
        }, fault.intervalMs);
        timers.add(t);
      };
      const tick = (): void => {
        if (res.destroyed) return;
        const next = Math.min(body.length, at + fault.bytesPerTick);
        res.write(body.subarray(at, next));
        at = next;
        if (at >= body.length) {
          res.end();
          return;
        }
        later();
      };
      if (at === 0) tick();
      else {
        // The burst, then the first drip one interval later.
        res.write(body.subarray(0, at));
        if (at >= body.length) res.end();
        else later();
      }
      return;
    }
    res.end(body);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    requests++;
    hook?.(requests);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const rangeHeader = req.headers.range;
    const ifRangeHeader = req.headers['if-range'];
    const ifRange = Array.isArray(ifRangeHeader) ? ifRangeHeader[0] : ifRangeHeader;
    const file = files.get(path);
    const size = file?.bytes.length ?? 0;
    const asked = rangeHeader === undefined ? undefined : parseRangeHeader(rangeHeader, size);
    ranges += asked?.length ?? 0;
    let fault = queue.shift() ?? defaultFault;
    const multi = (asked?.length ?? 0) > 1;
    if (fault?.kind === 'refuse-multi' && !multi) fault = undefined;
    if (fault?.kind === 'single-part' && !multi) fault = undefined;
    const record = (status: number): void => {
      log.push({ method: req.method ?? 'GET', path, range: rangeHeader, ifRange, status, fault: fault?.kind });
    };

    if (fault?.kind === 'stall') {
      record(0);
      return;
    }
    if (fault?.kind === 'redirect') {
      const status = fault.status ?? 302;
      record(status);
      res.writeHead(status, { Location: fault.location, 'Content-Length': 0 });
      res.end();
      return;
    }
    if (fault?.kind === 'status') {
      record(fault.status);
      const headers: Record<string, string | number> = { 'Content-Type': 'text/plain' };
      if (fault.retryAfter !== undefined) headers['Retry-After'] = fault.retryAfter;
      res.writeHead(fault.status, headers);
      res.end(`status ${fault.status}\n`);
      return;
    }
    if (file === undefined) {
      record(404);
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    const common = { ETag: file.etag, 'Last-Modified': file.lastModified, 'Accept-Ranges': 'bytes' };
    const ifRangeMatches =
      ifRange === undefined || ifRange === file.etag || ifRange === file.lastModified || fault?.kind === 'ignore-if-range';
    const whole =
      asked === undefined ||
      fault?.kind === 'ignore-range' ||
      (fault?.kind === 'refuse-multi' && fault.status === 200) ||
      !ifRangeMatches;
    if (whole) {
      record(200);
      head(res, 200, { ...common, 'Content-Type': 'application/octet-stream', 'Content-Length': size }, fault);
      send(res, file.bytes, fault);
      return;
    }
    if (fault?.kind === 'refuse-multi') {
      record(fault.status);
      res.writeHead(fault.status, { ...common, 'Content-Range': `bytes */${size}`, 'Content-Length': 0 });
      res.end();
      return;
    }
    if (asked.some((r) => r.start >= size || r.end > size)) {
      record(416);
      res.writeHead(416, { ...common, 'Content-Range': `bytes */${size}`, 'Content-Length': 0 });
      res.end();
      return;
    }
    const shift = fault?.kind === 'shift' ? fault.by : 0;
    const announce = fault?.kind === 'wrong-content-range' ? fault.by : 0;
    const bytesOf = (r: { start: number; end: number }): Uint8Array => {
      const out = new Uint8Array(r.end - r.start);
      const from = Math.max(0, Math.min(size, r.start + shift));
      out.set(file.bytes.subarray(from, Math.min(size, from + out.length)));
      return out;
    };
    const contentRange = (r: { start: number; end: number }): string =>
      `bytes ${r.start + announce}-${r.end - 1 + announce}/${size}`;
    const first = asked[0];
    if (asked.length === 1 || fault?.kind === 'single-part') {
      if (first === undefined) throw new Error('unreachable');
      record(206);
      const body = bytesOf(first);
      head(
        res,
        206,
        { ...common, 'Content-Type': 'application/octet-stream', 'Content-Range': contentRange(first), 'Content-Length': body.length },
        fault,
      );
      send(res, body, fault);
      return;
    }
    const nl = style.newline ?? '\r\n';
    const boundary = `gosync-fault-${version}-${requests}`;
    const chunks: Buffer[] = [];
    const order = style.reverse === true ? [...asked].reverse() : asked;
    for (const r of order) {
      chunks.push(
        Buffer.from(
          `${nl}--${boundary}${nl}Content-Type: application/octet-stream${nl}Content-Range: ${contentRange(r)}${nl}${nl}`,
          'latin1',
        ),
      );
      chunks.push(Buffer.from(bytesOf(r)));
    }
    chunks.push(Buffer.from(`${nl}--${boundary}--${nl}`, 'latin1'));
    const body = Buffer.concat(chunks);
    record(206);
    head(
      res,
      206,
      {
        ...common,
        'Content-Type': `multipart/byteranges; boundary=${style.quoteBoundary === true ? `"${boundary}"` : boundary}`,
        'Content-Length': body.length,
      },
      fault,
    );
    send(res, body, fault);
  }

  const server: Server = createServer(handle);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fault server has no port');

  return {
    url: `http://127.0.0.1:${address.port}`,
    setFile,
    plan(...faults) {
      queue.push(...faults);
    },
    setDefault(fault) {
      defaultFault = fault;
    },
    setMultipartStyle(s) {
      style = s;
    },
    onRequest(h) {
      hook = h;
    },
    get requests() {
      return requests;
    },
    get ranges() {
      return ranges;
    },
    get log() {
      return log;
    },
    resetCounters() {
      requests = 0;
      ranges = 0;
      log = [];
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => {
        resolve();
      }));
    },
  };
}
