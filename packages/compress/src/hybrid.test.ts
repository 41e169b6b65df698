import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fc, test } from '@fast-check/vitest';
import { isGosyncError } from '@gosync/core';
import type { BlockSource, ByteRange, RangeData } from '@gosync/core';
import { collectRanges } from '@gosync/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompressedSource, DEFAULT_RANGE_OVERHEAD, DEFAULT_REQUEST_OVERHEAD, compressFile, groupArtifactRange, planHybridFetch } from './index.js';
import type { CompressedLayout, CompressionCodec } from './index.js';

const H = DEFAULT_RANGE_OVERHEAD;
const R = DEFAULT_REQUEST_OVERHEAD;
const KIB = 1024;

/** A layout with the given compressed sizes (the planner reads nothing else). */
function layoutOf(groupSize: number, sizes: readonly number[], length = groupSize * sizes.length, blockSize = Math.min(4096, groupSize)): CompressedLayout {
  return { codec: 'zstd', level: 6, blockSize, groupSize, length, sizes: Uint32Array.from(sizes) };
}

/**
 * The reference cost of fetching `ranges` with the groups in `compressed` from the artifact: one
 * range per run of adjacent compressed groups, one per maximal piece of a wanted range in plain
 * groups, each plus `overhead`; the dictionary once if any group is compressed; `request` once if
 * both sources are used.
 */
function referenceCost(layout: CompressedLayout, ranges: readonly ByteRange[], compressed: ReadonlySet<number>, overhead: number, request: number): number {
  const { groupSize, sizes } = layout;
  let cost = 0;
  const groups = [...compressed].sort((a, b) => a - b);
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i] as number;
    cost += (sizes[g] as number) + (i > 0 && groups[i - 1] === g - 1 ? 0 : overhead);
  }
  if (groups.length > 0 && layout.dictionary !== undefined) cost += layout.dictionary.length + overhead;
  let anyPlain = false;
  for (const r of ranges) {
    let inPlain = false;
    for (let at = r.start; at < r.end; at++) {
      const plain = !compressed.has(Math.floor(at / groupSize));
      if (plain) cost += 1 + (inPlain ? 0 : overhead);
      inPlain = plain;
      anyPlain ||= plain;
    }
  }
  return cost + (anyPlain && groups.length > 0 ? request : 0);
}

function touchedGroups(layout: CompressedLayout, ranges: readonly ByteRange[]): number[] {
  const out = new Set<number>();
  for (const r of ranges) for (let g = Math.floor(r.start / layout.groupSize); g * layout.groupSize < r.end; g++) out.add(g);
  return [...out].sort((a, b) => a - b);
}

