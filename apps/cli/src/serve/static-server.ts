// A small static HTTP/1.1 file server with full Range support, for `gosync serve`: the demo,
// tests and trying a sync out. Real deployments put the files behind nginx or a CDN.
// Bodies are read from the open file in 64 KiB chunks on demand, whatever the file's size.
import { randomBytes } from 'node:crypto';
import { realpath, stat, open, type FileHandle } from 'node:fs/promises';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GosyncError, type ByteRange } from '@gosync/core';
import { parseRangeHeader } from './range-header.js';

/** Codes of {@link ServeError}. */
export type ServeErrorCode = 'ERR_SERVE_ROOT' | 'ERR_SERVE_LISTEN';

/** Why a static server could not start: a bad root directory, or an address it cannot bind. */
export class ServeError extends GosyncError<ServeErrorCode> {}

/** One answered (or aborted) request, for logs. */
export interface RequestLogEntry {
  /** The client's address. */
  readonly remote: string;
  readonly method: string;
  /** The request target as received (path and query, undecoded). */
  readonly target: string;
  /** The `Range` header, when there was one. */
  readonly range: string | undefined;
  readonly status: number;
  /** Body bytes written (fewer than Content-Length when the client went away). */
  readonly bytes: number;
}

/** Counters over the server's lifetime. */
export interface StaticServerStats {
  /** Requests received. */
  readonly requests: number;
  /** Response body bytes written. */
  readonly bytesSent: number;
  /** 206 answers, single- and multi-range. */
  readonly partialResponses: number;
  /** 206 answers with a `multipart/byteranges` body. */
  readonly multipartResponses: number;
}

/** Options of {@link startStaticServer}. */
export interface StaticServerOptions {
  /** The directory to serve; files below it (symbolic links may not lead out of it). */
  readonly root: string;
  /** Address to bind (default 127.0.0.1; `0.0.0.0` or `::` for every interface). */
  readonly host?: string;
  /** TCP port (default 0: a free port chosen by the system). */
  readonly port?: number;
  /** Called once per request when its response has ended or was aborted. */
  readonly onRequest?: (entry: RequestLogEntry) => void;
  /** More ranges than this in one request are answered with the whole file (default 64). */
  readonly maxRanges?: number;
}

/** A running server, from {@link startStaticServer}. */
export interface StaticServer {
  /** Base URL with a trailing slash, e.g. `http://127.0.0.1:41234/`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The served directory with symbolic links resolved. */
  readonly root: string;
  /** Live counters. */
  readonly stats: StaticServerStats;
  /** Stops listening, drops open connections and waits for running requests to finish. */
  close(): Promise<void>;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.json': 'application/json',
  '.zsync': 'application/x-zsync',
};

