import { fc, test } from '@fast-check/vitest';
import { isGosyncError } from '@gosync/core';
import { describe, expect, it } from 'vitest';
import { Chunker, chunkBoundaries } from './chunker.js';
import type { ChunkerOptions } from './chunker.js';
import { GEAR_TABLE } from './gear.js';
import { randomBytes } from './test-random.js';

/** Deterministic pseudo-random bytes: xorshift32 (13, 17, 5), little-endian words. */

/** The chunk boundaries of `data` fed as pieces cut at `cuts` (sorted, clamped, may repeat). */
function streamed(data: Uint8Array, cuts: readonly number[], options?: ChunkerOptions): number[] {
  const chunker = new Chunker(options);
  const ends: number[] = [];
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    const to = Math.min(cut, data.length);
    ends.push(...chunker.push(data.subarray(from, Math.max(from, to))));
    from = Math.max(from, to);
    expect(chunker.position).toBe(from);
  }
  ends.push(...chunker.push(data.subarray(from)));
  const last = chunker.finish();
  if (last !== undefined) ends.push(last);
  return ends;
}

function lengths(ends: readonly number[]): number[] {
  return ends.map((end, i) => end - (ends[i - 1] ?? 0));
}

/**
 * Naive model of the chunk format, straight from the definition in chunker.ts: one byte at a
 * time, the hash as an unsigned number, the masks as "the top `bits` bits are zero" tested by
 * division.
 */
function naiveBoundaries(
  data: Uint8Array,
  minSize: number,
  avgSize: number,
  maxSize: number,
  nc: number,
): number[] {
  const log2 = Math.round(Math.log2(avgSize));
  const bitsS = Math.min(32, log2 + nc);
  const bitsL = log2 - nc;
  const topZero = (h: number, bits: number): boolean => Math.floor(h / 2 ** (32 - bits)) === 0;
  const ends: number[] = [];
  let start = 0;
  let h = 0;
  for (let i = 0; i < data.length; i++) {
    const length = i - start + 1;
    let cut = false;
    if (length >= minSize) {
      h = (h * 2 + GEAR_TABLE[data[i]!]!) % 2 ** 32;
      if (length >= maxSize) cut = true;
      else cut = topZero(h, length < avgSize ? bitsS : bitsL);
    }
    if (cut) {
      ends.push(i + 1);
      start = i + 1;
      h = 0;
    }
  }
  if (start < data.length) ends.push(data.length);
  return ends;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isGosyncError(e) ? e.code : 'not a GosyncError';
  }
  return undefined;
}

const SMALL: ChunkerOptions = { minSize: 256, avgSize: 1024, maxSize: 4096 };
const MiB = 2 ** 20;

describe('GEAR_TABLE', () => {
  it('is splitmix32 from the seed "gear" (independent BigInt model)', () => {
    const M = 2n ** 32n;
    let state = 0x67656172n;
    const model: number[] = [];
    for (let i = 0; i < 256; i++) {
      state = (state + 0x9e3779b9n) % M;
      let z = state;
      z = ((z ^ (z >> 16n)) * 0x21f0aaadn) % M;
      z = ((z ^ (z >> 15n)) * 0x735a2d97n) % M;
      model.push(Number(z ^ (z >> 15n)));
    }
    expect(GEAR_TABLE).toBeInstanceOf(Uint32Array);
    expect(Array.from(GEAR_TABLE)).toEqual(model);
  });

  it('pins the documented entries', () => {
    expect(GEAR_TABLE.length).toBe(256);
    expect(GEAR_TABLE[0]).toBe(0xa110b58e);
    expect(GEAR_TABLE[1]).toBe(0x4b1fbff9);
    expect(GEAR_TABLE[2]).toBe(0xe387a8e7);
    expect(GEAR_TABLE[3]).toBe(0xe44267e3);
    expect(GEAR_TABLE[255]).toBe(0x61690b99);
    expect(new Set(GEAR_TABLE).size).toBe(256);
  });
});

