import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fc, test } from '@fast-check/vitest';
import { isGosyncError, type BlockSource, type ByteRange } from '@gosync/core';
import { collectRanges, errorCode } from '@gosync/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSource } from './file-source.js';
import { MemorySource } from './memory-source.js';

const bytes = new Uint8Array(100_000).map((_, i) => (i * 31 + (i >> 8)) & 0xff);
let dir: string;
let path: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gosync-sources-'));
  path = join(dir, 'data.bin');
  await writeFile(path, bytes);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});



const kinds: [string, () => BlockSource, (verifier: { verify: (r: ByteRange, d: Uint8Array) => boolean }) => BlockSource][] = [
  ['MemorySource', () => new MemorySource(bytes), (verifier) => new MemorySource(bytes, { verifier })],
  ['FileSource', () => new FileSource(path), (verifier) => new FileSource(path, { verifier })],
];

describe.each(kinds)('%s', (_name, make, withVerifier) => {
  const arbRanges = fc
    .uniqueArray(fc.nat({ max: 99 }), { maxLength: 12 })
    .map((starts) => starts.map((s) => ({ start: s * 1000, end: s * 1000 + 1 + ((s * 37) % 999) })));

  test.prop([arbRanges])('yields every requested range once, with the file’s bytes', async (ranges) => {
    const source = make();
    const got = await collectRanges(source, ranges);
    await source.close?.();
    expect(got.map((g) => g.range).sort((a, b) => a.start - b.start)).toEqual([...ranges].sort((a, b) => a.start - b.start));
    for (const { range, data } of got) expect(Buffer.from(data).equals(Buffer.from(bytes.subarray(range.start, range.end)))).toBe(true);
  });

  it('rejects ranges past the end and invalid ranges by code', async () => {
    expect(await errorCode(collectRanges(make(), [{ start: 99_000, end: 100_001 }]))).toBe('ERR_BLOCKSOURCE_OUT_OF_BOUNDS');
    expect(await errorCode(collectRanges(make(), [{ start: 5, end: 2 }]))).toBe('ERR_BLOCKSOURCE_INVALID_RANGE');
    expect(await errorCode(collectRanges(make(), [{ start: 0, end: 10 }, { start: 5, end: 20 }]))).toBe('ERR_BLOCKSOURCE_INVALID_RANGE');
  });

  it('checks bytes with the verifier and names the range', async () => {
    const source = withVerifier({ verify: (range) => range.start !== 2000 });
    let caught: unknown;
    try {
      await collectRanges(source, [{ start: 0, end: 10 }, { start: 2000, end: 2010 }]);
    } catch (e) {
      caught = e;
    }
    expect(isGosyncError(caught, 'ERR_BLOCKSOURCE_VERIFY_FAILED')).toBe(true);
    expect((caught as Error).message).toContain('2000');
  });

  it('rethrows an abort reason unchanged and refuses to fetch after close', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(collectRanges(make(), [{ start: 0, end: 10 }], controller.signal)).rejects.toBe(reason);
    const source = make();
    await source.close?.();
    expect(await errorCode(collectRanges(source, [{ start: 0, end: 10 }]))).toBe('ERR_BLOCKSOURCE_CLOSED');
  });
});

describe('FileSource', () => {
  it('names the file when it cannot be opened', async () => {
    const missing = join(dir, 'missing.bin');
    const source = new FileSource(missing);
    let caught: unknown;
    try {
      await collectRanges(source, [{ start: 0, end: 1 }]);
    } catch (e) {
      caught = e;
    }
    expect(isGosyncError(caught, 'ERR_BLOCKSOURCE_IO')).toBe(true);
    expect((caught as Error).message).toContain(missing);
  });
});
