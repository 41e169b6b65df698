// HTTP sync benchmark: `gosync sync` over HTTP next to Debian's `zsync` 0.6.2 client and a plain
// full download (curl), on the same corpus pairs, through the same nginx, behind the same
// delaying proxy (tools/testkit/src/delay-proxy.ts), in one run.
//
// Run: pnpm --filter @gosync/cli bench [pair…]        (default: ts-adjacent ts-minor swc-large)
//      GOSYNC_BENCH_RUNS=5 …                          (best of N runs, default 3)
// Needs a build first (pnpm turbo run build): it runs apps/cli/dist/bundle/gosync.js (the bundled CLI).
//
// For each pair, a temporary directory served by nginx holds the new file, its .zsync made by
// zsyncmake with its default block size (2048 below 100 MB, 4096 above in 0.6.2; the table
// prints it) and our native index (`gosync index … -u <name>`, default block size). Each client
// starts with the old file as its seed. Requests and bytes come from nginx's access log
// ($bytes_sent: response headers and bodies, index downloads included); every output is checked
// byte for byte (SHA-256) against the new file.
//
// Compression (issue 6): `gosync index --compress zstd` (default block size) publishes a .gsz
// artifact next to its own index, timed to report the publishing speed; zchunk (`zck` of the new
// file, `zckdl` with a `zck` of the old file as its source, then `unzck`) and casync (`casync
// make` of a blob index and chunk store, `casync extract --seed`) run where installed
// (apt-get install zchunk casync). GOSYNC_BENCH_PROFILES=0 runs only the first network profile;
// GOSYNC_BENCH_SKIP=casync,zchunk leaves those peers out (casync makes hundreds of sequential
// requests: minutes on the 557 MB pair at 50 ms).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { corpusPair, type CorpusPair } from '@gosync/testkit/corpus';
import { startDelayProxy } from '@gosync/testkit/delay-proxy';
import { startNginx } from '@gosync/testkit/nginx';
import { findTool } from '@gosync/testkit/tools';

interface Profile {
  readonly name: string;
  readonly rttMs: number;
  readonly bandwidthBitsPerSecond?: number;
}

const PROFILES: readonly Profile[] = [
  { name: '0 ms RTT, unlimited', rttMs: 0 },
  { name: '50 ms RTT, 100 Mbit/s', rttMs: 50, bandwidthBitsPerSecond: 100e6 },
];

interface Row {
  readonly pair: string;
  readonly tool: string;
  readonly note: string;
  /** Undefined when the tool failed or was skipped; `note` says why. */
  readonly best?: { seconds: number; median: number; requests: number; bytes: number; connections: number; extra: string };
  readonly failed: boolean;
}

interface Command {
  readonly tool: string;
  /** Returns [program, args] for an output path. */
  readonly argv: (out: string) => readonly [string, readonly string[]];
  /** Extra text for the table from a successful run's stdout. */
  readonly describe?: (stdout: string) => string;
}

const root = resolve(import.meta.dirname, '../../..');
const cli = join(root, 'apps/cli/dist/bundle/gosync.js');
const runs = Math.max(1, Number(process.env['GOSYNC_BENCH_RUNS'] ?? '3') || 3);
const pairs = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['ts-adjacent', 'ts-minor', 'swc-large'];
const profileFilter = process.env['GOSYNC_BENCH_PROFILES'];
/** The middle value (the mean of the two middle ones for an even count). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const skipped = new Set((process.env['GOSYNC_BENCH_SKIP'] ?? '').split(',').map((t) => t.trim()));
const profiles = profileFilter === undefined ? PROFILES : PROFILES.filter((_, i) => profileFilter.split(',').includes(String(i)));

/** Runs a program without blocking the event loop (the proxy lives in this process). */
function run(program: string, args: readonly string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  return new Promise((done) => {
    const t0 = performance.now();
    const child = spawn(program, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let errBytes = 0;
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => {
      errBytes += c.length;
      if (errBytes < 1 << 20) err.push(c);
    });
    child.on('error', (e) => {
      done({ code: 127, stdout: '', stderr: e.message, ms: performance.now() - t0 });
    });
    child.on('close', (code) => {
      done({ code: code ?? 1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), ms: performance.now() - t0 });
    });
  });
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function lastLine(text: string): string {
  const lines = text.split(/\r?\n|\r/).map((l) => l.trim()).filter((l) => l !== '');
  return (lines.at(-1) ?? '').replace(/^gosync:\s*/, '');
}

