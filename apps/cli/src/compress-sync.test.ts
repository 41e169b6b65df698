// `gosync index --compress` and `gosync sync` over a real nginx on 127.0.0.1: the index carries the
// layout of a compressed artifact (.gsz) and lists it first, and the client fetches compressed
// groups with no further flags.
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMPRESSION_CODECS, DEFAULT_LEVELS, decodeLayout, defaultGroupSize, groupArtifactRange } from '@gosync/compress';
import { readIndexFile } from '@gosync/index';
import { pseudoRandomBytes, skipWithoutTools, startNginx } from '@gosync/testkit';
import type { NginxAccessLogEntry, RunningNginx } from '@gosync/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gosync } from './test-cli.js';

/** Compressible text: words drawn from a small vocabulary by a seeded generator. */
function text(length: number, seed: number): Buffer {
  const words = ['block', 'range', 'index', 'seed', 'target', 'fetch', 'verify', 'compress', 'group', 'artifact', 'nginx', 'sync'];
  const noise = pseudoRandomBytes(length, seed);
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < length; i++) {
    const word = `${words[(noise[i % length] ?? 0) % words.length] ?? ''}${(noise[(i * 7) % length] ?? 0) % 13 === 0 ? '\n' : ' '}`;
    parts.push(word);
    size += word.length;
  }
  return Buffer.from(parts.join('').slice(0, length));
}

let dir: string;
let seedDir: string;
let nginx: RunningNginx;
const old = text(800_000, 31);
// Three edits: a rewritten stretch, an insertion and a deletion; most of the file is reused.
const CHANGE_AT = 200_000;
const newBytes = Buffer.concat([
  old.subarray(0, CHANGE_AT),
  text(60_000, 32),
  old.subarray(CHANGE_AT + 60_000, 500_000),
  text(9000, 33),
  old.subarray(520_000),
]);
let plainReceived = 0;

interface Summary {
  readonly httpBytesReceived: number;
  readonly httpRequests: number;
  readonly fetchBytes: number;
}

