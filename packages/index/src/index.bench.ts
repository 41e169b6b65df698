/**
 * Index build benchmark: `pnpm --filter @gosync/index bench` (GOSYNC_BENCH_MB, default 512);
 * build the package first (the child measures `dist/`).
 * Builds indexes of one generated pseudo-random file with ours (in a child process, for its
 * peak RSS) and with zsyncmake, at the same block size, and compares index sizes with
 * zsyncmake's .zsync and rdiff's signature. Prints tables; deletes the file afterwards.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { findTool, writePseudoRandomFile } from '@gosync/testkit';
import { createStrongHasher, STRONG_HASH_NAMES, WeakSumTable, type BuildProfile } from './index.js';
import type * as IndexModule from './index.js';

const run = promisify(execFile);
const self = fileURLToPath(import.meta.url);

interface ChildResult {
  readonly seconds: number;
  readonly maxRssMiB: number;
  readonly indexBytes: number;
  readonly blocks: number;
  readonly blockSize: number;
}

async function child(): Promise<void> {
  const [, , , path, profile, blockSizeText, workersText] = process.argv;
  // Measure the built package (worker threads load plain JavaScript, as in production).
  const { buildIndex, encodeGosync, encodeIndex, encodeZsync } = (await import(
    new URL('../dist/index.js', import.meta.url).href
  )) as typeof IndexModule;
  const start = performance.now();
  const index = await buildIndex(path as string, {
    profile: profile as BuildProfile,
    ...(blockSizeText === 'auto' ? {} : { blockSize: Number(blockSizeText) }),
    ...(workersText === 'auto' ? {} : { workers: Number(workersText) }),
  });
  const bytes = profile === 'zsync' ? encodeZsync(index) : profile === 'gosync' ? encodeGosync(index) : encodeIndex(index);
  const seconds = (performance.now() - start) / 1000;
  const result: ChildResult = {
    seconds,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    indexBytes: bytes.length,
    blocks: index.count,
    blockSize: index.blockSize,
  };
  process.stdout.write(JSON.stringify(result));
}

function ours(path: string, profile: BuildProfile, blockSize: string, workers: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', self, '--child', path, profile, blockSize, workers], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out) as ChildResult);
      else reject(new Error(`child exited ${String(code)}`));
    });
  });
}

async function timed(cmd: string, args: string[]): Promise<number> {
  const start = performance.now();
  await run(cmd, args, { maxBuffer: 1 << 20 });
  return (performance.now() - start) / 1000;
}

async function hashSpeeds(): Promise<void> {
  const data = new Uint8Array(64 << 20).map((_, i) => (i * 2654435761) >>> 24);
  const rows: string[] = [];
  for (const name of STRONG_HASH_NAMES) {
    const h = await createStrongHasher(name);
    const out = new Uint8Array(64);
    const start = performance.now();
    for (let o = 0; o < data.length; o += 4096) h.init().update(data.subarray(o, o + 4096)).digestInto(out, 0);
    const s = (performance.now() - start) / 1000;
    rows.push(`| ${name} | ${(data.length / 1e6 / s).toFixed(0)} |`);
  }
  console.log('\nStrong hash speed over 4 KiB blocks (one thread)\n\n| hash | MB/s |\n|---|---|');
  console.log(rows.join('\n'));
}

function tableSpeed(): void {
  const n = 10_000_000;
  const weakSums = new Uint32Array(n);
  let x = 7;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    weakSums[i] = x >>> 0;
  }
  let start = performance.now();
  const table = new WeakSumTable({ weakSums, weakMask: 0xffffffff });
  const buildMs = performance.now() - start;
  const probes = 5_000_000;
  let found = 0;
  start = performance.now();
  for (let i = 0; i < probes; i++) found += table.first(weakSums[(i * 7919) % n] as number) >= 0 ? 1 : 0;
  const hitNs = ((performance.now() - start) * 1e6) / probes;
  start = performance.now();
  for (let i = 0; i < probes; i++) found += table.first(Math.imul(i, 0x9e3779b1) >>> 0) >= 0 ? 1 : 0;
  const anyNs = ((performance.now() - start) * 1e6) / probes;
  start = performance.now();
  for (let i = 0; i < probes; i++) found += table.filter.has(Math.imul(i, 0x9e3779b1) >>> 0) ? 1 : 0;
  const filterNs = ((performance.now() - start) * 1e6) / probes;
  console.log(`\nWeakSumTable, 10 M blocks: build ${buildMs.toFixed(0)} ms; first() on a present sum ${hitNs.toFixed(1)} ns, on a random sum ${anyNs.toFixed(1)} ns; filter.has ${filterNs.toFixed(1)} ns (${found} hits)`);
}

async function main(): Promise<void> {
  // GOSYNC_BENCH_FILE: a real file to index (e.g. the swc-large pair of tools/testkit/src/corpus.ts);
  // otherwise a generated pseudo-random file of GOSYNC_BENCH_MB MiB.
  const given = process.env['GOSYNC_BENCH_FILE'];
  const mb = Number(process.env['GOSYNC_BENCH_MB'] ?? 512);
  const dir = await mkdtemp(join(tmpdir(), 'gosync-bench-'));
  const file = given ?? join(dir, 'target.bin');
  try {
    if (given === undefined) await writePseudoRandomFile(file, mb * 1024 * 1024, 12345);
    const size = (await stat(file)).size;
    console.log(`input: ${given ?? 'pseudo-random'}, ${(size / 1e6).toFixed(1)} MB`);
    const rows: string[] = [];
    const row = (tool: string, seconds: number, rss: string, bytes: number, blocks: number): void => {
      rows.push(`| ${tool} | ${(size / 1e6 / seconds).toFixed(0)} | ${seconds.toFixed(2)} | ${rss} | ${bytes} | ${(bytes / blocks).toFixed(2)} |`);
    };
    const blocks4k = Math.ceil(size / 4096);
    // Warm the page cache for everyone.
    await run('cat', [file], { maxBuffer: 1 }).catch(() => undefined);
    let zsyncSeconds = Number.NaN;
    let zsyncBytes = 0;
    if (findTool('zsyncmake') !== undefined) {
      zsyncSeconds = Infinity;
      for (let i = 0; i < 2; i++) zsyncSeconds = Math.min(zsyncSeconds, await timed('zsyncmake', ['-b', '4096', '-o', join(dir, 'z.zsync'), file]));
      zsyncBytes = (await stat(join(dir, 'z.zsync'))).size;
      row('zsyncmake 0.6.2 (MD4 + SHA-1)', zsyncSeconds, '-', zsyncBytes, blocks4k);
    }
    const configs: [string, BuildProfile, string, string][] = [
      ['ours native (xxh128 + SHA-256), 0 workers', 'native', '4096', '0'],
      ['ours native, 1 worker (default on 2 cores)', 'native', '4096', 'auto'],
      ['ours native, 2 workers', 'native', '4096', '2'],
      ['ours zsync profile (MD4 + SHA-1), default workers', 'zsync', '4096', 'auto'],
      ['ours native, default √ block size', 'native', 'auto', 'auto'],
    ];
    for (const [label, profile, bs, workers] of configs) {
      let best: ChildResult | undefined;
      for (let i = 0; i < 2; i++) {
        const r = await ours(file, profile, bs, workers);
        if (best === undefined || r.seconds < best.seconds) best = { ...r, maxRssMiB: Math.max(r.maxRssMiB, best?.maxRssMiB ?? 0) };
      }
      if (best === undefined) continue;
      row(`${label} [bs ${best.blockSize}]`, best.seconds, best.maxRssMiB.toFixed(0), best.indexBytes, best.blocks);
    }
    if (findTool('rdiff') !== undefined) {
      const s = await timed('rdiff', ['-b', '4096', 'signature', file, join(dir, 'r.sig')]);
      row('rdiff signature (BLAKE2, full 32-byte sums)', s, '-', (await stat(join(dir, 'r.sig'))).size, blocks4k);
    }
    console.log(`\nIndex build, ${mb} MiB pseudo-random file, block size 4096 unless noted (best of 2; page cache warm)\n`);
    console.log('| tool | MB/s | seconds | peak RSS MiB | index bytes | bytes/block |\n|---|---|---|---|---|---|');
    console.log(rows.join('\n'));
    await hashSpeeds();
    tableSpeed();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child();
else await main();