async function cleanOutputs(work: string): Promise<void> {
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
}

const mb = (n: number): string => (n / 1e6).toFixed(2);

function hasTool(name: string): boolean {
  return findTool(name) !== undefined;
}

/** One native index of the new file served next to it. */
interface GsiIndex {
  readonly file: string;
  readonly label: string;
  readonly bytes: number;
  readonly summary: string;
}

/**
 * Our indexes: the default block size, and zsyncmake's block size so that the bytes fetched
 * compare like with like (smaller blocks find more of the seed but make a larger index).
 */
async function makeGsi(www: string, name: string, blockSize: string | undefined): Promise<GsiIndex> {
  const file = blockSize === undefined ? `${name}.gsi` : `${name}.b${blockSize}.gsi`;
  const args = [cli, 'index', join(www, name), '-o', join(www, file), '-u', name, ...(blockSize === undefined ? [] : ['-b', blockSize])];
  const indexed = await run(process.execPath, args, www);
  if (indexed.code !== 0) throw new Error(`gosync index failed: ${indexed.stderr}`);
  const bytes = (await stat(join(www, file))).size;
  const summary = /(\d+ (?:blocks|chunks)[^,]*)/.exec(indexed.stdout)?.[1] ?? lastLine(indexed.stdout);
  const size = /of (\d+) bytes/.exec(summary)?.[1] ?? '?';
  return { file, label: blockSize === undefined ? `gosync sync (default block ${size})` : `gosync sync (block ${size})`, bytes, summary };
}

/** Our compressed publication: an index with the `compress` layout and a zstd artifact, timed. */
async function makeCompressedGsi(www: string, name: string, size: number): Promise<GsiIndex & { publish: string }> {
  const file = `${name}.zstd.gsi`;
  const args = [cli, 'index', join(www, name), '-o', join(www, file), '--artifact', join(www, `${name}.gsz`), '--compress', 'zstd', '-u', name];
  const indexed = await run(process.execPath, args, www);
  if (indexed.code !== 0) throw new Error(`gosync index --compress failed: ${indexed.stderr}`);
  const bytes = (await stat(join(www, file))).size;
  const artifact = (await stat(join(www, `${name}.gsz`))).size;
  const publish = `gosync index --compress zstd: ${(size / 1e6 / (indexed.ms / 1000)).toFixed(1)} MB/s (${(indexed.ms / 1000).toFixed(2)} s, artifact ${((100 * artifact) / size).toFixed(1)} % of the file)`;
  const summary = /(\d+ (?:blocks|chunks)[^,]*)/.exec(indexed.stdout)?.[1] ?? lastLine(indexed.stdout);
  return { file, label: 'gosync sync (zstd)', bytes, summary, publish };
}

/** zchunk's files: the new file's .zck served, the old file's .zck as the client's source. */
async function makeZchunk(www: string, name: string, old: string, dir: string): Promise<{ oldZck: string } | undefined> {
  if (skipped.has('zchunk') || !hasTool('zck') || !hasTool('zckdl') || !hasTool('unzck')) return undefined;
  const made = await run('zck', ['-o', join(www, `${name}.zck`), join(www, name)], www);
  if (made.code !== 0) throw new Error(`zck failed: ${made.stderr}`);
  const oldZck = join(dir, 'old.zck');
  const seed = await run('zck', ['-o', oldZck, old], dir);
  if (seed.code !== 0) throw new Error(`zck failed: ${seed.stderr}`);
  return { oldZck };
}