describe.skipIf(skipWithoutTools(['nginx'], 'gosync sync of compressed artifacts over HTTP'))('gosync index --compress, sync over HTTP', { timeout: 60_000 }, () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gosync-compress-sync-'));
    seedDir = await mkdtemp(join(tmpdir(), 'gosync-compress-seed-'));
    await writeFile(join(seedDir, 'old.bin'), old);
    await mkdir(join(dir, 'plain'));
    await writeFile(join(dir, 'plain', 'new.bin'), newBytes);
    const built = await gosync(['index', join(dir, 'plain', 'new.bin'), '-b', '2048', '-u', 'new.bin', '-q']);
    expect(built.stderr).toBe('');
    nginx = await startNginx({ root: dir, accessLog: true });
    // The uncompressed run every compressed one must beat.
    const out = join(seedDir, 'plain.bin');
    const r = await gosync(['sync', `${nginx.url}/plain/new.bin.gsi`, '-o', out, '--seed', join(seedDir, 'old.bin'), '--json']);
    expect(r.stderr).toBe('');
    expect(Buffer.from(await readFile(out)).equals(newBytes)).toBe(true);
    plainReceived = (JSON.parse(r.stdout) as Summary).httpBytesReceived;
    expect(plainReceived).toBeGreaterThan(70_000);
  }, 60_000);
  afterAll(async () => {
    await nginx.close();
    await rm(dir, { recursive: true, force: true });
    await rm(seedDir, { recursive: true, force: true });
  });

  it.each(COMPRESSION_CODECS)('%s: the index lists the artifact first and sync fetches compressed groups only', async (codec) => {
    const www = join(dir, codec);
    await mkdir(www);
    const file = join(www, 'new.bin');
    await writeFile(file, newBytes);
    const built = await gosync(['index', file, '-b', '2048', '-u', 'new.bin', '--compress', codec]);
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    expect(built.stdout).toMatch(new RegExp(`${codec} \\d+ artifact .*new\\.bin\\.gsz, \\d+ bytes .* in \\d+ groups of 4096 bytes`));
    const info = JSON.parse((await gosync(['info', `${file}.gsi`, '--json'])).stdout) as { urls: string[]; attachments: Record<string, number> };
    expect(info.urls).toEqual(['new.bin.gsz', 'new.bin']);
    expect(info.attachments['compress']).toBeGreaterThan(36);
    await rm(file); // only the index and the artifact are published
    const out = join(seedDir, `${codec}.bin`);
    const r = await gosync(['sync', `${nginx.url}/${codec}/new.bin.gsi`, '-o', out, '--seed', join(seedDir, 'old.bin'), '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(Buffer.from(await readFile(out)).equals(newBytes)).toBe(true);
    const summary = JSON.parse(r.stdout) as Summary;
    expect(summary.httpRequests).toBeGreaterThanOrEqual(2);
    expect(summary.httpBytesReceived).toBeLessThan(plainReceived);
  });

  it('with the file and the artifact published, a scattered edit fetches plain ranges, not large groups', async () => {
    const www = join(dir, 'hybrid');
    await mkdir(www);
    const file = join(www, 'new.bin');
    // Eight 64-byte rewrites far apart: each lies in one 2 KiB block of a 64 KiB group.
    const scattered = Buffer.from(old);
    for (let k = 0; k < 8; k++) text(64, 100 + k).copy(scattered, 40_000 + k * 95_000);
    await writeFile(file, scattered);
    const built = await gosync(['index', file, '-b', '2048', '-u', 'new.bin', '--compress', 'zstd', '--group-size', '65536']);
    expect(built.stderr).toBe('');
    const { index } = await readIndexFile(`${file}.gsi`);
    const layout = decodeLayout(index.metadata.attachments?.['compress'] ?? new Uint8Array(0));
    expect(Math.min(...layout.sizes)).toBeGreaterThan(2048 + 200); // a group costs more than a block
    const runs: Record<string, { summary: Summary; log: NginxAccessLogEntry[] }> = {};
    for (const [name, extra] of [
      ['hybrid', []],
      ['compressed', ['--source', `${nginx.url}/hybrid/new.bin.gsz`]],
      ['plain', ['--source', `${nginx.url}/hybrid/new.bin`]],
    ] as const) {
      const before = (await nginx.readAccessLog()).length;
      const out = join(seedDir, `hybrid-${name}.bin`);
      const r = await gosync(['sync', `${nginx.url}/hybrid/new.bin.gsi`, '-o', out, '--seed', join(seedDir, 'old.bin'), '--json', ...extra]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(Buffer.from(await readFile(out)).equals(scattered)).toBe(true);
      runs[name] = { summary: JSON.parse(r.stdout) as Summary, log: (await nginx.readAccessLog()).slice(before) };
    }
    const { hybrid, compressed, plain } = runs as Record<'hybrid' | 'compressed' | 'plain', { summary: Summary; log: NginxAccessLogEntry[] }>;
    // The default sync asked the file itself for ranges, and the artifact for nothing.
    const ranged = (log: NginxAccessLogEntry[], path: string): NginxAccessLogEntry[] => log.filter((e) => e.request.startsWith(`GET /hybrid/${path} `) && e.range !== '-');
    expect(ranged(hybrid.log, 'new.bin').length).toBeGreaterThan(0);
    expect(ranged(hybrid.log, 'new.bin.gsz')).toEqual([]);
    expect(hybrid.summary.httpBytesReceived).toBeLessThan(compressed.summary.httpBytesReceived / 2);
    expect(hybrid.summary.httpBytesReceived).toBeLessThanOrEqual(plain.summary.httpBytesReceived + 1000);
    // Local paths pair the same way; a listed file that is not published: the artifact serves the rest.
    const local = join(seedDir, 'hybrid-local.bin');
    const r = await gosync(['sync', `${file}.gsi`, '-o', local, '--seed', join(seedDir, 'old.bin'), '-q']);
    expect(r.stderr).toBe('');
    expect(Buffer.from(await readFile(local)).equals(scattered)).toBe(true);
    await rm(file);
    const missing = join(seedDir, 'hybrid-missing.bin');
    const m = await gosync(['sync', `${nginx.url}/hybrid/new.bin.gsi`, '-o', missing, '--seed', join(seedDir, 'old.bin'), '-q']);
    expect(m.stderr).toBe('');
    expect(m.code).toBe(0);
    expect(Buffer.from(await readFile(missing)).equals(scattered)).toBe(true);
  });

  it('--level and --group-size shape the artifact; a local .gsz given as --source works too', async () => {
    const www = join(dir, 'shaped');
    await mkdir(www);
    const file = join(www, 'new.bin');
    await writeFile(file, newBytes);
    const built = await gosync(['index', file, '-b', '2048', '--compress', 'zstd', '--level', '9', '--group-size', '8192', '--artifact', join(www, 'data.gsz')]);
    expect(built.stderr).toBe('');
    expect(built.stdout).toMatch(/zstd 9 artifact .*data\.gsz, .* groups of 8192 bytes/);
    const out = join(seedDir, 'shaped.bin');
    const r = await gosync(['sync', `${file}.gsi`, '-o', out, '--seed', join(seedDir, 'old.bin'), '--source', join(www, 'data.gsz'), '-q']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(Buffer.from(await readFile(out)).equals(newBytes)).toBe(true);
  });

  it('--dictionary: the artifact starts with a sampled dictionary that sync fetches once and checks', async () => {
    const www = join(dir, 'dictionary');
    await mkdir(www);
    const file = join(www, 'new.bin');
    await writeFile(file, newBytes);
    const built = await gosync(['index', file, '-b', '2048', '-u', 'new.bin', '--compress', 'zstd', '--dictionary', '4096']);
    expect(built.stderr).toBe('');
    expect(built.stdout).toMatch(/zstd 6 artifact .*new\.bin\.gsz, \d+ bytes .* in \d+ groups of 4096 bytes after a 4096-byte dictionary/);
    const { index } = await readIndexFile(`${file}.gsi`);
    const layout = decodeLayout(index.metadata.attachments?.['compress'] ?? new Uint8Array(0));
    expect(layout.dictionary).toMatchObject({ id: 0, length: 4096 });
    expect(groupArtifactRange(layout, 0).start).toBe(4096);
    await rm(file);
    const out = join(seedDir, 'dictionary.bin');
    const r = await gosync(['sync', `${nginx.url}/dictionary/new.bin.gsi`, '-o', out, '--seed', join(seedDir, 'old.bin'), '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(Buffer.from(await readFile(out)).equals(newBytes)).toBe(true);
    expect((JSON.parse(r.stdout) as Summary).httpBytesReceived).toBeLessThan(plainReceived);
    // A damaged dictionary: every group depends on it, so the sync stops before writing anything.
    const artifact = await readFile(join(www, 'new.bin.gsz'));
    artifact[100] = (artifact[100] ?? 0) ^ 0x01;
    await writeFile(join(www, 'new.bin.gsz'), artifact);
    const damaged = await gosync(['sync', `${www}/new.bin.gsi`, '-o', join(seedDir, 'dictionary-2.bin'), '--seed', join(seedDir, 'old.bin'), '--source', join(www, 'new.bin.gsz')]);
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toMatch(/^gosync: ERR_COMPRESS_CORRUPT: .*the zstd dictionary \(artifact \[0, 4096\)\): SHA-256 /);
  });

  /**
   * Publishes new.bin in `name` with a zstd artifact (and `-u new.bin` when `listFile`), then
   * damages the middle of the group holding the first change: the seed lacks it, so a sync
   * fetches it. Returns the layout, the group and its artifact range.
   */
  async function publishDamaged(name: string, listFile: boolean): Promise<{ groupSize: number; group: number; damaged: { start: number; end: number } }> {
    const www = join(dir, name);
    await mkdir(www);
    const file = join(www, 'new.bin');
    await writeFile(file, newBytes);
    expect((await gosync(['index', file, '-b', '2048', ...(listFile ? ['-u', 'new.bin'] : []), '--compress', 'zstd', '-q'])).code).toBe(0);
    const { index } = await readIndexFile(`${file}.gsi`);
    const layout = decodeLayout(index.metadata.attachments?.['compress'] ?? new Uint8Array(0));
    const group = Math.floor((CHANGE_AT + 30_000) / layout.groupSize);
    const damaged = groupArtifactRange(layout, group);
    const artifact = await readFile(join(www, 'new.bin.gsz'));
    const middle = Math.floor((damaged.start + damaged.end) / 2);
    for (let i = middle; i < middle + 16; i++) artifact[i] = (artifact[i] ?? 0) ^ 0x5a;
    await writeFile(join(www, 'new.bin.gsz'), artifact);
    return { groupSize: layout.groupSize, group, damaged };
  }

  it('a corrupted frame: exit 1 with a compression error naming the group; the old output stays', async () => {
    const { groupSize, group } = await publishDamaged('corrupt', false);
    await rm(join(dir, 'corrupt', 'new.bin')); // only the index and the artifact are published
    const out = join(seedDir, 'kept.bin');
    await writeFile(out, 'previous version');
    const r = await gosync(['sync', `${nginx.url}/corrupt/new.bin.gsi`, '-o', out, '--seed', join(seedDir, 'old.bin')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^gosync: ERR_COMPRESS_(CORRUPT|TOO_LARGE|VERIFY_FAILED): /);
    expect(r.stderr).toContain(`group ${group} (target [${group * groupSize}, `);
    expect(await readFile(out, 'utf8')).toBe('previous version');
  });

  it('a damaged group with the file published too: the file serves it, and the artifact is not read again on its own', async () => {
    const { damaged } = await publishDamaged('corrupt-hybrid', true);
    const before = (await nginx.readAccessLog()).length;
    const out = join(seedDir, 'corrupt-hybrid.bin');
    const r = await gosync(['sync', `${nginx.url}/corrupt-hybrid/new.bin.gsi`, '-o', out, '--seed', join(seedDir, 'old.bin'), '-q']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(Buffer.from(await readFile(out)).equals(newBytes)).toBe(true);
    // Requests for the damaged group's bytes of the artifact: the hybrid's one, no second from the
    // artifact alone (it would fail the same way).
    const covers = (range: string): boolean =>
      range
        .replace(/^bytes=/, '')
        .split(',')
        .some((part) => {
          const [a, b] = part.split('-').map(Number);
          return (a ?? Infinity) < damaged.end && (b ?? -1) >= damaged.start;
        });
    const log = (await nginx.readAccessLog()).slice(before);
    const damagedReads = log.filter((e) => e.request.startsWith('GET /corrupt-hybrid/new.bin.gsz ') && e.range !== '-' && covers(e.range));
    expect(damagedReads.length).toBe(1);
  });

  it('usage errors: --level or --dictionary without --compress, an unknown codec, --compress with another format, a .gsz without a layout', async () => {
    const file = join(dir, 'plain', 'new.bin');
    const level = await gosync(['index', file, '--level', '3', '-o', join(seedDir, 'x.gsi')]);
    expect(level.code).toBe(2);
    expect(level.stderr).toMatch(/--level: only with --compress/);
    const codec = await gosync(['index', file, '--compress', 'lzma', '-o', join(seedDir, 'x.gsi')]);
    expect(codec.code).toBe(2);
    expect(codec.stderr).toMatch(/--compress: expected zstd, brotli, gzip, got "lzma"/);
    const zsync = await gosync(['index', file, '--compress', 'zstd', '--format', 'zsync', '-o', join(seedDir, 'x.zsync')]);
    expect(zsync.code).toBe(2);
    expect(zsync.stderr).toMatch(/--compress: only for the native format/);
    expect((await gosync(['index', file, '--compress', 'zstd', '--level', '30', '-o', join(seedDir, 'x.gsi')])).code).toBe(2);
    expect((await gosync(['index', file, '--compress', 'zstd', '-b', '2048', '--group-size', '3000', '-o', join(seedDir, 'x.gsi')])).code).toBe(2);
    const dictionary = await gosync(['index', file, '--dictionary', '4096', '-o', join(seedDir, 'x.gsi')]);
    expect(dictionary.code).toBe(2);
    expect(dictionary.stderr).toMatch(/--dictionary: only with --compress/);
    const gzipDictionary = await gosync(['index', file, '--compress', 'gzip', '--dictionary', '4096', '-o', join(seedDir, 'x.gsi')]);
    expect(gzipDictionary.code).toBe(2);
    expect(gzipDictionary.stderr).toMatch(/--dictionary: only with --compress zstd, not gzip/);
    const noLayout = await gosync(['sync', `${file}.gsi`, '-o', join(seedDir, 'y.bin'), '--source', `${nginx.url}/zstd/new.bin.gsz`]);
    expect(noLayout.code).toBe(2);
    expect(noLayout.stderr).toMatch(/zstd\/new\.bin\.gsz: a compressed artifact \(\.gsz\), but the index has no "compress" attachment/);
  });
});

describe('gosync index --compress defaults', { timeout: 60_000 }, () => {
  it('the group grows with the file size (defaultGroupSize) and zstd runs at its default level', async () => {
    const local = await mkdtemp(join(tmpdir(), 'gosync-compress-defaults-'));
    try {
      // 40 MiB, mostly a hole: above 32 MiB the rule doubles the group to 8 KiB.
      const file = join(local, 'big.bin');
      await writeFile(file, text(100_000, 41));
      await truncate(file, 40 * 2 ** 20);
      const built = await gosync(['index', file, '--compress', 'zstd']);
      expect(built.stderr).toBe('');
      expect(built.code).toBe(0);
      expect(defaultGroupSize(40 * 2 ** 20, 2048)).toBe(8192);
      expect(built.stdout).toMatch(new RegExp(`blocks of 2048 bytes, .*; zstd ${DEFAULT_LEVELS.zstd} artifact .*big\\.bin\\.gsz, \\d+ bytes .* in 5120 groups of 8192 bytes`));
      const { index } = await readIndexFile(`${file}.gsi`);
      const layout = decodeLayout(index.metadata.attachments?.['compress'] ?? new Uint8Array(0));
      expect(layout).toMatchObject({ codec: 'zstd', level: 6, blockSize: 2048, groupSize: 8192, length: 40 * 2 ** 20 });
      const out = join(local, 'out.bin');
      await rm(file); // the artifact alone rebuilds it
      const r = await gosync(['sync', `${file}.gsi`, '-o', out, '--source', join(local, 'big.bin.gsz'), '-q']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const rebuilt = await readFile(out);
      expect(rebuilt.length).toBe(40 * 2 ** 20);
      expect(rebuilt.subarray(0, 100_000).equals(text(100_000, 41))).toBe(true);
      expect(rebuilt.subarray(100_000).every((b) => b === 0)).toBe(true);
    } finally {
      await rm(local, { recursive: true, force: true });
    }
  });
});
