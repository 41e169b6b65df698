import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { mkdir, mkdtemp, open, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isGosyncError } from '@gosync/core';
import { findTool, pseudoRandomBytes, skipWithoutTools } from '@gosync/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticServer, type RequestLogEntry, type StaticServer } from './serve/static-server.js';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** One raw HTTP request (the path is sent exactly as given: no normalisation of `..`). */
function http(base: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

interface Part {
  readonly contentType: string;
  readonly contentRange: string;
  readonly start: number;
  readonly data: Buffer;
}

/** A strict multipart/byteranges parser for the tests: CRLF only, lengths from Content-Range. */
function parseMultipart(contentType: string, body: Buffer): Part[] {
  const m = /^multipart\/byteranges; boundary=([0-9A-Za-z'()+_,./:=?-]+)$/.exec(contentType);
  if (m === null) throw new Error(`not multipart/byteranges: ${contentType}`);
  const boundary = m[1]!;
  const parts: Part[] = [];
  let at = 0;
  for (;;) {
    const delimiter = `\r\n--${boundary}`;
    expect(body.subarray(at, at + delimiter.length).toString('latin1')).toBe(delimiter);
    at += delimiter.length;
    if (body.subarray(at, at + 4).toString('latin1') === '--\r\n') {
      expect(at + 4).toBe(body.length);
      return parts;
    }
    expect(body.subarray(at, at + 2).toString('latin1')).toBe('\r\n');
    at += 2;
    const headEnd = body.indexOf('\r\n\r\n', at, 'latin1');
    const fields = new Map(
      body
        .subarray(at, headEnd)
        .toString('latin1')
        .split('\r\n')
        .map((line) => {
          const colon = line.indexOf(':');
          return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as const;
        }),
    );
    at = headEnd + 4;
    const contentRange = fields.get('content-range') ?? '';
    const r = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(contentRange);
    if (r === null) throw new Error(`bad part Content-Range ${contentRange}`);
    const start = Number(r[1]);
    const length = Number(r[2]) - start + 1;
    parts.push({ contentType: fields.get('content-type') ?? '', contentRange, start, data: body.subarray(at, at + length) });
    at += length;
  }
}

function exec(file: string, args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, maxBuffer: 64 * 1024 * 1024, encoding: 'latin1' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

/** Waits until `condition` holds (the server logs a request when the response has closed). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

const gosync = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => exec(process.execPath, ['--import', 'tsx', main, ...args]);

let dir: string;
let root: string;
let data: Buffer;
let server: StaticServer;
const log: RequestLogEntry[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gosync-serve-'));
  root = join(dir, 'root');
  await mkdir(join(root, 'sub'), { recursive: true });
  data = Buffer.from(pseudoRandomBytes(300_000, 5));
  await writeFile(join(root, 'data.bin'), data);
  await writeFile(join(root, 'sub', 'a b%.txt'), 'inside\n');
  await writeFile(join(root, 'empty.bin'), '');
  await writeFile(join(dir, 'secret.txt'), 'SECRET\n');
  await symlink(join(dir, 'secret.txt'), join(root, 'escape.txt'));
  await symlink(join(root, 'data.bin'), join(root, 'alias.bin'));
  server = await startStaticServer({ root, onRequest: (e) => log.push(e) });
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('startStaticServer', { timeout: 30_000 }, () => {
  it('listens on 127.0.0.1 with a free port and serves the whole file with validators', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    expect(server.port).toBeGreaterThan(0);
    const r = await http(server.url, '/data.bin');
    expect(r.status).toBe(200);
    expect(r.body.equals(data)).toBe(true);
    expect(r.headers['content-length']).toBe(String(data.length));
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.headers['content-type']).toBe('application/octet-stream');
    expect(r.headers.etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(Date.parse(r.headers['last-modified'] as string)).not.toBeNaN();
    const again = await http(server.url, '/data.bin', {}, 'HEAD');
    expect(again.headers.etag).toBe(r.headers.etag);
  });

  it('answers single ranges byte-exact with 206 and Content-Range', async () => {
    const cases: [string, number, number][] = [
      ['bytes=0-0', 0, 1],
      ['bytes=100-199', 100, 200],
      ['bytes=299999-299999', 299_999, 300_000],
      ['bytes=123456-', 123_456, 300_000],
      ['bytes=250000-999999', 250_000, 300_000],
      ['bytes=-1', 299_999, 300_000],
      ['bytes=-65537', 300_000 - 65_537, 300_000],
      ['bytes=-400000', 0, 300_000],
    ];
    for (const [range, start, end] of cases) {
      const r = await http(server.url, '/data.bin', { Range: range });
      expect(r.status, range).toBe(206);
      expect(r.headers['content-range'], range).toBe(`bytes ${start}-${end - 1}/300000`);
      expect(r.headers['content-length'], range).toBe(String(end - start));
      expect(r.body.equals(data.subarray(start, end)), range).toBe(true);
    }
  });

  it('answers several ranges with multipart/byteranges, parts in the order asked', async () => {
    const r = await http(server.url, '/data.bin', { Range: 'bytes=200000-200099, 0-9,-5,1000-' });
    expect(r.status).toBe(206);
    expect(r.headers['content-length']).toBe(String(r.body.length));
    const parts = parseMultipart(r.headers['content-type'] as string, r.body);
    expect(parts.map((p) => p.contentRange)).toEqual(['bytes 200000-200099/300000', 'bytes 0-9/300000', 'bytes 299995-299999/300000', 'bytes 1000-299999/300000']);
    for (const p of parts) {
      expect(p.contentType).toBe('application/octet-stream');
      expect(p.data.equals(data.subarray(p.start, p.start + p.data.length))).toBe(true);
    }
    // A fresh random boundary each time.
    const other = await http(server.url, '/data.bin', { Range: 'bytes=0-0,2-2' });
    expect(other.headers['content-type']).not.toBe(r.headers['content-type']);
    expect(parseMultipart(other.headers['content-type'] as string, other.body).map((p) => p.data[0])).toEqual([data[0], data[2]]);
  });

  it('answers overlapping ranges that add up to more than the file with the whole file', async () => {
    const r = await http(server.url, '/data.bin', { Range: 'bytes=0-,0-' });
    expect(r.status).toBe(200);
    expect(r.body.equals(data)).toBe(true);
    const many = await http(server.url, '/data.bin', { Range: `bytes=${Array.from({ length: 65 }, (_, i) => `${i * 10}-${i * 10}`).join(',')}` });
    expect(many.status).toBe(200);
    expect(many.body.length).toBe(data.length);
  });

  it('answers 416 with Content-Range: bytes */size when no range is satisfiable', async () => {
    for (const range of ['bytes=300000-', 'bytes=400000-400010,500000-', 'bytes=-0']) {
      const r = await http(server.url, '/data.bin', { Range: range });
      expect(r.status, range).toBe(416);
      expect(r.headers['content-range'], range).toBe('bytes */300000');
    }
    expect((await http(server.url, '/empty.bin', { Range: 'bytes=0-' })).status).toBe(416);
  });

  it('ignores invalid Range headers and other units (200, whole body)', async () => {
    for (const range of ['bytes=5-3', 'bytes=abc', 'items=0-1', 'bytes=0-1;']) {
      const r = await http(server.url, '/data.bin', { Range: range });
      expect(r.status, range).toBe(200);
      expect(r.body.equals(data), range).toBe(true);
    }
  });

  it('honours If-Range: a matching ETag or date gives 206, anything else the whole body', async () => {
    const head = await http(server.url, '/data.bin', {}, 'HEAD');
    const etag = head.headers.etag as string;
    const lastModified = head.headers['last-modified'] as string;
    const ask = (ifRange: string): Promise<Reply> => http(server.url, '/data.bin', { Range: 'bytes=10-19', 'If-Range': ifRange });
    const hit = await ask(etag);
    expect(hit.status).toBe(206);
    expect(hit.body.equals(data.subarray(10, 20))).toBe(true);
    expect((await ask(lastModified)).status).toBe(206);
    for (const stale of ['"0-0"', `W/${etag}`, 'Thu, 01 Jan 1970 00:00:00 GMT', 'not a date']) {
      const r = await ask(stale);
      expect(r.status, stale).toBe(200);
      expect(r.body.equals(data), stale).toBe(true);
    }
  });

  it('answers conditional requests: If-None-Match and If-Modified-Since 304, If-Match 412', async () => {
    const head = await http(server.url, '/data.bin', {}, 'HEAD');
    const etag = head.headers.etag as string;
    const r304 = await http(server.url, '/data.bin', { 'If-None-Match': `"x", ${etag}` });
    expect(r304.status).toBe(304);
    expect(r304.body.length).toBe(0);
    expect(r304.headers.etag).toBe(etag);
    expect((await http(server.url, '/data.bin', { 'If-Modified-Since': head.headers['last-modified'] as string })).status).toBe(304);
    expect((await http(server.url, '/data.bin', { 'If-None-Match': '"other"' })).status).toBe(200);
    expect((await http(server.url, '/data.bin', { 'If-Match': '"other"' })).status).toBe(412);
    expect((await http(server.url, '/data.bin', { 'If-Match': etag, Range: 'bytes=0-1' })).status).toBe(206);
  });

  it('answers HEAD with the headers of GET and no body, ignoring Range', async () => {
    const r = await http(server.url, '/data.bin', { Range: 'bytes=0-9' }, 'HEAD');
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(0);
    expect(r.headers['content-length']).toBe('300000');
    expect(r.headers['accept-ranges']).toBe('bytes');
    const empty = await http(server.url, '/empty.bin');
    expect(empty.status).toBe(200);
    expect(empty.headers['content-length']).toBe('0');
  });

  it('decodes percent-encoding and refuses every way out of the root', async () => {
    const ok = await http(server.url, '/sub/a%20b%25.txt?query=1');
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).toBe('inside\n');
    expect((await http(server.url, '//sub/./a%20b%25.txt')).status).toBe(200);
    const attempts = [
      '/../secret.txt',
      '/sub/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/%2E%2E/secret.txt',
      '/sub/%2e%2e/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/..%5csecret.txt',
      '/%2e%2e%2fsecret.txt',
      '/sub/..',
      '/data.bin%00',
      '/%zz',
      '/escape.txt',
      'secret.txt',
    ];
    for (const path of attempts) {
      const r = await http(server.url, path);
      expect([400, 404], path).toContain(r.status);
      expect(r.body.toString(), path).not.toContain('SECRET');
    }
    expect((await http(server.url, '/../secret.txt')).status).toBe(400);
    expect((await http(server.url, '/escape.txt')).status).toBe(404);
    // A symbolic link that stays inside the root is followed.
    expect((await http(server.url, '/alias.bin', { Range: 'bytes=0-3' })).body.equals(data.subarray(0, 4))).toBe(true);
  });

  it('answers 404 for missing files and directories, 405 for other methods', async () => {
    expect((await http(server.url, '/missing.bin')).status).toBe(404);
    expect((await http(server.url, '/data.bin/x')).status).toBe(404);
    expect((await http(server.url, '/')).status).toBe(404);
    expect((await http(server.url, '/sub/')).status).toBe(404);
    expect((await http(server.url, '/missing.bin', {}, 'HEAD')).body.length).toBe(0);
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const r = await http(server.url, '/data.bin', {}, method);
      expect(r.status, method).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD');
    }
  });

  it('reports each request once with its status and body bytes, and counts them', async () => {
    const before = server.stats.requests;
    log.length = 0;
    await http(server.url, '/data.bin?x', { Range: 'bytes=5-14' });
    await http(server.url, '/missing.bin');
    await until(() => log.length >= 2);
    expect(log).toEqual([
      { remote: '127.0.0.1', method: 'GET', target: '/data.bin?x', range: 'bytes=5-14', status: 206, bytes: 10 },
      expect.objectContaining({ method: 'GET', target: '/missing.bin', range: undefined, status: 404 }),
    ]);
    expect(server.stats.requests).toBe(before + 2);
    expect(server.stats.partialResponses).toBeGreaterThan(0);
    expect(server.stats.multipartResponses).toBeGreaterThan(0);
  });

  it('serves ranges past 4 GiB byte-exact from a sparse file', async (ctx) => {
    const big = join(root, 'big.bin');
    const size = 6 * 2 ** 30;
    const marker = Buffer.from(pseudoRandomBytes(100, 9));
    const fh = await open(big, 'w');
    try {
      await fh.truncate(size);
      await fh.write(marker, 0, marker.length, 5e9);
      await fh.write(marker, 0, marker.length, size - marker.length);
    } catch (e) {
      console.warn(`SKIPPED >4 GiB test: the file system refused a sparse ${size}-byte file (${(e as Error).message})`);
      await fh.close();
      await rm(big, { force: true });
      ctx.skip();
      return;
    }
    await fh.close();
    try {
      const head = await http(server.url, '/big.bin', {}, 'HEAD');
      expect(head.headers['content-length']).toBe(String(size));
      const r = await http(server.url, '/big.bin', { Range: 'bytes=5000000000-5000000099' });
      expect(r.status).toBe(206);
      expect(r.headers['content-range']).toBe(`bytes 5000000000-5000000099/${size}`);
      expect(r.body.equals(marker)).toBe(true);
      const tail = await http(server.url, '/big.bin', { Range: 'bytes=-100' });
      expect(tail.headers['content-range']).toBe(`bytes ${size - 100}-${size - 1}/${size}`);
      expect(tail.body.equals(marker)).toBe(true);
      const multi = await http(server.url, '/big.bin', { Range: `bytes=4999999999-5000000001,${2 ** 32 - 1}-${2 ** 32}` });
      const parts = parseMultipart(multi.headers['content-type'] as string, multi.body);
      expect(parts.map((p) => [p.start, [...p.data]])).toEqual([
        [4_999_999_999, [0, marker[0], marker[1]]],
        [2 ** 32 - 1, [0, 0]],
      ]);
    } finally {
      await rm(big, { force: true });
    }
  });

  it('fails with ERR_SERVE_ROOT for a missing or non-directory root', async () => {
    for (const bad of [join(dir, 'nope'), join(root, 'data.bin')]) {
      const e: unknown = await startStaticServer({ root: bad }).catch((error: unknown) => error);
      expect(isGosyncError(e, 'ERR_SERVE_ROOT')).toBe(true);
      expect((e as Error).message).toContain(bad);
    }
  });

  it('fails with ERR_SERVE_LISTEN naming the address when the port is taken', async () => {
    const e: unknown = await startStaticServer({ root, port: server.port }).catch((error: unknown) => error);
    expect(isGosyncError(e, 'ERR_SERVE_LISTEN')).toBe(true);
    expect((e as Error).message).toContain(`127.0.0.1:${server.port}`);
    expect((e as Error).message).toContain('in use');
  });
});