/** casync's files: a blob index and its chunk store (default chunk sizes and compression). */
async function makeCasync(www: string, name: string): Promise<boolean> {
  if (skipped.has('casync') || !hasTool('casync')) return false;
  const made = await run('casync', ['make', `--store=${join(www, `${name}.castr`)}`, join(www, `${name}.caibx`), join(www, name)], www);
  if (made.code !== 0) throw new Error(`casync make failed: ${made.stderr}`);
  return true;
}

async function preparePair(
  pair: CorpusPair,
  dir: string,
): Promise<{ www: string; name: string; zsyncBlock: string; zsyncBytes: number; gsi: GsiIndex[]; zchunk: { oldZck: string } | undefined; casync: boolean }> {
  const www = join(dir, 'www');
  await mkdir(www, { recursive: true });
  const name = `${pair.name}.tar`;
  await symlink(pair.new, join(www, name));
  let zsyncBlock = '–';
  let zsyncBytes = 0;
  if (hasTool('zsyncmake')) {
    const made = await run('zsyncmake', ['-o', join(www, `${name}.zsync`), '-u', name, join(www, name)], www);
    if (made.code !== 0) throw new Error(`zsyncmake failed: ${made.stderr}`);
    const header = (await readFile(join(www, `${name}.zsync`))).subarray(0, 4096).toString('latin1');
    zsyncBlock = /^Blocksize: (\d+)$/m.exec(header)?.[1] ?? '?';
    zsyncBytes = (await stat(join(www, `${name}.zsync`))).size;
  }
  const gsi = [await makeGsi(www, name, undefined)];
  if (/^\d+$/.test(zsyncBlock) && !gsi[0]!.summary.includes(`of ${zsyncBlock} bytes`)) gsi.push(await makeGsi(www, name, zsyncBlock));
  const compressed = await makeCompressedGsi(www, name, pair.newSize);
  console.log(`  ${pair.name}: ${compressed.publish}`);
  gsi.push(compressed);
  const zchunk = await makeZchunk(www, name, pair.old, dir);
  const casync = await makeCasync(www, name);
  return { www, name, zsyncBlock, zsyncBytes, gsi, zchunk, casync };
}