describe('planHybridFetch', () => {
  const big = 128 * KIB;

  it('a group wanted whole that compresses comes from the artifact', () => {
    const layout = layoutOf(big, [40_000, 40_000]);
    expect(planHybridFetch(layout, [{ start: 0, end: big }])).toEqual({
      groups: [0],
      plain: [],
      cost: 40_000 + H,
      compressedCost: 40_000 + H,
      plainCost: big + H,
    });
  });

  it('one small block of a large, poorly compressible group comes plain', () => {
    const layout = layoutOf(big, [40_000, 126_000, 40_000]);
    const plan = planHybridFetch(layout, [{ start: big + 4096, end: big + 8192 }]);
    expect(plan).toMatchObject({ groups: [], plain: [{ start: big + 4096, end: big + 8192 }], cost: 4096 + H, compressedCost: 126_000 + H });
    // Even from a group that compresses well: 4 KiB against 40 000 bytes.
    expect(planHybridFetch(layout, [{ start: 4096, end: 8192 }]).groups).toEqual([]);
  });

  it('a tie goes plain; one byte less compressed goes to the artifact', () => {
    expect(planHybridFetch(layoutOf(8192, [8192]), [{ start: 0, end: 8192 }])).toMatchObject({ groups: [], plain: [{ start: 0, end: 8192 }], cost: 8192 + H });
    expect(planHybridFetch(layoutOf(8192, [8191]), [{ start: 0, end: 8192 }])).toMatchObject({ groups: [0], plain: [], cost: 8191 + H });
    // Two pieces of one group: plain pays two overheads.
    const twoPieces = [{ start: 0, end: 1000 }, { start: 4096, end: 5096 }];
    expect(planHybridFetch(layoutOf(8192, [2000 + H]), twoPieces).groups).toEqual([]);
    expect(planHybridFetch(layoutOf(8192, [2000 + H - 1]), twoPieces).groups).toEqual([0]);
  });

  it('a wanted range across groups: whole groups compressed, partial ends plain, in one piece per run', () => {
    const layout = layoutOf(big, [40_000, 40_000, 40_000, 40_000, 40_000]);
    const range = { start: big - 4096, end: 3 * big + 4096 };
    expect(planHybridFetch(layout, [range])).toEqual({
      groups: [1, 2],
      plain: [{ start: big - 4096, end: big }, { start: 3 * big, end: 3 * big + 4096 }],
      cost: 4096 + H + 80_000 + H + 4096 + H + R,
      compressedCost: 160_000 + H,
      plainCost: range.end - range.start + H,
    });
    // Groups that do not compress: the range stays one plain range.
    const flat = layoutOf(big, [big + 9, big + 9, big + 9, big + 9, big + 9]);
    expect(planHybridFetch(flat, [range])).toMatchObject({ groups: [], plain: [range] });
  });

  it('chooses over runs of groups: a slightly incompressible group inside a compressed run stays compressed', () => {
    // Alone, group 1 would go plain (4096 < 4100); splitting the artifact range costs two overheads.
    const layout = layoutOf(4096, [1000, 4100, 1000]);
    expect(planHybridFetch(layout, [{ start: 0, end: 3 * 4096 }])).toMatchObject({ groups: [0, 1, 2], plain: [], cost: 6100 + H });
    expect(planHybridFetch(layout, [{ start: 4096, end: 2 * 4096 }])).toMatchObject({ groups: [], cost: 4096 + H });
  });

  it('uses one source when a second would save less than its request costs', () => {
    const layout = layoutOf(4096, [1000, 4200, 4200, 1000]);
    // Plain would save 2 × 104 bytes on groups 1 and 2, less than one more request.
    expect(planHybridFetch(layout, [{ start: 0, end: 4 * 4096 }])).toMatchObject({ groups: [0, 1, 2, 3], plain: [], cost: 10_400 + H });
    expect(planHybridFetch(layout, [{ start: 0, end: 4 * 4096 }], { requestOverhead: 0 })).toMatchObject({
      groups: [0, 3],
      plain: [{ start: 4096, end: 3 * 4096 }],
      cost: 1000 + H + 8192 + H + 1000 + H,
    });
  });

  it('counts a dictionary once, and fetches all plain when it does not pay', () => {
    const layout = { ...layoutOf(4096, [1000, 1000, 1000, 1000]), dictionary: { id: 0, length: 64 * KIB, sha256: new Uint8Array(32) } };
    expect(planHybridFetch(layout, [{ start: 0, end: 8192 }])).toMatchObject({ groups: [], plain: [{ start: 0, end: 8192 }], cost: 8192 + H });
    expect(planHybridFetch(layout, [{ start: 0, end: 8192 }]).compressedCost).toBe(2000 + H + 64 * KIB + H);
    const many = { ...layoutOf(4096, Array.from({ length: 40 }, () => 1000)), dictionary: { id: 0, length: 4096, sha256: new Uint8Array(32) } };
    expect(planHybridFetch(many, [{ start: 0, end: 40 * 4096 }])).toMatchObject({ groups: Array.from({ length: 40 }, (_, g) => g), cost: 40_000 + H + 4096 + H });
  });

  it('ignores empty ranges, accepts any order, and rejects bad ranges and options by code', () => {
    const layout = layoutOf(4096, [100, 100]);
    expect(planHybridFetch(layout, [{ start: 5000, end: 6000 }, { start: 3, end: 3 }, { start: 0, end: 4096 }])).toMatchObject({ groups: [0, 1], plain: [] });
    expect(planHybridFetch(layout, [])).toEqual({ groups: [], plain: [], cost: 0, compressedCost: 0, plainCost: 0 });
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return isGosyncError(e) ? e.code : 'not a GosyncError';
      }
      return 'no error';
    };
    expect(code(() => planHybridFetch(layout, [{ start: 0, end: 8193 }]))).toBe('ERR_COMPRESS_INVALID_RANGE');
    expect(code(() => planHybridFetch(layout, [{ start: 0, end: 10 }, { start: 5, end: 20 }]))).toBe('ERR_COMPRESS_INVALID_RANGE');
    expect(code(() => planHybridFetch(layout, [{ start: 0, end: 10 }], { rangeOverhead: -1 }))).toBe('ERR_COMPRESS_INVALID_OPTION');
  });

  const arbCase = fc
    .record({
      groupSize: fc.integer({ min: 1, max: 64 }),
      groups: fc.integer({ min: 1, max: 7 }),
      tail: fc.nat({ max: 63 }),
      overhead: fc.integer({ min: 0, max: 80 }),
      request: fc.constantFrom(0, 1, 30, 300),
      dictionary: fc.option(fc.integer({ min: 1, max: 200 }), { nil: undefined }),
      seed: fc.array(fc.nat(), { minLength: 24, maxLength: 24 }),
    })
    .map(({ groupSize, groups, tail, overhead, request, dictionary, seed }) => {
      const length = Math.max(1, (groups - 1) * groupSize + Math.min(tail, groupSize - 1) + 1);
      const count = Math.ceil(length / groupSize);
      const sizes = Array.from({ length: count }, (_, g) => 1 + ((seed[g] ?? 0) % (Math.min(groupSize, length - g * groupSize) + 20)));
      const cuts = [...new Set(seed.slice(8).map((x) => x % (length + 1)))].sort((a, b) => a - b);
      const ranges: ByteRange[] = [];
      for (let i = 0; i + 1 < cuts.length; i += 2) ranges.push({ start: cuts[i] as number, end: cuts[i + 1] as number });
      const layout: CompressedLayout = {
        ...layoutOf(groupSize, sizes, length, 1),
        ...(dictionary === undefined ? {} : { dictionary: { id: 0, length: dictionary, sha256: new Uint8Array(32) } }),
      };
      return { layout, ranges, overhead, request };
    });

  test.prop([arbCase])('is the cheapest assignment under the cost model, and its plain ranges are exactly the wanted bytes outside its groups', ({ layout, ranges, overhead, request }) => {
    const plan = planHybridFetch(layout, ranges, { rangeOverhead: overhead, requestOverhead: request });
    const chosen = new Set(plan.groups);
    expect(plan.cost).toBe(referenceCost(layout, ranges, chosen, overhead, request));
    const touched = touchedGroups(layout, ranges);
    let cheapest = Infinity;
    for (let mask = 0; mask < 1 << touched.length; mask++) {
      cheapest = Math.min(cheapest, referenceCost(layout, ranges, new Set(touched.filter((_, i) => (mask >> i) & 1)), overhead, request));
    }
    expect(plan.cost).toBe(cheapest);
    expect(plan.compressedCost).toBe(referenceCost(layout, ranges, new Set(touched), overhead, request));
    expect(plan.plainCost).toBe(referenceCost(layout, ranges, new Set(), overhead, request));
    const plainBytes = new Set<number>();
    for (const r of plan.plain) for (let at = r.start; at < r.end; at++) plainBytes.add(at);
    for (const r of ranges) {
      for (let at = r.start; at < r.end; at++) expect(plainBytes.delete(at)).toBe(!chosen.has(Math.floor(at / layout.groupSize)));
    }
    expect(plainBytes.size).toBe(0);
  });
});