describe('fixed vectors (the chunk format)', () => {
  const data = randomBytes(MiB, 1);

  it('default options on 1 MiB of xorshift32(seed 1)', () => {
    expect(chunkBoundaries(data)).toEqual([
      77726, 107772, 190843, 267258, 334079, 514935, 566168, 676692, 725707, 794004, 862361,
      968607, 1048576,
    ]);
  });

  it.each([
    [0, [984, 2613, 2888, 4086, 5129, 5838, 6717, 7051, 7381, 8373, 9113, 9384, 11187, 11776, 12425, 13040, 13557, 16384]],
    [1, [984, 2112, 2797, 4086, 5129, 6717, 7051, 7381, 8592, 9113, 11187, 11776, 12507, 13557, 16345, 16384]],
    [2, [1113, 2150, 3307, 4391, 5718, 6895, 7381, 8592, 9113, 10417, 11776, 13040, 14273, 15330, 16384]],
    [3, [1113, 2150, 3272, 4340, 5603, 6682, 7743, 8850, 10009, 11187, 12287, 13347, 14735, 15875, 16384]],
  ] as const)('min 256, avg 1024, max 4096, normalization %i on the first 16 KiB', (nc, ends) => {
    expect(chunkBoundaries(data.subarray(0, 16384), { ...SMALL, normalization: nc })).toEqual(ends);
  });

  it('cuts data without boundaries (zeros) at maxSize', () => {
    expect(chunkBoundaries(new Uint8Array(10_000), SMALL)).toEqual([4096, 8192, 10_000]);
  });

  it('empty input has no chunks; short input is one chunk', () => {
    expect(chunkBoundaries(new Uint8Array(0))).toEqual([]);
    expect(chunkBoundaries(new Uint8Array(1))).toEqual([1]);
    expect(chunkBoundaries(data.subarray(0, 255), SMALL)).toEqual([255]);
  });
});

describe('properties', () => {
  const data = randomBytes(200_000, 2);

  test.prop([fc.array(fc.nat({ max: 200_000 }), { maxLength: 40 })], { numRuns: 60 })(
    'boundaries do not depend on how the input is split into buffers',
    (cuts) => {
      expect(streamed(data, cuts, SMALL)).toEqual(chunkBoundaries(data, SMALL));
    },
  );

  test.prop([fc.array(fc.nat({ max: 4096 }), { minLength: 1, maxLength: 300 })], { numRuns: 30 })(
    'tiny pushes (1 byte to 4 KiB, many empty) give the same boundaries',
    (sizes) => {
      const cuts: number[] = [];
      let at = 0;
      for (const size of sizes) cuts.push((at += size % 97 === 0 ? 0 : size));
      expect(streamed(data, cuts, SMALL)).toEqual(chunkBoundaries(data, SMALL));
    },
  );

  it('streaming with the defaults in 1 MiB and odd-sized pushes equals chunkBoundaries', () => {
    const big = randomBytes(4 * MiB + 12345, 3);
    const oneShot = chunkBoundaries(big);
    const regular = Array.from({ length: 5 }, (_, i) => (i + 1) * MiB);
    expect(streamed(big, regular)).toEqual(oneShot);
    expect(streamed(big, [1, 16383, 16384, 65535, 65536, 999_999, 3 * MiB - 7])).toEqual(oneShot);
  });

  test.prop(
    [
      fc.record({
        avgExp: fc.integer({ min: 6, max: 10 }),
        minPart: fc.double({ min: 0, max: 1, noNaN: true }),
        maxPart: fc.double({ min: 0, max: 1, noNaN: true }),
        normalization: fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const),
      }),
      fc.oneof(
        fc.uint8Array({ maxLength: 6000 }),
        fc.uint8Array({ max: 2, maxLength: 6000 }),
        fc.nat({ max: 6000 }).map((n) => new Uint8Array(n)),
      ),
      fc.array(fc.nat({ max: 6000 }), { maxLength: 8 }),
    ],
    { numRuns: 300 },
  )('matches the naive byte-by-byte model, and every chunk but the last is within [min, max]', (p, bytes, cuts) => {
    const avgSize = 2 ** p.avgExp;
    const minSize = 64 + Math.floor(p.minPart * (avgSize - 64));
    const maxSize = avgSize + Math.floor(p.maxPart * 3 * avgSize);
    const options = { minSize, avgSize, maxSize, normalization: p.normalization };
    const ends = chunkBoundaries(bytes, options);
    expect(ends).toEqual(naiveBoundaries(bytes, minSize, avgSize, maxSize, p.normalization));
    expect(streamed(bytes, cuts, options)).toEqual(ends);
    const sizes = lengths(ends);
    sizes.pop();
    for (const size of sizes) {
      expect(size).toBeGreaterThanOrEqual(minSize);
      expect(size).toBeLessThanOrEqual(maxSize);
    }
  });

  it('matches the naive model on 1 MiB with the defaults and in every normalisation', () => {
    const data1 = randomBytes(MiB, 4);
    for (const nc of [0, 1, 2, 3] as const) {
      expect(chunkBoundaries(data1, { avgSize: 8192, normalization: nc })).toEqual(
        naiveBoundaries(data1, 2048, 8192, 32768, nc),
      );
    }
    expect(chunkBoundaries(data1)).toEqual(naiveBoundaries(data1, 16384, 65536, 262144, 1));
  });

  it('does not depend on the alignment of the input in its buffer', () => {
    const data1 = randomBytes(300_000, 5);
    const expected = naiveBoundaries(data1, 2048, 8192, 32768, 1);
    for (const offset of [1, 2, 3, 4, 5, 7]) {
      const backing = new Uint8Array(data1.length + 8).fill(0xee);
      backing.set(data1, offset);
      const view = backing.subarray(offset, offset + data1.length);
      expect(chunkBoundaries(view, { avgSize: 8192 })).toEqual(expected);
      expect(chunkBoundaries(Buffer.from(view), { avgSize: 8192 })).toEqual(expected);
    }
  });

  it('is deterministic, and reset() starts over', () => {
    const chunker = new Chunker(SMALL);
    const first = [...chunker.push(data), chunker.finish()];
    expect(chunker.position).toBe(data.length);
    chunker.reset();
    expect(chunker.position).toBe(0);
    expect([...chunker.push(data), chunker.finish()]).toEqual(first);
    expect(chunkBoundaries(data, SMALL)).toEqual(chunkBoundaries(data, SMALL));
  });
});