async function benchProfile(pair: CorpusPair, prepared: Awaited<ReturnType<typeof preparePair>>, profile: Profile, newHash: string, dir: string): Promise<Row[]> {
  const nginx = await startNginx({ root: prepared.www, accessLog: true });
  const proxy = await startDelayProxy({
    target: { host: '127.0.0.1', port: nginx.port },
    rttMs: profile.rttMs,
    ...(profile.bandwidthBitsPerSecond === undefined ? {} : { bandwidthBitsPerSecond: profile.bandwidthBitsPerSecond }),
  });
  const url = (file: string): string => `${proxy.url}/${file}`;
  const commands: (Command | { tool: string; missing: string })[] = [
    hasTool('curl')
      ? { tool: 'full download (curl)', argv: (out) => ['curl', ['-sS', '--fail', '-o', out, url(prepared.name)]] }
      : { tool: 'full download (curl)', missing: 'curl not installed (apt-get install curl)' },
    hasTool('zsync') && prepared.zsyncBytes > 0
      ? { tool: `zsync 0.6.2 (block ${prepared.zsyncBlock})`, argv: (out) => ['zsync', ['-q', '-i', pair.old, '-o', out, url(`${prepared.name}.zsync`)]] }
      : { tool: 'zsync 0.6.2', missing: 'zsync/zsyncmake not installed (apt-get install zsync)' },
    ...[
      ...prepared.gsi,
      // Our client on zsyncmake's own control file: issue 7's like-for-like comparison.
      ...(prepared.zsyncBytes > 0 ? [{ file: `${prepared.name}.zsync`, label: `gosync sync on the .zsync (block ${prepared.zsyncBlock})` }] : []),
    ].map((gsi) => ({
      tool: gsi.label,
      argv: (out: string): readonly [string, readonly string[]] => [process.execPath, [cli, 'sync', url(gsi.file), '-o', out, '--seed', pair.old, '--json']],
      describe: (stdout: string): string => {
        try {
          // Fields of `gosync sync --json` (apps/cli/src/sync-command.ts); older builds lack some.
          const s = JSON.parse(stdout) as { reusedBytes?: number; targetBytes?: number; ranges?: number; httpRequests?: number; httpBytesReceived?: number };
          const parts = [];
          if (s.reusedBytes !== undefined && s.targetBytes !== undefined) parts.push(`reused ${((100 * s.reusedBytes) / s.targetBytes).toFixed(1)} %`);
          if (s.ranges !== undefined) parts.push(`${s.ranges} ranges`);
          if (s.httpRequests !== undefined) parts.push(`self-reported ${s.httpRequests} requests, ${mb(s.httpBytesReceived ?? 0)} MB`);
          return parts.join(', ');
        } catch {
          return '';
        }
      },
    })),
    prepared.zchunk === undefined
      ? { tool: 'zchunk (zckdl)', missing: skipped.has('zchunk') ? 'left out (GOSYNC_BENCH_SKIP)' : 'zchunk not installed (apt-get install zchunk)' }
      : {
          tool: 'zchunk (zckdl)',
          argv: (out: string): readonly [string, readonly string[]] => [
            'sh',
            ['-c', 'zckdl -q -s "$1" "$2" && unzck -c "$3" > "$4"', 'sh', prepared.zchunk?.oldZck ?? '', url(`${prepared.name}.zck`), `${prepared.name}.zck`, out],
          ],
        },
    prepared.casync
      ? {
          tool: 'casync extract',
          argv: (out: string): readonly [string, readonly string[]] => [
            'casync',
            ['extract', `--store=${url(`${prepared.name}.castr`)}`, `--seed=${pair.old}`, url(`${prepared.name}.caibx`), out],
          ],
        }
      : { tool: 'casync extract', missing: skipped.has('casync') ? 'left out (GOSYNC_BENCH_SKIP)' : 'casync not installed (apt-get install casync)' },
  ];
  const rows: Row[] = [];
  const work = join(dir, 'work');
  try {
    for (const command of commands) {
      if ('missing' in command) {
        console.log(`  ${command.tool}: skipped, ${command.missing}`);
        rows.push({ pair: pair.name, tool: command.tool, note: `skipped: ${command.missing}`, failed: false });
        continue;
      }
      let best: Row['best'];
      const times: number[] = [];
      let failure: string | undefined;
      for (let i = 0; i < runs && failure === undefined; i++) {
        await cleanOutputs(work);
        const out = join(work, 'out');
        const before = (await nginx.readAccessLog()).length;
        const connectionsBefore = proxy.stats.connections;
        const [program, args] = command.argv(out);
        const result = await run(program, args, work);
        await new Promise((r) => setTimeout(r, 20));
        const entries = (await nginx.readAccessLog()).slice(before);
        if (result.code !== 0) {
          failure = `exit ${result.code}: ${lastLine(result.stderr) || lastLine(result.stdout)}`;
          break;
        }
        const hash = await sha256File(out).catch((e: unknown) => `unreadable: ${String(e)}`);
        if (hash !== newHash) {
          failure = `OUTPUT MISMATCH: sha256 ${hash.slice(0, 16)}…, expected ${newHash.slice(0, 16)}…`;
          break;
        }
        times.push(result.ms / 1000);
        const sample = {
          seconds: result.ms / 1000,
          median: 0,
          requests: entries.length,
          bytes: entries.reduce((s, e) => s + e.bytesSent, 0),
          connections: proxy.stats.connections - connectionsBefore,
          extra: command.describe?.(result.stdout) ?? '',
        };
        if (best === undefined || sample.seconds < best.seconds) best = sample;
      }
      if (failure !== undefined) {
        const tool = command.tool.split(' ')[0] ?? command.tool;
        console.log(`  ${tool}: failed (${failure})`);
        if (failure.startsWith('OUTPUT MISMATCH')) console.log(`  !!!!!!!! ${command.tool} produced a WRONG FILE on ${pair.name} / ${profile.name} !!!!!!!!`);
        rows.push({ pair: pair.name, tool: command.tool, note: `**${tool}: failed** (${failure})`, failed: true });
      } else if (best !== undefined) {
        best = { ...best, median: median(times) };
        console.log(`  ${command.tool.padEnd(34)} ${best.seconds.toFixed(3).padStart(7)} s (median ${best.median.toFixed(3)})  ${String(best.requests).padStart(5)} requests  ${mb(best.bytes).padStart(8)} MB (${((100 * best.bytes) / pair.newSize).toFixed(1)} %)  ${best.connections} conn  ${best.extra}`);
        rows.push({ pair: pair.name, tool: command.tool, note: best.extra, best, failed: false });
      }
    }
  } finally {
    await proxy.close();
    await nginx.close();
    await rm(work, { recursive: true, force: true });
  }
  return rows;
}

