// The bundled `gosync` (dist/bundle/gosync.js, the package's bin) behaves like the sources: it
// starts its worker threads from beside the bundle and finds zstd's wasm file. Runs the bundle
// that `pnpm build` wrote (turbo builds the CLI before testing it).
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bundle = fileURLToPath(new URL('../dist/bundle/gosync.js', import.meta.url));

function run(args: readonly string[], cwd: string, program = bundle): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [program, ...args], { cwd }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

/** Deterministic pseudo-random bytes (xorshift32). */
function noise(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

describe('the bundled gosync', () => {
  let dir: string;
  let target: Uint8Array;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gosync-bundle-'));
    // Compressible text with noise between: a seed that shares most of it, shifted.
    const text = new TextEncoder().encode('the quick brown fox jumps over the lazy dog\n'.repeat(40_000));
    target = new Uint8Array(text.length + 300_000);
    target.set(text.subarray(0, 900_000), 0);
    target.set(noise(300_000, 7), 900_000);
    target.set(text.subarray(900_000), 1_200_000);
    const seed = new Uint8Array(target.length);
    seed.set(noise(777, 3), 0);
    seed.set(target.subarray(0, 1_000_000), 777);
    seed.set(target.subarray(1_500_000, 1_500_000 + seed.length - 1_000_777), 1_000_777);
    await writeFile(join(dir, 'new.bin'), target);
    await writeFile(join(dir, 'old.bin'), seed);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('has every worker script its code starts beside it', async () => {
    // The packages start workers by file name next to their own module: in the bundle, next to
    // the bundle's files (the program and its chunks). A missing one fails a run, or (compress)
    // silently runs on one thread.
    const dir = fileURLToPath(new URL('../dist/bundle/', import.meta.url));
    const files = (await readdir(dir)).filter((f) => f.endsWith('.js'));
    const code = (await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')))).join('\n');
    const names = new Set([...code.matchAll(/["'](?:\.\/)?([a-z]+(?:-[a-z]+)*-worker)(?:\.js)?["']/g)].map((m) => m[1] as string));
    expect([...names].sort()).toEqual(['compress-worker', 'hash-worker', 'scan-worker', 'verify-worker']);
    for (const name of names) expect(existsSync(fileURLToPath(new URL(`../dist/bundle/${name}.js`, import.meta.url))), name).toBe(true);
  });

  it('prints the version of @gosync/cli', async () => {
    const pkg = JSON.parse(await readFile(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version: string };
    const result = await run(['--version'], dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`gosync ${pkg.version} (Node ${process.version})\n`);
    // Also when the bundle is copied away from the repository: the version is built in.
    const copy = join(dir, 'copied-bundle');
    await cp(dirname(bundle), copy, { recursive: true });
    const moved = await run(['--version'], dir, join(copy, 'gosync.js'));
    expect(moved.stdout).toBe(`gosync ${pkg.version} (Node ${process.version})\n`);
  });

  it('indexes with hashing workers and syncs with scanning workers, byte-exact', async () => {
    const index = await run(['index', 'new.bin', '-o', 'new.gsi', '-u', 'new.bin', '--workers', '2', '--block-size', '1024'], dir);
    expect(index.stderr).toBe('');
    expect(index.code).toBe(0);
    const sync = await run(['sync', 'new.gsi', '-o', 'out.bin', '--seed', 'old.bin', '--source', 'new.bin', '--workers', '2', '--json'], dir);
    expect(sync.stderr).toBe('');
    expect(sync.code).toBe(0);
    const summary = JSON.parse(sync.stdout) as { reusedBytes: number; fetchedBytes: number };
    expect(summary.reusedBytes).toBeGreaterThan(1_000_000);
    expect(summary.fetchedBytes).toBeGreaterThan(0);
    expect(Buffer.compare(await readFile(join(dir, 'out.bin')), target)).toBe(0);
  });

  it('writes and reads a zstd artifact (the wasm file travels with the bundle)', async () => {
    const index = await run(['index', 'new.bin', '-o', 'z.gsi', '-u', 'new.bin', '--compress', 'zstd'], dir);
    expect(index.stderr).toBe('');
    expect(index.code).toBe(0);
    const sync = await run(['sync', 'z.gsi', '-o', 'outz.bin', '--seed', 'old.bin', '--json'], dir);
    expect(sync.stderr).toBe('');
    expect(sync.code).toBe(0);
    expect(Buffer.compare(await readFile(join(dir, 'outz.bin')), target)).toBe(0);
  });

  it('serves and syncs over HTTP with its own undici subset', async () => {
    const index = await run(['index', 'new.bin', '-o', 'h.gsi', '-u', 'new.bin'], dir);
    expect(index.code).toBe(0);
    const server = spawn(process.execPath, [bundle, 'serve', dir, '--port', '0', '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let text = '';
        server.stdout.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          const found = /http:\/\/127\.0\.0\.1:\d+/.exec(text);
          if (found !== null) resolve(found[0]);
        });
        server.on('exit', (code) => {
          reject(new Error(`gosync serve exited with ${String(code)}: ${text}`));
        });
      });
      const sync = await run(['sync', `${url}/h.gsi`, '-o', 'outh.bin', '--seed', 'old.bin', '--json'], dir);
      expect(sync.stderr).toBe('');
      expect(sync.code).toBe(0);
      const summary = JSON.parse(sync.stdout) as { httpRequests: number; fetchedBytes: number };
      expect(summary.httpRequests).toBeGreaterThanOrEqual(2);
      expect(summary.fetchedBytes).toBeGreaterThan(0);
      expect(Buffer.compare(await readFile(join(dir, 'outh.bin')), target)).toBe(0);
      const missing = await run(['sync', `${url}/absent.gsi`, '-o', 'x.bin', '--retries', '0'], dir);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('404');
    } finally {
      server.kill();
    }
  });
});
