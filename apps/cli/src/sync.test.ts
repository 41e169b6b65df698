import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pseudoRandomBytes } from '@gosync/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gosync } from './test-cli.js';

let dir: string;
let oldFile: string;
let newFile: string;
let newBytes: Uint8Array;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gosync-cli-sync-'));
  const old = pseudoRandomBytes(400_000, 7);
  newBytes = Buffer.concat([old.subarray(0, 100_000), pseudoRandomBytes(5000, 8), old.subarray(100_000, 300_000), old.subarray(310_000)]);
  oldFile = join(dir, 'old.bin');
  newFile = join(dir, 'new.bin');
  await writeFile(oldFile, old);
  await writeFile(newFile, newBytes);
  const built = await gosync(['index', newFile, '-b', '4096', '-u', 'new.bin', '-q']);
  expect(built.code).toBe(0);
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('gosync sync and diff', { timeout: 30_000 }, () => {
  it('diff shows the plan without writing anything', async () => {
    const text = await gosync(['diff', `${newFile}.gsi`, '--seed', oldFile]);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/reused\s+\d+ bytes/);
    const json = await gosync(['diff', `${newFile}.gsi`, '--seed', oldFile, '--json']);
    const plan = JSON.parse(json.stdout) as Record<string, number>;
    expect(plan['targetBytes']).toBe(newBytes.length);
    expect(plan['reusedBytes']! + plan['fetchBytes']! + plan['duplicateBytes']!).toBe(newBytes.length);
    expect(plan['fetchBytes']).toBeGreaterThan(5000);
    expect(plan['fetchBytes']).toBeLessThan(30_000);
  });

  it('rebuilds the file from the seed, fetching the rest from the URL next to the index', async () => {
    const out = join(dir, 'out.bin');
    const run = await gosync(['sync', `${newFile}.gsi`, '-o', out, '--seed', oldFile, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout) as Record<string, number | string | boolean>;
    expect(summary).toMatchObject({ output: out, targetBytes: newBytes.length, resumed: false });
    expect(Buffer.from(await readFile(out)).equals(Buffer.from(newBytes))).toBe(true);
    expect(summary['fetchedBytes']).toBe(summary['fetchBytes']);
    const line = await gosync(['sync', `${newFile}.gsi`, '-o', out, '--seed', oldFile, '--source', newFile]);
    expect(line.stdout).toMatch(/out\.bin: \d+ bytes .*reused .*fetched .* in \d+ ranges; [\d.]+ s/);
  });

  it('syncs in place: the output may be the seed', async () => {
    const copy = join(dir, 'inplace.bin');
    await copyFile(oldFile, copy);
    const run = await gosync(['sync', `${newFile}.gsi`, '-o', copy, '--seed', copy, '-q']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
    expect(Buffer.from(await readFile(copy)).equals(Buffer.from(newBytes))).toBe(true);
  });

  it('fails with a code and leaves the old output when the source holds other bytes', async () => {
    const out = join(dir, 'kept.bin');
    await writeFile(out, 'previous');
    const wrong = join(dir, 'wrong.bin');
    await writeFile(wrong, pseudoRandomBytes(newBytes.length, 99));
    const run = await gosync(['sync', `${newFile}.gsi`, '-o', out, '--seed', oldFile, '--source', wrong]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^gosync: ERR_[A-Z_]+: /);
    expect(run.stderr).toMatch(/block|range/);
    expect(await readFile(out, 'utf8')).toBe('previous');
  });

  it('without any source for missing blocks: ERR_PATCHER_NO_SOURCE, exit 1', async () => {
    const lonely = join(dir, 'lonely.bin');
    await copyFile(newFile, lonely);
    const built = await gosync(['index', lonely, '-b', '4096', '-q']);
    expect(built.code).toBe(0);
    const run = await gosync(['sync', `${lonely}.gsi`, '-o', join(dir, 'x.bin'), '--seed', oldFile]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/ERR_PATCHER_NO_SOURCE/);
  });

  it('usage errors exit 2; --help explains and lists exit codes', async () => {
    expect((await gosync(['sync', `${newFile}.gsi`])).code).toBe(2);
    expect((await gosync(['sync'])).code).toBe(2);
    expect((await gosync(['sync', 'a', 'b', '-o', 'c'])).code).toBe(2);
    const help = await gosync(['sync', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes');
    expect(help.stdout).toContain('--seed');
    expect((await gosync(['diff', '--help'])).stdout).toContain('without fetching');
  });
});