describe.skipIf(skipWithoutTools(['curl'], 'gosync serve with curl'))('curl against gosync serve', { timeout: 30_000 }, () => {
  it('fetches single ranges, suffix ranges and whole files byte-exact', async () => {
    const curl = findTool('curl') as string;
    for (const [range, start, end] of [
      ['1000-1999', 1000, 2000],
      ['-777', 300_000 - 777, 300_000],
      ['299000-', 299_000, 300_000],
    ] as const) {
      const out = join(dir, 'curl.out');
      const r = await exec(curl, ['-sS', '-f', '-r', range, '-o', out, '-w', '%{http_code}', `${server.url}data.bin`]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('206');
      expect((await readFile(out)).equals(data.subarray(start, end))).toBe(true);
    }
    const whole = join(dir, 'curl.whole');
    expect((await exec(curl, ['-sS', '-f', '-o', whole, `${server.url}data.bin`])).code).toBe(0);
    expect((await readFile(whole)).equals(data)).toBe(true);
  });
});

describe.skipIf(skipWithoutTools(['zsync', 'zsyncmake'], 'gosync serve with zsync'))('zsync 0.6.2 against gosync serve', { timeout: 60_000 }, () => {
  it('rebuilds a file from an old version, fetching the rest with multi-range requests', async () => {
    const work = join(dir, 'zsync-work');
    await mkdir(work);
    // The new version: 1 MiB; the old one differs in scattered places, so several separate
    // runs of blocks are missing and zsync asks for them in multi-range requests.
    const next = Buffer.from(pseudoRandomBytes(1 << 20, 11));
    const old = Buffer.from(next);
    for (let i = 0; i < 12; i++) old.fill(i + 1, 20_000 + i * 80_000, 20_000 + i * 80_000 + 3000);
    await writeFile(join(root, 'next.bin'), next);
    await utimes(join(root, 'next.bin'), 1_700_000_000, 1_700_000_000);
    await writeFile(join(work, 'old.bin'), old);
    const made = await exec(findTool('zsyncmake') as string, ['-b', '2048', '-u', 'next.bin', '-o', join(root, 'next.bin.zsync'), join(root, 'next.bin')]);
    expect(made.code, made.stderr).toBe(0);
    const before = { ...server.stats };
    log.length = 0;
    const run = await exec(findTool('zsync') as string, ['-q', '-i', join(work, 'old.bin'), '-o', join(work, 'out.bin'), `${server.url}next.bin.zsync`], work);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect((await readFile(join(work, 'out.bin'))).equals(next)).toBe(true);
    await until(() => server.stats.requests === before.requests + log.length);
    expect(server.stats.multipartResponses).toBeGreaterThan(before.multipartResponses);
    const fetched = log.filter((e) => e.target === '/next.bin').reduce((n, e) => n + e.bytes, 0);
    expect(fetched).toBeGreaterThan(0);
    expect(fetched).toBeLessThan(next.length / 4);
  });
});

/** Starts `gosync serve` and resolves with its URL once it prints the line for scripts. */
function startCli(args: string[]): Promise<{ child: ChildProcess; url: string; stderr: () => string; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', main, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      resolve(code);
    });
  });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /^serving (.+) at (http:\/\/\S+)\n/.exec(out);
      if (m !== null) resolve({ child, url: m[2]!, stderr: () => err, exit });
    });
    void exit.then((code) => {
      reject(new Error(`gosync serve exited with ${String(code)}: ${err}`));
    });
  });
}