describe('streaming API', () => {
  it('finish() closes the pending chunk once and keeps the position', () => {
    const data = randomBytes(10_000, 5);
    const chunker = new Chunker(SMALL);
    expect(chunker.finish()).toBeUndefined();
    expect(chunker.push(new Uint8Array(0))).toEqual([]);
    const ends = chunker.push(data);
    expect(chunker.finish()).toBe(10_000);
    expect(chunker.finish()).toBeUndefined();
    // Bytes after finish() start a new chunk at offset 10 000.
    const more = chunker.push(data);
    expect(more).toEqual(ends.map((end) => end + 10_000));
    expect(chunker.finish()).toBe(20_000);
    expect(chunker.position).toBe(20_000);
  });

  it('finish() after a push that ended exactly on a boundary returns undefined', () => {
    const chunker = new Chunker(SMALL);
    expect(chunker.push(new Uint8Array(8192))).toEqual([4096, 8192]);
    expect(chunker.finish()).toBeUndefined();
  });

  it('reports offsets beyond 4 GiB exactly', () => {
    // min = avg = max: fixed-size chunks, and the chunker never reads the (skipped) bytes.
    const chunker = new Chunker({ minSize: 2 ** 30, avgSize: 2 ** 30, maxSize: 2 ** 30 });
    const piece = new Uint8Array(64 * MiB + 3);
    const ends: number[] = [];
    for (let i = 0; i < 90; i++) ends.push(...chunker.push(piece));
    const total = 90 * piece.length;
    expect(total).toBeGreaterThan(5 * 2 ** 30);
    expect(ends).toEqual([1, 2, 3, 4, 5].map((k) => k * 2 ** 30));
    expect(chunker.position).toBe(total);
    expect(chunker.finish()).toBe(total);
  });

  it('resolves the defaults', () => {
    const chunker = new Chunker();
    expect([chunker.minSize, chunker.avgSize, chunker.maxSize, chunker.normalization]).toEqual([
      16384, 65536, 262144, 1,
    ]);
    const small = new Chunker({ avgSize: 4096 });
    expect([small.minSize, small.avgSize, small.maxSize]).toEqual([1024, 4096, 16384]);
    const tiny = new Chunker({ avgSize: 128, normalization: 0 });
    expect([tiny.minSize, tiny.maxSize, tiny.normalization]).toEqual([64, 512, 0]);
    const huge = new Chunker({ avgSize: 2 ** 29 });
    expect([huge.minSize, huge.maxSize]).toEqual([2 ** 27, 2 ** 30]);
  });
});