function contentType(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

type Target = { readonly ok: true; readonly path: string } | { readonly ok: false; readonly reason: string };

/**
 * Maps a request target to a path below `root`. Each segment is percent-decoded on its own; a
 * `..` segment (also `%2e%2e`), an encoded `/` or `\`, a NUL or a malformed escape is refused.
 */
function resolveTarget(root: string, target: string): Target {
  if (!target.startsWith('/')) return { ok: false, reason: 'the request target must be a path' };
  const path = target.split(/[?#]/, 1)[0] ?? '';
  const segments: string[] = [];
  for (const raw of path.split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return { ok: false, reason: 'malformed percent-encoding' };
    }
    if (segment === '' || segment === '.') continue;
    if (segment === '..') return { ok: false, reason: '".." is not allowed in paths' };
    if (/[/\\\0]/.test(segment)) return { ok: false, reason: 'encoded "/", "\\" or NUL in a path segment' };
    segments.push(segment);
  }
  return { ok: true, path: join(root, ...segments) };
}

function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** Entity tags in an If-Match / If-None-Match list (`*` is returned as is). */
function entityTags(header: string): string[] {
  if (header.trim() === '*') return ['*'];
  return header.match(/(?:W\/)?"[^"]*"/g) ?? [];
}

/** A HTTP date in whole seconds since the epoch, or undefined when it does not parse. */
function httpDateSeconds(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const ms = Date.parse(header);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** What the response will be, before any byte of it is sent. */
interface Plan {
  readonly status: 200 | 206 | 304 | 412 | 416;
  /** What the body holds: the whole file for 200, the parts for 206, nothing otherwise. */
  readonly ranges: readonly ByteRange[];
}

interface FileInfo {
  readonly size: number;
  readonly etag: string;
  /** Last-Modified in whole seconds. */
  readonly modified: number;
}

/** RFC 9110 §13.2.2: preconditions in their order, then Range and If-Range. */
function planResponse(req: IncomingMessage, file: FileInfo, maxRanges: number): Plan {
  const whole: readonly ByteRange[] = file.size === 0 ? [] : [{ start: 0, end: file.size }];
  const ifMatch = req.headers['if-match'];
  if (ifMatch !== undefined) {
    const tags = entityTags(ifMatch);
    if (!tags.includes('*') && !tags.includes(file.etag)) return { status: 412, ranges: [] };
  } else {
    const since = httpDateSeconds(req.headers['if-unmodified-since']);
    if (since !== undefined && file.modified > since) return { status: 412, ranges: [] };
  }
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    const tags = entityTags(ifNoneMatch).map((t) => t.replace(/^W\//, ''));
    if (tags.includes('*') || tags.includes(file.etag)) return { status: 304, ranges: [] };
  } else {
    const since = httpDateSeconds(req.headers['if-modified-since']);
    if (since !== undefined && file.modified <= since) return { status: 304, ranges: [] };
  }
  // Range is defined for GET only; HEAD and the rest get the whole representation's headers.
  const range = req.headers.range;
  if (req.method !== 'GET' || range === undefined) return { status: 200, ranges: whole };
  const ifRange = req.headers['if-range'];
  if (ifRange !== undefined) {
    const v = (typeof ifRange === 'string' ? ifRange : ifRange.join(', ')).trim();
    // An entity tag must match strongly (weak tags never do); a date must equal Last-Modified.
    const matches = v.startsWith('"') || v.startsWith('W/') ? v === file.etag : httpDateSeconds(v) === file.modified;
    if (!matches) return { status: 200, ranges: whole };
  }
  const decision = parseRangeHeader(range, file.size, { maxRanges });
  if (decision.kind === 'ignore') return { status: 200, ranges: whole };
  if (decision.kind === 'unsatisfiable') return { status: 416, ranges: [] };
  return { status: 206, ranges: decision.ranges };
}

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  412: 'Precondition Failed',
  416: 'Range Not Satisfiable',
  500: 'Internal Server Error',
};

/** Per-request state for the log line. */
interface Exchange {
  bytes: number;
}

function sendText(req: IncomingMessage, res: ServerResponse, ex: Exchange, status: number, detail: string, headers: OutgoingHttpHeaders = {}): void {
  const body = `${status} ${REASONS[status] ?? ''}${detail === '' ? '' : `: ${detail}`}\n`;
  res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  ex.bytes += Buffer.byteLength(body);
  res.end(body);
}

const CHUNK = 64 * 1024;

/**
 * The bytes of `[range.start, range.end)` in chunks of at most 64 KiB, read on demand (the
 * consumer's back-pressure decides when the next read happens). A fresh buffer per chunk:
 * the socket may still hold the previous one.
 */
async function* fileRange(fh: FileHandle, range: ByteRange, ex: Exchange): AsyncGenerator<Uint8Array> {
  let at = range.start;
  while (at < range.end) {
    const want = Math.min(CHUNK, range.end - at);
    const { bytesRead, buffer } = await fh.read(Buffer.allocUnsafe(want), 0, want, at);
    if (bytesRead === 0) throw new Error(`the file shrank while it was sent: nothing to read at ${at}, expected bytes up to ${range.end}`);
    at += bytesRead;
    ex.bytes += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

/** A multipart/byteranges body: each part's head, its bytes, then the closing delimiter. */
async function* multipartBody(fh: FileHandle, ranges: readonly ByteRange[], heads: readonly string[], tail: string, ex: Exchange): AsyncGenerator<Uint8Array> {
  for (const [i, r] of ranges.entries()) {
    const head = Buffer.from(heads[i] as string, 'latin1');
    ex.bytes += head.length;
    yield head;
    yield* fileRange(fh, r, ex);
  }
  ex.bytes += tail.length;
  yield Buffer.from(tail, 'latin1');
}

/** Sends a body into the response with back-pressure and ends it; a failure cuts the connection. */
async function sendBody(res: ServerResponse, body: AsyncIterable<Uint8Array>): Promise<void> {
  await pipeline(Readable.from(body, { objectMode: false }), res);
}

async function serveFile(req: IncomingMessage, res: ServerResponse, ex: Exchange, fh: FileHandle, path: string, counters: { partialResponses: number; multipartResponses: number }, maxRanges: number): Promise<void> {
  const st = await fh.stat({ bigint: true });
  if (!st.isFile()) {
    sendText(req, res, ex, 404, 'not a file');
    return;
  }
  const file: FileInfo = {
    size: Number(st.size),
    etag: `"${st.size.toString(16)}-${st.mtimeNs.toString(16)}"`,
    modified: Math.floor(Number(st.mtimeMs) / 1000),
  };
  const type = contentType(path);
  const common: OutgoingHttpHeaders = {
    'Accept-Ranges': 'bytes',
    ETag: file.etag,
    'Last-Modified': new Date(file.modified * 1000).toUTCString(),
  };
  const plan = planResponse(req, file, maxRanges);
  const body = req.method === 'GET';
  switch (plan.status) {
    case 304:
      res.writeHead(304, { ETag: common.ETag, 'Last-Modified': common['Last-Modified'] });
      res.end();
      return;
    case 412:
      sendText(req, res, ex, 412, 'the file has changed', common);
      return;
    case 416:
      sendText(req, res, ex, 416, `the file has ${file.size} bytes`, { ...common, 'Content-Range': `bytes */${file.size}` });
      return;
    case 200:
      res.writeHead(200, { ...common, 'Content-Type': type, 'Content-Length': file.size });
      break;
    case 206: {
      counters.partialResponses++;
      const only = plan.ranges.length === 1 ? plan.ranges[0] : undefined;
      if (only !== undefined) {
        res.writeHead(206, { ...common, 'Content-Type': type, 'Content-Length': only.end - only.start, 'Content-Range': `bytes ${only.start}-${only.end - 1}/${file.size}` });
        break;
      }
      counters.multipartResponses++;
      // Laid out like nginx does it: every delimiter preceded by CRLF, also the first.
      const boundary = randomBytes(12).toString('hex');
      const heads = plan.ranges.map((r) => `\r\n--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: bytes ${r.start}-${r.end - 1}/${file.size}\r\n\r\n`);
      const tail = `\r\n--${boundary}--\r\n`;
      let length = tail.length;
      plan.ranges.forEach((r, i) => {
        length += (heads[i] as string).length + r.end - r.start;
      });
      res.writeHead(206, { ...common, 'Content-Type': `multipart/byteranges; boundary=${boundary}`, 'Content-Length': length });
      if (body) await sendBody(res, multipartBody(fh, plan.ranges, heads, tail, ex));
      else res.end();
      return;
    }
  }
  const only = plan.ranges[0];
  if (body && only !== undefined) await sendBody(res, fileRange(fh, only, ex));
  else res.end();
}

/**
 * Starts a static HTTP/1.1 file server for trying things out: GET and HEAD of regular files
 * below `root`, with `Range` (single, multiple as `multipart/byteranges`, suffix and open),
 * 416 for unsatisfiable ranges, a strong `ETag` from size and modification time,
 * `Last-Modified`, `If-Range`, `If-Match`, `If-None-Match`, `If-Modified-Since`,
 * `If-Unmodified-Since`. Bodies are streamed from the file in 64 KiB reads with back-pressure
 * (any size, also beyond 4 GiB); nothing holds a whole file.
 * Paths are percent-decoded per segment; `..`, encoded slashes and malformed escapes get 400,
 * missing files, directories and symbolic links that lead out of `root` get 404, other
 * methods 405. It is not meant for production: put the files behind nginx or a CDN there.
 *
 * @param options - root directory, address, port, a per-request callback
 * @returns the running server, once it listens
 * @throws {@link ServeError} `ERR_SERVE_ROOT` when `root` is not a readable directory,
 *   `ERR_SERVE_LISTEN` when the address cannot be bound (port in use, no such address)
 * @example
 * ```ts
 * const server = await startStaticServer({ root: './public' });
 * console.log(`serving at ${server.url}`);
 * await server.close();
 * ```
 */
export async function startStaticServer(options: StaticServerOptions): Promise<StaticServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const maxRanges = options.maxRanges ?? 64;
  let root: string;
  try {
    root = await realpath(options.root);
    if (!(await stat(root)).isDirectory()) throw new ServeError('ERR_SERVE_ROOT', `${options.root}: not a directory`);
  } catch (e) {
    if (e instanceof ServeError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new ServeError('ERR_SERVE_ROOT', `${options.root}: ${why}`, { cause: e });
  }
  const counters = { requests: 0, bytesSent: 0, partialResponses: 0, multipartResponses: 0 };
  const running = new Set<Promise<void>>();

  const handle = async (req: IncomingMessage, res: ServerResponse, ex: Exchange): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendText(req, res, ex, 405, `${req.method ?? '?'} is not supported`, { Allow: 'GET, HEAD' });
      return;
    }
    const target = resolveTarget(root, req.url ?? '');
    if (!target.ok) {
      sendText(req, res, ex, 400, target.reason);
      return;
    }
    let fh: FileHandle;
    let real: string;
    try {
      real = await realpath(target.path);
      if (!isInside(root, real)) {
        sendText(req, res, ex, 404, '');
        return;
      }
      fh = await open(real, 'r');
    } catch {
      sendText(req, res, ex, 404, '');
      return;
    }
    try {
      await serveFile(req, res, ex, fh, real, counters, maxRanges);
    } finally {
      await fh.close();
    }
  };

  const server = createServer((req, res) => {
    counters.requests++;
    const ex: Exchange = { bytes: 0 };
    const remote = req.socket.remoteAddress ?? '?';
    res.once('close', () => {
      counters.bytesSent += ex.bytes;
      options.onRequest?.({
        remote,
        method: req.method ?? '?',
        target: req.url ?? '',
        range: req.headers.range,
        status: res.statusCode,
        bytes: ex.bytes,
      });
    });
    const task = handle(req, res, ex).catch((e: unknown) => {
      // Before the head is sent the client learns of the failure; after it, only a cut
      // connection can tell it that the body is incomplete.
      if (!res.headersSent) sendText(req, res, ex, 500, (e as Error).message);
      else res.destroy();
    });
    running.add(task);
    void task.finally(() => running.delete(task));
  });

  await new Promise<void>((resolve, reject) => {
    const failed = (e: NodeJS.ErrnoException): void => {
      const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
      const why =
        e.code === 'EADDRINUSE'
          ? 'the port is already in use (choose another with --port, or --port 0 for a free one)'
          : e.code === 'EACCES'
            ? 'permission denied (ports below 1024 need privileges)'
            : e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN'
              ? `no such local address (${e.code})`
              : e.message;
      reject(new ServeError('ERR_SERVE_LISTEN', `cannot listen on ${where} to serve ${options.root}: ${why}`, { cause: e }));
    };
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.address.includes(':') ? `[${address.address}]` : address.address;
  return {
    url: `http://${urlHost}:${address.port}/`,
    host: address.address,
    port: address.port,
    root,
    stats: counters,
    close: async () => {
      const closed = new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      server.closeAllConnections();
      await closed;
      await Promise.all(running);
    },
  };
}