describe('gosync serve (the CLI)', { timeout: 120_000 }, () => {
  it('explains itself, mentions real servers, and exits 2 on usage errors', async () => {
    const help = await gosync(['serve', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('nginx');
    expect(help.stdout).toContain('Exit codes:');
    expect((await gosync(['--help'])).stdout).toContain('gosync serve <dir>');
    for (const args of [['serve'], ['serve', root, root], ['serve', root, '--port', '70000'], ['serve', root, '--port', 'x'], ['serve', root, '--bogus']]) {
      const r = await gosync(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('gosync serve --help');
    }
  });

  it('prints its URL, logs requests to stderr and stops with exit 0 on SIGTERM and SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const cli = await startCli([root, '--port', '0']);
      expect(cli.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const r = await http(cli.url, '/data.bin', { Range: 'bytes=0-9' });
      expect(r.body.equals(data.subarray(0, 10))).toBe(true);
      cli.child.kill(signal);
      expect(await cli.exit).toBe(0);
      expect(cli.stderr()).toMatch(/127\.0\.0\.1 "GET \/data\.bin" 206 10 \(Range: bytes=0-9\)/);
    }
  });

  it('logs nothing with --quiet', async () => {
    const cli = await startCli([root, '--port', '0', '--quiet']);
    expect((await http(cli.url, '/data.bin', {}, 'HEAD')).status).toBe(200);
    cli.child.kill('SIGTERM');
    expect(await cli.exit).toBe(0);
    expect(cli.stderr()).toBe('');
  });

  it('exits 1 naming the directory or the port when it cannot start', async () => {
    const missing = await gosync(['serve', join(dir, 'nope'), '--port', '0']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('ERR_SERVE_ROOT');
    expect(missing.stderr).toContain(join(dir, 'nope'));
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = await gosync(['serve', root, '--port', String(port)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('ERR_SERVE_LISTEN');
      expect(r.stderr).toContain(`127.0.0.1:${port}`);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });
});