/** A BlockSource over bytes that records what it was asked for and may tamper with its answers. */
class BytesSource implements BlockSource {
  closed = false;
  asked: ByteRange[] = [];
  constructor(readonly bytes: Uint8Array, readonly tamper?: (range: ByteRange, data: Uint8Array) => Uint8Array) {}
  async *fetch(ranges: readonly ByteRange[], options: { signal?: AbortSignal | undefined } = {}): AsyncGenerator<RangeData> {
    this.asked.push(...ranges);
    for (const range of [...ranges].reverse()) {
      options.signal?.throwIfAborted();
      await Promise.resolve();
      const data = this.bytes.slice(range.start, range.end);
      yield { range, data: this.tamper ? this.tamper(range, data) : data };
    }
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}


/** Text and random stretches: groups that compress well and groups that do not. */
function mixed(length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = 7;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    out[i] = Math.floor(i / 5000) % 3 === 1 ? x >>> 24 : 97 + ((i * 7 + (i >> 6)) % 11);
  }
  return out;
}

describe('CompressedSource with a plain source', () => {
  const target = mixed(60_000 + 77);
  let dir: string;
  const artifacts: { layout: CompressedLayout; artifact: Uint8Array }[] = [];
  const shapes: { blockSize: number; blocksPerGroup: number; codec: CompressionCodec }[] = [
    { blockSize: 512, blocksPerGroup: 1, codec: 'zstd' },
    { blockSize: 512, blocksPerGroup: 8, codec: 'zstd' },
    { blockSize: 1000, blocksPerGroup: 16, codec: 'gzip' },
  ];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gosync-hybrid-'));
    const input = join(dir, 'target.bin');
    await writeFile(input, target);
    for (const [i, shape] of shapes.entries()) {
      const path = join(dir, `artifact-${i}`);
      const layout = await compressFile(input, path, { ...shape, level: 3, workers: 0 });
      artifacts.push({ layout, artifact: await readFile(path) });
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const verifier = { verify: (r: ByteRange, d: Uint8Array) => Buffer.from(d).equals(Buffer.from(target.subarray(r.start, r.end))) };
  const arbRanges = fc.uniqueArray(fc.nat({ max: target.length }), { maxLength: 16 }).map((cuts) => {
    const sorted = [...cuts].sort((a, b) => a - b);
    const ranges: ByteRange[] = [];
    for (let i = 0; i + 1 < sorted.length; i += 2) ranges.push({ start: sorted[i] as number, end: sorted[i + 1] as number });
    return ranges.reverse();
  });

  test.prop([fc.nat({ max: shapes.length - 1 }), arbRanges, fc.constantFrom(0, 100, 2000, 20_000), fc.constantFrom(0, 300)])(
    'yields exactly the wanted target bytes, each range once and verified, fetching plain only the plan\'s plain ranges',
    async (shape, ranges, rangeOverhead, requestOverhead) => {
      const { layout, artifact } = artifacts[shape] as { layout: CompressedLayout; artifact: Uint8Array };
      const plain = new BytesSource(target);
      let verified = 0;
      const source = new CompressedSource({
        layout,
        artifact: new BytesSource(artifact),
        plain,
        rangeOverhead,
        requestOverhead,
        verifier: { verify: (r, d) => (verified++, verifier.verify(r, d)) },
      });
      const got = await collectRanges(source, ranges);
      const key = (r: ByteRange): string => `${r.start}-${r.end}`;
      expect(got.map((g) => key(g.range)).sort()).toEqual(ranges.map(key).sort());
      for (const { range, data } of got) expect(Buffer.from(data).equals(Buffer.from(target.subarray(range.start, range.end)))).toBe(true);
      expect(verified).toBe(ranges.filter((r) => r.end > r.start).length);
      const plan = planHybridFetch(layout, ranges, { rangeOverhead, requestOverhead });
      expect([...plain.asked].sort((a, b) => a.start - b.start)).toEqual(plan.plain);
    },
  );

  it('fetches a range that crosses both kinds of group from both sources and puts it together', async () => {
    const { layout, artifact } = artifacts[0] as { layout: CompressedLayout; artifact: Uint8Array };
    // From random bytes (5000–10000: 512-byte groups that do not compress) into text.
    const range = { start: 8192, end: 12_288 };
    const plan = planHybridFetch(layout, [range], { rangeOverhead: 0, requestOverhead: 0 });
    expect(plan.plain).toEqual([{ start: 8192, end: 9728 }]);
    expect(plan.groups).toEqual([19, 20, 21, 22, 23]);
    const plain = new BytesSource(target);
    const inner = new BytesSource(artifact);
    const [got] = await collectRanges(new CompressedSource({ layout, artifact: inner, plain, verifier, rangeOverhead: 0, requestOverhead: 0 }), [range]);
    expect(Buffer.from(got!.data).equals(Buffer.from(target.subarray(range.start, range.end)))).toBe(true);
    expect(plain.asked).toEqual(plan.plain);
    expect(inner.asked).toEqual([{ start: groupArtifactRange(layout, 19).start, end: groupArtifactRange(layout, 23).end }]);
  });

  it('plain bytes that fail the verifier, a lying or silent plain source: typed errors naming it; its own errors unchanged', async () => {
    const { layout, artifact } = artifacts[0] as { layout: CompressedLayout; artifact: Uint8Array };
    // A random stretch (5000–10000) does not compress: a block of it comes plain.
    const wanted = [{ start: 6144, end: 6656 }];
    expect(planHybridFetch(layout, wanted).plain).toEqual(wanted);
    const bad = new BytesSource(target, (_r, d) => Uint8Array.from(d, (b) => b ^ 1));
    const flipped = await collectRanges(new CompressedSource({ layout, artifact: new BytesSource(artifact), plain: bad, plainName: 'https://example.test/new.bin', verifier }), wanted).catch((e: unknown) => e);
    expect(isGosyncError(flipped, 'ERR_COMPRESS_VERIFY_FAILED')).toBe(true);
    expect((flipped as Error).message).toBe('https://example.test/new.bin: target range [6144, 6656) failed verification (plain bytes, not from compressed artifact)');
    // Assembled from both: the message says so.
    const across = [{ start: 0, end: 6656 }];
    expect(planHybridFetch(layout, across, { rangeOverhead: 0, requestOverhead: 0 }).plain).toEqual([{ start: 5120, end: 6656 }]);
    const mixedError = await collectRanges(new CompressedSource({ layout, artifact: new BytesSource(artifact), plain: bad, verifier, rangeOverhead: 0, requestOverhead: 0 }), across).catch((e: unknown) => e);
    expect(isGosyncError(mixedError, 'ERR_COMPRESS_VERIFY_FAILED')).toBe(true);
    expect((mixedError as Error).message).toMatch(/target range \[0, 6656\), put together from decompressed groups and plain bytes from plain source, failed/);
    const short = new BytesSource(target, (_r, d) => d.subarray(1));
    const shortError = await collectRanges(new CompressedSource({ layout, artifact: new BytesSource(artifact), plain: short }), wanted).catch((e: unknown) => e);
    expect(isGosyncError(shortError, 'ERR_COMPRESS_SOURCE')).toBe(true);
    const liar: BlockSource = {
      async *fetch() {
        await Promise.resolve();
        yield { range: { start: 1, end: 2 }, data: new Uint8Array(1) };
      },
    };
    const lie = await collectRanges(new CompressedSource({ layout, artifact: new BytesSource(artifact), plain: liar }), wanted).catch((e: unknown) => e);
    expect(isGosyncError(lie, 'ERR_COMPRESS_SOURCE')).toBe(true);
    const silent: BlockSource = { async *fetch() {} };
    const silence = await collectRanges(new CompressedSource({ layout, artifact: new BytesSource(artifact), plain: silent }), wanted).catch((e: unknown) => e);
    expect((silence as Error).message).toMatch(/plain source: the plain source ended without 1 of 1 ranges \(first \[6144, 6656\)\)/);
    const own = new Error('connection reset');
    const failing: BlockSource = {
      // eslint-disable-next-line require-yield
      async *fetch() {
        await Promise.resolve();
        throw own;
      },
    };
    await expect(collectRanges(new CompressedSource({ layout, artifact: new BytesSource(artifact), plain: failing, rangeOverhead: 0, requestOverhead: 0 }), across)).rejects.toBe(own);
    // A damaged frame while the plain source is fine: the artifact's error, naming the group.
    const damaged = artifact.slice();
    damaged[groupArtifactRange(layout, 3).start] = 0;
    const corrupt = await collectRanges(new CompressedSource({ layout, artifact: new BytesSource(damaged), plain: new BytesSource(target), rangeOverhead: 0, requestOverhead: 0 }), across).catch((e: unknown) => e);
    expect(isGosyncError(corrupt, 'ERR_COMPRESS_CORRUPT')).toBe(true);
    expect((corrupt as Error).message).toContain('group 3 (target [1536, 2048), ');
  });

  it('rethrows the abort reason unchanged, closes both sources, and rejects a bad rangeOverhead', async () => {
    const { layout, artifact } = artifacts[0] as { layout: CompressedLayout; artifact: Uint8Array };
    const plain = new BytesSource(target);
    const inner = new BytesSource(artifact);
    const source = new CompressedSource({ layout, artifact: inner, plain });
    const reason = new Error('stop');
    const controller = new AbortController();
    const iterator = source.fetch([{ start: 0, end: 6656 }, { start: 20_000, end: 20_512 }, { start: 40_000, end: 50_000 }], { signal: controller.signal })[Symbol.asyncIterator]();
    await iterator.next();
    controller.abort(reason);
    await expect(iterator.next()).rejects.toBe(reason);
    await source.close();
    expect(plain.closed && inner.closed).toBe(true);
    expect(() => new CompressedSource({ layout, artifact: inner, plain, rangeOverhead: 1.5 })).toThrow(expect.objectContaining({ code: 'ERR_COMPRESS_INVALID_OPTION' }));
    expect(() => new CompressedSource({ layout, artifact: inner, plain, requestOverhead: -1 })).toThrow(expect.objectContaining({ code: 'ERR_COMPRESS_INVALID_OPTION' }));
  });
});
