// `gosync index` failures name the real output with ERR_CLI_IO and leave no temporary file;
// an index without URLs gets a note on stderr. Runs the CLI from source, as a user would.
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pseudoRandomBytes } from '@gosync/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './cli.js';
import { gosync } from './test-cli.js';

const NOTE = 'note: no URL stored (-u): clients will need --source <URL of the file>\n';

let dir: string;
let file: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gosync-index-errors-'));
  file = join(dir, 'new.bin');
  await writeFile(file, pseudoRandomBytes(50_000, 7));
  await writeFile(join(dir, 'a-file'), 'not a directory');
});
afterAll(async () => {
  await chmod(join(dir, 'ro'), 0o755).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

/** Escapes `text` for a RegExp. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Entries of `where` that look like a temporary file of gosync index or compressFile. */
async function leftovers(where: string): Promise<string[]> {
  return (await readdir(where)).filter((name) => name.includes('.tmp'));
}

describe('gosync index: output failures', { timeout: 30_000 }, () => {
  it('a missing output directory: ERR_CLI_IO naming the output (ENOENT)', async () => {
    const output = join(dir, 'no-such-dir', 'x.gsi');
    const r = await gosync(['index', file, '-o', output]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^gosync: ERR_CLI_IO: cannot write the index ${literal(output)}: ENOENT: no such file or directory\\n$`));
    expect(r.stderr).not.toContain('.tmp-');
    expect(await leftovers(dir)).toEqual([]);
  });

  it('an output under a file: ERR_CLI_IO naming the output (ENOTDIR)', async () => {
    const output = join(dir, 'a-file', 'x.gsi');
    const r = await gosync(['index', file, '-o', output]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^gosync: ERR_CLI_IO: cannot write the index ${literal(output)}: ENOTDIR: not a directory\\n$`));
    expect(r.stderr).not.toContain('.tmp-');
    expect(await leftovers(dir)).toEqual([]);
  });

  it('an output that is a directory: the written temporary file is removed (EISDIR)', async () => {
    const output = join(dir, 'a-dir');
    await mkdir(output, { recursive: true });
    const r = await gosync(['index', file, '-o', output]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^gosync: ERR_CLI_IO: cannot write the index ${literal(output)}: E[A-Z]+: `));
    expect(r.stderr).not.toContain('.tmp-');
    expect(await leftovers(dir)).toEqual([]);
    expect(await readdir(output)).toEqual([]);
  });

  it('an artifact under a file: ERR_CLI_IO naming the artifact, no index and no temporary files', async () => {
    const output = join(dir, 'c.gsi');
    const artifact = join(dir, 'a-file', 'c.gsz');
    const r = await gosync(['index', file, '-o', output, '--compress', 'zstd', '--artifact', artifact]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^gosync: ERR_CLI_IO: cannot write the artifact ${literal(artifact)}: ENOTDIR: not a directory\\n$`));
    expect(await leftovers(dir)).toEqual([]);
    expect(await readdir(dir)).not.toContain('c.gsi');
  });

  it('a missing input with --compress: ERR_CLI_IO naming the input', async () => {
    const input = join(dir, 'missing.bin');
    const r = await gosync(['index', input, '-o', join(dir, 'm.gsi'), '--compress', 'zstd']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^gosync: ERR_CLI_IO: cannot read ${literal(input)}: ENOENT: no such file or directory\\n$`));
    expect(await leftovers(dir)).toEqual([]);
  });

  it.skipIf(process.getuid?.() === 0)('a read-only output directory: ERR_CLI_IO naming the output (EACCES; skipped as root, who may write anyway)', async () => {
    const ro = join(dir, 'ro');
    await mkdir(ro, { recursive: true });
    await chmod(ro, 0o555);
    const output = join(ro, 'x.gsi');
    const r = await gosync(['index', file, '-o', output]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^gosync: ERR_CLI_IO: cannot write the index ${literal(output)}: EACCES: permission denied\\n$`));
    expect(await leftovers(ro)).toEqual([]);
  });
});

describe('gosync index: the note about a missing URL', { timeout: 30_000 }, () => {
  it('is printed on stderr without -u, in the native and zsync formats', async () => {
    for (const [format, name] of [['native', 'n.gsi'], ['zsync', 'n.zsync']] as const) {
      const r = await gosync(['index', file, '-f', format, '-o', join(dir, name)]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe(NOTE);
    }
  });

  it('is not printed with -u, with -q, with --store or --compress, or in the gosync format', async () => {
    const runs = [
      ['-u', 'new.bin', '-o', join(dir, 'u.gsi')],
      ['-u', 'new.bin', '-f', 'zsync', '-o', join(dir, 'u.zsync')],
      ['-q', '-o', join(dir, 'q.gsi')],
      ['--store', join(dir, 'store'), '-o', join(dir, 's.gsi')],
      ['--compress', 'gzip', '-o', join(dir, 'z.gsi')],
      ['-f', 'gosync', '-o', join(dir, 'g.gosync')],
    ];
    for (const args of runs) {
      const r = await gosync(['index', file, ...args]);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stderr, args.join(' ')).toBe('');
    }
  });

  it('is documented under -u in gosync index --help', async () => {
    const r = await gosync(['index', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/-u, --url <url>[^]*--source <URL of the file>; a note on stderr says so/);
  });
});

describe('run(): the last-resort error line', () => {
  /** Runs `gosync index --help` with a stdout that throws `error`; returns the exit code and stderr. */
  async function failing(error: unknown): Promise<{ code: number; stderr: string }> {
    let stderr = '';
    const code = await run(['index', '--help'], {
      stdout: () => {
        throw error;
      },
      stderr: (text) => {
        stderr += text;
      },
    });
    return { code, stderr };
  }

  it('prints a Node system error once, as ERR_CLI_IO', async () => {
    const epipe = Object.assign(new Error('EPIPE: broken pipe, write'), { errno: -32, code: 'EPIPE', syscall: 'write' });
    expect(await failing(epipe)).toEqual({ code: 1, stderr: 'gosync: ERR_CLI_IO: EPIPE: broken pipe, write\n' });
  });

  it('prints anything else as ERR_UNEXPECTED', async () => {
    expect(await failing(new RangeError('out of range'))).toEqual({ code: 1, stderr: 'gosync: ERR_UNEXPECTED: out of range\n' });
    expect(await failing('a string')).toEqual({ code: 1, stderr: 'gosync: ERR_UNEXPECTED: a string\n' });
  });
});
