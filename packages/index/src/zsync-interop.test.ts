import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bytesEqual } from '@gosync/core';
import { pseudoRandomBytes, skipWithoutTools, startNginx } from '@gosync/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIndex } from './build.js';
import { zsyncHashLengths } from './hash-lengths.js';
import { decodeZsync, encodeZsync } from './zsync.js';

const run = promisify(execFile);

function body(zsync: Uint8Array): Uint8Array {
  for (let i = 0; i + 1 < zsync.length; i++) if (zsync[i] === 10 && zsync[i + 1] === 10) return zsync.subarray(i + 2);
  throw new Error('no blank line');
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gosync-zsync-interop-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(skipWithoutTools(['zsyncmake'], '.zsync output vs Debian zsyncmake'))('against Debian zsyncmake 0.6.2', { timeout: 30_000 }, () => {
  const cases = [
    [0, 2048], [1, 2048], [1000, 2048], [2048, 2048], [10_000, 2048], [123_457, 1024], [300_000, 512], [1_000_003, 4096], [200_000, 65536],
  ] as const;
  it.each(cases)('writes the same file as zsyncmake for %i bytes in blocks of %i', async (size, blockSize) => {
    const name = `t-${size}-${blockSize}.bin`;
    const path = join(dir, name);
    await writeFile(path, pseudoRandomBytes(size, size + 17));
    const theirsPath = join(dir, `${name}.zsync`);
    await run('zsyncmake', ['-b', String(blockSize), '-u', name, '-u', `http://mirror.invalid/${name}`, '-o', theirsPath, path]);
    const theirs = new Uint8Array(await readFile(theirsPath));
    const index = await buildIndex(path, { profile: 'zsync', blockSize, metadata: { urls: [name, `http://mirror.invalid/${name}`] } });
    const ours = encodeZsync(index);
    expect(bytesEqual(body(ours), body(theirs)), 'block records').toBe(true);
    expect(new TextDecoder().decode(ours)).toBe(new TextDecoder().decode(theirs));
    const decoded = decodeZsync(theirs);
    expect(decoded.toInit()).toEqual(index.toInit());
    const lengths = zsyncHashLengths(size, blockSize);
    expect([decoded.seqMatches, decoded.weakBytes, decoded.strongBytes]).toEqual([lengths.seqMatches, lengths.weakBytes, lengths.strongBytes]);
  });

  it('agrees on the default block size and hash lengths', async () => {
    const path = join(dir, 'default.bin');
    await writeFile(path, pseudoRandomBytes(70_000, 3));
    await run('zsyncmake', ['-o', `${path}.zsync`, path]);
    const theirs = decodeZsync(new Uint8Array(await readFile(`${path}.zsync`)));
    const ours = await buildIndex(path, { profile: 'zsync' });
    expect(ours.toInit()).toEqual({ ...theirs.toInit(), metadata: { ...theirs.metadata, urls: undefined } , fileHashes: ours.fileHashes });
  });
});

describe.skipIf(skipWithoutTools(['zsync', 'nginx'], 'zsync 0.6.2 client rebuilding from our .zsync over nginx'))('with the zsync 0.6.2 client', { timeout: 30_000 }, () => {
  it('rebuilds the target byte-exactly from a seed and our .zsync', async () => {
    const root = join(dir, 'www');
    await run('mkdir', ['-p', root]);
    const target = pseudoRandomBytes(300_000, 99);
    // The seed: the target with a changed region, an insertion and a cut end.
    const seed = new Uint8Array(290_000 + 50);
    seed.set(target.subarray(0, 100_000));
    seed.set(pseudoRandomBytes(50, 5), 100_000);
    seed.set(target.subarray(100_000 + 3000, 290_000), 100_050);
    await writeFile(join(root, 'target.bin'), target);
    const index = await buildIndex(join(root, 'target.bin'), { profile: 'zsync', blockSize: 2048, metadata: { urls: ['target.bin'] } });
    await writeFile(join(root, 'target.bin.zsync'), encodeZsync(index));
    const work = join(dir, 'client');
    await run('mkdir', ['-p', work]);
    await writeFile(join(work, 'seed.bin'), seed);
    const nginx = await startNginx({ root });
    try {
      const { stderr, stdout } = await run('zsync', ['-q', '-i', 'seed.bin', '-o', 'out.bin', `${nginx.url}/target.bin.zsync`], { cwd: work });
      const out = new Uint8Array(await readFile(join(work, 'out.bin')));
      expect(out.length, `${stdout}${stderr}`).toBe(target.length);
      expect(bytesEqual(out, target)).toBe(true);
    } finally {
      await nginx.close();
    }
  });
});