describe('option validation', () => {
  it.each([
    [{ minSize: 63 }, /minSize: expected an integer in \[64, avgSize = 65536\], got 63/],
    [{ minSize: 16384.5 }, /minSize.*got 16384\.5/],
    [{ minSize: 65537 }, /minSize.*got 65537/],
    [{ minSize: Number.NaN }, /minSize.*got NaN/],
    [{ minSize: '1024' }, /minSize.*got "1024"/],
    [{ avgSize: 32 }, /avgSize: expected an integer in \[64, 2\^30\], got 32/],
    [{ avgSize: 5000 }, /avgSize: expected a power of two in \[64, 2\^30\], got 5000/],
    [{ avgSize: 2 ** 31 }, /avgSize.*got 2147483648/],
    [{ avgSize: Number.POSITIVE_INFINITY }, /avgSize.*got Infinity/],
    [{ maxSize: 65535 }, /maxSize: expected an integer in \[avgSize = 65536, 2\^30\], got 65535/],
    [{ maxSize: 2 ** 30 + 1 }, /maxSize.*got 1073741825/],
    [{ avgSize: 4096, minSize: 8192 }, /minSize.*avgSize = 4096.*got 8192/],
    [{ normalization: 4 }, /normalization: expected 0, 1, 2 or 3, got 4/],
    [{ normalization: -1 }, /normalization.*got -1/],
    [{ normalization: 1.5 }, /normalization.*got 1\.5/],
  ])('rejects %j with ERR_ROLLSUM_INVALID_OPTION', (bad, message) => {
    const options = bad as unknown as ChunkerOptions;
    expect(codeOf(() => new Chunker(options))).toBe('ERR_ROLLSUM_INVALID_OPTION');
    expect(codeOf(() => chunkBoundaries(new Uint8Array(1), options))).toBe(
      'ERR_ROLLSUM_INVALID_OPTION',
    );
    expect(() => new Chunker(options)).toThrow(message);
  });

  it('accepts the edges of every domain', () => {
    expect(() => new Chunker({ minSize: 64, avgSize: 64, maxSize: 64, normalization: 3 })).not.toThrow();
    expect(() => new Chunker({ minSize: 2 ** 30, avgSize: 2 ** 30, maxSize: 2 ** 30 })).not.toThrow();
    expect(chunkBoundaries(randomBytes(1000, 6), { minSize: 64, avgSize: 64, maxSize: 64 })).toEqual(
      Array.from({ length: 16 }, (_, i) => Math.min(1000, (i + 1) * 64)),
    );
  });
});

describe('chunk statistics on 10 MB of random data', () => {
  const base = randomBytes(10_000_000, 7);

  it.each([4096, 16384, 65536])('the mean chunk size is close to avgSize = %i', (avgSize) => {
    const ends = chunkBoundaries(base, { avgSize });
    const mean = base.length / ends.length;
    // With min = avg / 4 skipped, the expected mean is about 1.15 × avgSize.
    expect(mean).toBeGreaterThan(0.9 * avgSize);
    expect(mean).toBeLessThan(1.4 * avgSize);
  });

  /** Inserts `inserted` at `at` and counts the chunks of `base` from `at` on that survive. */
  function afterInsertion(
    before: readonly number[],
    options: ChunkerOptions,
    at: number,
    inserted: Uint8Array,
  ): { total: number; unchanged: number } {
    const edited = new Uint8Array(base.length + inserted.length);
    edited.set(base.subarray(0, at));
    edited.set(inserted, at);
    edited.set(base.subarray(at), at + inserted.length);
    const after = chunkBoundaries(edited, options);
    // A chunk is unchanged when the edited input has a chunk with the same bytes: the same
    // length at the same offset moved by the insertion (the bytes there are identical).
    const shift = inserted.length;
    const moved = new Set(after.map((end, i) => `${(after[i - 1] ?? 0) - shift}+${end - (after[i - 1] ?? 0)}`));
    let total = 0;
    let unchanged = 0;
    before.forEach((end, i) => {
      const start = before[i - 1] ?? 0;
      if (start < at) return;
      total++;
      if (moved.has(`${start}+${end - start}`)) unchanged++;
    });
    // Resynchronised for good: the last chunks are the same bytes.
    expect(after.slice(-5).map((end) => end - shift)).toEqual(before.slice(-5));
    return { total, unchanged };
  }

  const arbInsertion = (lastAt: number): fc.Arbitrary<[number, Uint8Array]> =>
    fc.tuple(fc.nat({ max: lastAt }), fc.uint8Array({ minLength: 1, maxLength: 1000 }));

  describe('inserting 1–1000 random bytes', () => {
    const small: ChunkerOptions = { avgSize: 8192 };
    const beforeSmall = chunkBoundaries(base, small);
    test.prop([arbInsertion(5_000_000)], { numRuns: 6 })(
      'avgSize 8 KiB: ≥ 95% of the chunks after the insertion point are unchanged',
      ([at, inserted]) => {
        const { total, unchanged } = afterInsertion(beforeSmall, small, at, inserted);
        expect(total).toBeGreaterThan(400);
        expect(unchanged / total).toBeGreaterThanOrEqual(0.95);
      },
    );

    // With the defaults 10 MB holds only ~130 chunks; normalisation level 1 (the default) falls
    // back into step within a chunk, so every single insertion must keep ≥ 95 %.
    const beforeDefault = chunkBoundaries(base);
    test.prop([arbInsertion(2_000_000)], { numRuns: 8 })(
      'defaults: ≥ 95% of the chunks after the insertion point are unchanged',
      ([at, inserted]) => {
        const { total, unchanged } = afterInsertion(beforeDefault, {}, at, inserted);
        expect(total).toBeGreaterThan(80);
        expect(unchanged / total).toBeGreaterThanOrEqual(0.95);
      },
    );
  });
});
