// What `gosync sync` does with the mistakes and habits of its users: running it again, an
// output that is a directory, no source for the missing bytes, the file's URL given instead of
// its index's, Ctrl-C, a full disk. Against the fault-injecting server of @gosync/testkit on 127.0.0.1.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pseudoRandomBytes } from '@gosync/testkit';
import { startFaultServer, type FaultServer } from '@gosync/testkit/fault-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gosync } from './test-cli.js';

const old = pseudoRandomBytes(400_000, 31);
const newBytes = Buffer.concat([old.subarray(0, 100_000), pseudoRandomBytes(9000, 32), old.subarray(100_000)]);

describe('gosync sync, used as people do', { timeout: 120_000 }, () => {
  let dir: string;
  let server: FaultServer;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gosync-sync-ux-'));
    await writeFile(join(dir, 'new.bin'), newBytes);
    await writeFile(join(dir, 'old.bin'), old);
    expect((await gosync(['index', join(dir, 'new.bin'), '-b', '2048', '-u', 'new.bin', '-q'])).code).toBe(0);
    expect((await gosync(['index', join(dir, 'new.bin'), '-b', '2048', '-o', join(dir, 'nourl.gsi'), '-q'])).code).toBe(0);
    server = await startFaultServer();
    server.setFile('/new.bin', newBytes);
    server.setFile('/new.bin.gsi', await readFile(join(dir, 'new.bin.gsi')));
    server.setFile('/big.bin', pseudoRandomBytes(4_000_000, 33));
  }, 120_000);
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('run again without --seed, reuses the output it wrote and fetches nothing', async () => {
    const out = join(dir, 'again.bin');
    const first = await gosync(['sync', `${server.url}/new.bin.gsi`, '-o', out, '--seed', join(dir, 'old.bin'), '--json']);
    expect(first.stderr).toBe('');
    expect((JSON.parse(first.stdout) as { fetchedBytes: number }).fetchedBytes).toBeGreaterThan(0);
    const second = await gosync(['sync', `${server.url}/new.bin.gsi`, '-o', out, '--json']);
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    expect((JSON.parse(second.stdout) as { fetchedBytes: number; reusedBytes: number }).fetchedBytes).toBe(0);
    expect(Buffer.compare(await readFile(out), newBytes)).toBe(0);
  });

  it('an output that is a directory is a usage error, before any request', async () => {
    await mkdir(join(dir, 'adir'), { recursive: true });
    server.resetCounters();
    const r = await gosync(['sync', `${server.url}/new.bin.gsi`, '-o', join(dir, 'adir'), '--seed', join(dir, 'old.bin')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is a directory');
    expect(server.requests).toBe(0);
    expect(existsSync(join(dir, 'adir.gosync-part'))).toBe(false);
  });

  it('no source for the missing bytes: the error says how to give one', async () => {
    const r = await gosync(['sync', join(dir, 'nourl.gsi'), '-o', join(dir, 'nosource.bin'), '--seed', join(dir, 'old.bin')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^gosync: ERR_PATCHER_NO_SOURCE: .*--source .*gosync index -u/);
  });

  it("the file's URL instead of its index's fails at its first bytes, not after the whole file", async () => {
    // After its first 64 KiB the server sends a byte a second: reading the whole file would
    // take days, so only stopping at the first bytes lets this test end.
    server.plan({ kind: 'drip', intervalMs: 1000, bytesPerTick: 1, afterBytes: 65_536 });
    const r = await gosync(['sync', `${server.url}/big.bin`, '-o', join(dir, 'big.out'), '--retries', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^gosync: ERR_INDEX_BAD_MAGIC: .*big\.bin: not a .*index.*is it the file itself/);
  });

  it('Ctrl-C: says that the next run resumes, exits 130 and keeps the part file', async () => {
    const out = join(dir, 'interrupted.bin');
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', main, 'sync', `${server.url}/new.bin.gsi`, '-o', out, '--seed', join(dir, 'old.bin')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // The index is answered; the first block request stalls, and then comes the Ctrl-C.
    server.resetCounters();
    server.onRequest((count) => {
      if (count === 2) {
        server.setDefault({ kind: 'stall' });
        setTimeout(() => child.kill('SIGINT'), 300);
      }
    });
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => {
        resolve(c);
      });
    });
    server.onRequest(undefined);
    server.setDefault(undefined);
    expect(code).toBe(130);
    expect(stderr).toContain('interrupted by SIGINT');
    expect(stderr).toContain('run the same command again to resume');
    expect(existsSync(`${out}.gosync-part`)).toBe(true);
    const help = await gosync(['sync', '--help']);
    expect(help.stdout).toContain('130, 143  interrupted by Ctrl-C (SIGINT) or SIGTERM');
  });

  it('a full disk: exit 1, ERR_PATCHER_IO naming the part file and ENOSPC, how to go on, and the old version intact', async (ctx) => {
    // A real full filesystem: a 512 KiB tmpfs (mounting needs root, as in CI), holding the old
    // version (400 kB) that the sync updates in place.
    const tiny = join(dir, 'tiny');
    await mkdir(tiny);
    if (!(await succeeds('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', tiny]))) ctx.skip();
    try {
      const out = join(tiny, 'app.bin');
      await writeFile(out, old);
      const run = await gosync(['sync', `${server.url}/new.bin.gsi`, '-o', out]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^gosync: ERR_PATCHER_IO: cannot write .*app\.bin\.gosync-part at offset \d+: ENOSPC/);
      expect(run.stderr).toContain(`${out}.gosync-part keeps what was written, and the next run reuses it`);
      expect(run.stderr).toContain(`free about the file's size, 409000 bytes (399.4 KiB), and run the same command again, or delete ${out}.gosync-part first`);
      expect(existsSync(`${out}.gosync-part`)).toBe(true);
      expect(Buffer.compare(await readFile(out), old)).toBe(0);
    } finally {
      await succeeds('umount', [tiny]);
    }
  });
});

/** Runs a program; resolves whether it exited with 0. */
function succeeds(program: string, args: readonly string[]): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(program, args, (error) => {
      resolve(error === null);
    });
  });
}
