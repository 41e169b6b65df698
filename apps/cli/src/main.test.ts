import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pseudoRandomBytes, skipWithoutTools } from '@gosync/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gosync } from './test-cli.js';


let dir: string;
let file: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gosync-cli-'));
  file = join(dir, 'data.bin');
  await writeFile(file, pseudoRandomBytes(100_000, 42));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('gosync CLI', { timeout: 30_000 }, () => {
  it('builds a native index and describes it', async () => {
    const built = await gosync(['index', file, '--block-size', '4096', '-u', 'data.bin']);
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    expect(built.stdout).toContain('25 blocks of 4096 bytes');
    const info = await gosync(['info', `${file}.gsi`, '--json']);
    expect(info.code).toBe(0);
    const json = JSON.parse(info.stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ format: 'native', fileLength: 100_000, blockSize: 4096, blocks: 25, strongHash: 'xxh128', urls: ['data.bin'], filename: 'data.bin' });
    const text = await gosync(['info', `${file}.gsi`]);
    expect(text.stdout).toMatch(/format\s+native \(\.gsi\)/);
    expect(text.stdout).toMatch(/blocks\s+25/);
  });

  it('writes .zsync and .gosync with -o and reads them back', async () => {
    for (const format of ['zsync', 'gosync'] as const) {
      const out = join(dir, `out.${format}`);
      const built = await gosync(['index', file, '--format', format, '-o', out, '-b', '2048', '-q']);
      expect(built.code, built.stderr).toBe(0);
      expect(built.stdout).toBe('');
      const head = (await readFile(out)).subarray(0, 6).toString('latin1');
      expect(head).toBe(format === 'zsync' ? 'zsync:' : 'G0S9NC');
      const info = JSON.parse((await gosync(['info', out, '--json'])).stdout) as Record<string, unknown>;
      expect(info).toMatchObject({ format, blocks: 49, strongHash: format === 'zsync' ? 'md4' : 'md5' });
    }
  });

  it('builds a chunk-based index', async () => {
    const out = join(dir, 'chunks.gsi');
    const built = await gosync(['index', file, '--chunks', '--avg-size', '4096', '-o', out]);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stdout).toMatch(/chunks of at most 16384 bytes/);
    const info = JSON.parse((await gosync(['info', out, '--json'])).stdout) as Record<string, unknown>;
    expect(info).toMatchObject({ kind: 'chunks', fileLength: 100_000, blockSize: 16384 });
    expect((await gosync(['index', file, '--chunks', '--avg-size', '1000'])).code).toBe(1);
    expect((await gosync(['index', file, '--avg-size', '4096'])).code).toBe(2);
  });

  it('explains itself with --help and exit code 0', async () => {
    for (const args of [['--help'], ['index', '--help'], ['info', '--help']]) {
      const r = await gosync(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Exit codes:');
    }
  });

  it('exits 2 on usage errors and 1 with the code on failures', async () => {
    expect((await gosync([])).code).toBe(2);
    const unknown = await gosync(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command');
    expect((await gosync(['index', file, '--format', 'tar'])).code).toBe(2);
    const bogus = await gosync(['index', file, '--bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toBe('gosync: usage: unknown option --bogus\nRun `gosync index --help` for help.\n');
    expect((await gosync(['index', file, '--format', 'zsync', '--hash', 'sha256'])).code).toBe(2);
    expect((await gosync(['index'])).code).toBe(2);
    const missing = await gosync(['index', join(dir, 'missing.bin')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^gosync: ERR_INDEX_IO: /);
    await writeFile(join(dir, 'junk.gsi'), 'not an index');
    const junk = await gosync(['info', join(dir, 'junk.gsi')]);
    expect(junk.code).toBe(1);
    expect(junk.stderr).toMatch(/^gosync: ERR_INDEX_BAD_MAGIC: /);
  });
});

describe.skipIf(skipWithoutTools(['zsync'], 'CLI .zsync output read by the zsync client'))('CLI output with the zsync client', { timeout: 30_000 }, () => {
  it('produces a .zsync that zsync 0.6.2 uses to rebuild from a local file', async () => {
    const out = join(dir, 'client.zsync');
    expect((await gosync(['index', file, '-f', 'zsync', '-o', out, '-u', 'data.bin'])).code).toBe(0);
    // With the complete target as seed, zsync needs no network at all.
    const seedDir = await mkdtemp(join(dir, 'seed-'));
    await writeFile(join(seedDir, 'seed.bin'), await readFile(file));
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile('zsync', ['-q', '-i', 'seed.bin', '-o', 'rebuilt.bin', out], { cwd: seedDir }, (error, _o, stderr) => {
        resolve({ code: error === null ? 0 : 1, stderr });
      });
    });
    expect(r.code, r.stderr).toBe(0);
    expect(Buffer.compare(await readFile(join(seedDir, 'rebuilt.bin')), await readFile(file))).toBe(0);
  });
});