function table(rows: readonly Row[], sizes: ReadonlyMap<string, number>): string {
  const lines = [
    '| pair | tool | wall s (best) | median | requests | connections | bytes on wire | % of new | note |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    const size = sizes.get(row.pair) ?? 1;
    lines.push(
      row.best === undefined
        ? `| ${row.pair} | ${row.tool} | – | – | – | – | – | – | ${row.note} |`
        : `| ${row.pair} | ${row.tool} | ${row.best.seconds.toFixed(3)} | ${row.best.median.toFixed(3)} | ${row.best.requests} | ${row.best.connections} | ${mb(row.best.bytes)} MB | ${((100 * row.best.bytes) / size).toFixed(1)} % | ${row.note} |`,
    );
  }
  return lines.join('\n');
}

if (!hasTool('nginx')) {
  console.log('http bench: skipped, nginx not installed (apt-get install nginx-light)');
  process.exit(0);
}
const zsyncVersion = hasTool('zsync') ? lastLine((await run('zsync', ['-V'], root)).stdout.split('\n')[0] ?? '') : 'not installed';
console.log(`machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} vCPUs, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`node ${process.version}, zsync: ${zsyncVersion}, ${new Date().toISOString()}; best of ${runs} runs (GOSYNC_BENCH_RUNS)`);
const results = new Map<string, Row[]>(profiles.map((p) => [p.name, []]));
const sizes = new Map<string, number>();
const dir = await mkdtemp(join(tmpdir(), 'gosync-http-bench-'));
let failures = 0;
try {
  for (const name of pairs) {
    const pair = await corpusPair(name);
    sizes.set(pair.name, pair.newSize);
    const pairDir = join(dir, pair.name);
    const prepared = await preparePair(pair, pairDir);
    const newHash = await sha256File(pair.new);
    console.log(`\n${pair.name}: ${pair.description}; old ${mb(pair.oldSize)} MB, new ${mb(pair.newSize)} MB`);
    console.log(`  .zsync: ${prepared.zsyncBytes} bytes (zsyncmake default block size ${prepared.zsyncBlock}); ${prepared.gsi.map((g) => `${g.file}: ${g.bytes} bytes (${g.summary})`).join('; ')}`);
    for (const profile of profiles) {
      console.log(` ${profile.name}:`);
      const rows = await benchProfile(pair, prepared, profile, newHash, pairDir);
      failures += rows.filter((r) => r.failed).length;
      results.get(profile.name)?.push(...rows);
    }
    await rm(pairDir, { recursive: true, force: true });
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
for (const profile of profiles) {
  console.log(`\n### ${profile.name} (best of ${runs})\n`);
  console.log(table(results.get(profile.name) ?? [], sizes));
}
if (failures > 0) console.log(`\n${failures} tool run(s) FAILED (see the note column)`);
