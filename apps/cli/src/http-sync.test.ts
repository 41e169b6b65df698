// `gosync sync <URL>` against a real nginx on 127.0.0.1: native indexes and zsync control files.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pseudoRandomBytes, skipWithoutTools, startNginx } from '@gosync/testkit';
import type { RunningNginx } from '@gosync/testkit';
import { startFaultServer, type FaultServer } from '@gosync/testkit/fault-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gosync } from './test-cli.js';

let dir: string;
let seedDir: string;
let nginx: RunningNginx;
const old = pseudoRandomBytes(600_000, 21);
const newBytes = Buffer.concat([
  old.subarray(0, 150_000),
  pseudoRandomBytes(7000, 22),
  old.subarray(150_000, 400_000),
  old.subarray(420_000),
  pseudoRandomBytes(1234, 23),
]);
const MTIME = 1_700_000_000;

function run(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd }, (error, _out, stderr) => {
      if (error === null) resolve();
      else reject(new Error(`${cmd} failed: ${stderr}`));
    });
  });
}

describe.skipIf(skipWithoutTools(['nginx'], 'gosync sync over HTTP'))('gosync sync over HTTP', { timeout: 60_000 }, () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gosync-http-sync-'));
    seedDir = await mkdtemp(join(tmpdir(), 'gosync-http-seed-'));
    await writeFile(join(dir, 'new.bin'), newBytes);
    await utimes(join(dir, 'new.bin'), MTIME, MTIME);
    await writeFile(join(seedDir, 'old.bin'), old);
    const built = await gosync(['index', join(dir, 'new.bin'), '-b', '2048', '-u', 'new.bin', '-q']);
    expect(built.stderr).toBe('');
    nginx = await startNginx({ root: dir });
  }, 60_000);
  afterAll(async () => {
    await nginx.close();
    await rm(dir, { recursive: true, force: true });
    await rm(seedDir, { recursive: true, force: true });
  });

  it('rebuilds from a native index URL, fetching only what the seed lacks, with the mtime', async () => {
    const out = join(seedDir, 'out.bin');
    const r = await gosync(['sync', `${nginx.url}/new.bin.gsi`, '-o', out, '--seed', join(seedDir, 'old.bin'), '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(Buffer.from(await readFile(out)).equals(newBytes)).toBe(true);
    expect(Math.floor((await stat(out)).mtimeMs / 1000)).toBe(MTIME);
    expect(Buffer.from(await readFile(join(seedDir, 'old.bin'))).equals(Buffer.from(old))).toBe(true);
    const summary = JSON.parse(r.stdout) as Record<string, number>;
    expect(summary['httpRequests']).toBeGreaterThanOrEqual(2);
    expect(summary['httpRequests']).toBeLessThanOrEqual(4);
    expect(summary['httpBytesReceived']).toBeGreaterThan(summary['fetchBytes'] ?? 0);
    expect(summary['httpBytesReceived']).toBeLessThan(newBytes.length / 4);
  });

  it.skipIf(skipWithoutTools(['zsyncmake'], 'gosync sync of a .zsync URL'))(
    'rebuilds from a zsyncmake control file URL with a relative URL entry',
    async () => {
      await run('zsyncmake', ['-b', '2048', '-u', 'new.bin', '-o', 'new.bin.zsync', 'new.bin'], dir);
      const out = join(seedDir, 'from-zsync.bin');
      const r = await gosync(['sync', `${nginx.url}/new.bin.zsync`, '-o', out, '--seed', join(seedDir, 'old.bin'), '-q']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(Buffer.from(await readFile(out)).equals(newBytes)).toBe(true);
      expect(Math.floor((await stat(out)).mtimeMs / 1000)).toBe(MTIME);
    },
  );

  it('a local index with --source URLs tries the mirrors in order', async () => {
    const out = join(seedDir, 'mirrored.bin');
    const r = await gosync([
      'sync',
      join(dir, 'new.bin.gsi'),
      '-o',
      out,
      '--seed',
      join(seedDir, 'old.bin'),
      '--source',
      `${nginx.url}/missing.bin`,
      '--source',
      `${nginx.url}/new.bin`,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/HTTP requests/);
    expect(Buffer.from(await readFile(out)).equals(newBytes)).toBe(true);
  });

  it('syncs through a block store with plain GETs when the server has no copy of the file', async () => {
    const storeDir = join(dir, 'store');
    await mkdir(storeDir);
    const copy = join(storeDir, 'data.bin');
    await writeFile(copy, newBytes);
    const built = await gosync(['index', copy, '-b', '2048', '--store', join(storeDir, 'objects-of-data'), '--object-size', '16384']);
    expect(built.stderr).toBe('');
    expect(built.stdout).toContain('block store in');
    await rm(copy); // only the index and the store are published
    const info = await gosync(['info', `${copy}.gsi`, '--json']);
    expect((JSON.parse(info.stdout) as { urls: string[] }).urls).toEqual(['objects-of-data/manifest.gbs']);
    const out = join(seedDir, 'from-store.bin');
    const r = await gosync(['sync', `${nginx.url}/store/data.bin.gsi`, '-o', out, '--seed', join(seedDir, 'old.bin'), '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(Buffer.from(await readFile(out)).equals(newBytes)).toBe(true);
    const summary = JSON.parse(r.stdout) as Record<string, number>;
    // Whole 16 KiB objects around the ~10 KB of changes, never the whole file.
    expect(summary['httpBytesReceived']).toBeLessThan(newBytes.length / 4);

    // --limit-rate holds for a store too: its objects at a rate that needs about 1.5 s beyond the
    // limiter's first second of tokens.
    const objectBytes = (summary['httpBytesReceived'] ?? 0) - (summary['indexBytes'] ?? 0);
    const rate = Math.max(1024, Math.floor(objectBytes / 2.5));
    const limitedOut = join(seedDir, 'from-store-limited.bin');
    const t0 = performance.now();
    const limited = await gosync(['sync', `${nginx.url}/store/data.bin.gsi`, '-o', limitedOut, '--seed', join(seedDir, 'old.bin'), '-q', '--limit-rate', String(rate)]);
    expect(limited.stderr).toBe('');
    expect(limited.code).toBe(0);
    expect(Buffer.from(await readFile(limitedOut)).equals(newBytes)).toBe(true);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1000);
  });

  it('an index URL that answers 404: exit 1 with a code and the URL', async () => {
    const r = await gosync(['sync', `${nginx.url}/nope.gsi`, '-o', join(seedDir, 'x.bin'), '--seed', join(seedDir, 'old.bin')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^gosync: ERR_CLI_INDEX_DOWNLOAD: .*\/nope\.gsi answered 404/);
  });

  it('a data file missing on the server: exit 1 naming status, URL and range; the old output stays', async () => {
    const out = join(seedDir, 'kept.bin');
    await writeFile(out, 'previous version');
    const r = await gosync(['sync', join(dir, 'new.bin.gsi'), '-o', out, '--seed', join(seedDir, 'old.bin'), '--source', `${nginx.url}/gone.bin`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERR_BLOCKSOURCE_HTTP_STATUS: GET .*\/gone\.bin .*answered 404.*\[\d+, \d+\)/);
    expect(await readFile(out, 'utf8')).toBe('previous version');
  });

  it('rejects bad HTTP options as usage errors', async () => {
    const base = ['sync', `${nginx.url}/new.bin.gsi`, '-o', join(seedDir, 'y.bin')];
    expect((await gosync([...base, '--limit-rate', 'fast'])).code).toBe(2);
    expect((await gosync([...base, '--timeout', '0'])).code).toBe(2);
    expect((await gosync([...base, '--source', 'ftp://host/file'])).code).toBe(2);
  });
});

describe('gosync sync: the low-speed rule (--speed-limit, --speed-time)', { timeout: 60_000 }, () => {
  // Two fault servers with the same files: `slow` drips every body 10 bytes per 100 ms, well
  // inside --timeout 1, so only the low-speed rule (1 KiB/s over 1 s here) can end it.
  let lsDir: string;
  let slow: FaultServer;
  let fast: FaultServer;
  beforeAll(async () => {
    lsDir = await mkdtemp(join(tmpdir(), 'gosync-low-speed-'));
    await writeFile(join(lsDir, 'new.bin'), newBytes);
    await writeFile(join(lsDir, 'old.bin'), old);
    const built = await gosync(['index', join(lsDir, 'new.bin'), '-b', '2048', '-u', 'new.bin', '-q']);
    expect(built.stderr).toBe('');
    const index = await readFile(join(lsDir, 'new.bin.gsi'));
    slow = await startFaultServer();
    fast = await startFaultServer();
    for (const server of [slow, fast]) {
      server.setFile('/new.bin', newBytes);
      server.setFile('/new.bin.gsi', index);
    }
    slow.setDefault({ kind: 'drip', intervalMs: 100, bytesPerTick: 10 });
  }, 60_000);
  afterAll(async () => {
    await slow.close();
    await fast.close();
    await rm(lsDir, { recursive: true, force: true });
  });

  it('documents the options in --help', async () => {
    const r = await gosync(['sync', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--speed-limit <r>/);
    expect(r.stdout).toMatch(/--speed-time <s>/);
  });

  it('rejects bad values as usage errors, exit 2', async () => {
    const base = ['sync', `${fast.url}/new.bin.gsi`, '-o', join(lsDir, 'never.bin')];
    for (const bad of [
      ['--speed-limit', 'slow'],
      ['--speed-limit', '1.5x'],
      ['--speed-time', '0'],
      ['--speed-time', '2.5'],
    ]) {
      const r = await gosync([...base, ...bad]);
      expect(r.code, bad.join(' ')).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^gosync: usage: ${bad[0] ?? ''}: `));
    }
    expect(fast.requests).toBe(0);
  });

  it('leaves a mirror that drips for a healthy one and rebuilds the file byte-exact', async () => {
    const out = join(lsDir, 'out.bin');
    const r = await gosync([
      'sync',
      join(lsDir, 'new.bin.gsi'),
      '-o',
      out,
      '--seed',
      join(lsDir, 'old.bin'),
      '--source',
      `${slow.url}/new.bin`,
      '--source',
      `${fast.url}/new.bin`,
      '--timeout',
      '1',
      '--speed-limit',
      '1k',
      '--speed-time',
      '1',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(Buffer.from(await readFile(out)).equals(newBytes)).toBe(true);
    expect((JSON.parse(r.stdout) as Record<string, number>)['retries']).toBeGreaterThanOrEqual(1);
    expect(slow.log.length).toBeGreaterThanOrEqual(1);
  });

  it('an index download that drips: exit 1 with ERR_CLI_INDEX_DOWNLOAD naming the URL and the speed', async () => {
    slow.resetCounters();
    const r = await gosync(['sync', `${slow.url}/new.bin.gsi`, '-o', join(lsDir, 'x.bin'), '--retries', '1', '--timeout', '1', '--speed-time', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^gosync: ERR_CLI_INDEX_DOWNLOAD: .*after 2 attempts: GET .*\/new\.bin\.gsi: the body slowed to [\d.]+ B\/s over the last 1 s/);
    expect(slow.requests).toBe(2);
  });
});
