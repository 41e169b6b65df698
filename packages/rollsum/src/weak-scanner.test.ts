import { fc, test } from '@fast-check/vitest';
import { bytesEqual, isGosyncError } from '@gosync/core';
import { describe, expect, it } from 'vitest';
import { weakSum } from './rollsum32.js';
import { WeakScanner, type WeakScanHit } from './weak-scanner.js';
import { FILTER_FIRST, FILTER_SECOND, WeakSumFilter } from './weak-sum-filter.js';
import { randomBytes } from './test-random.js';
import { zsyncRsumMask } from './zsync-rsum.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const pseudo = (length: number): Uint8Array => randomBytes(length, 99);

interface Hit {
  offset: number;
  sum: number;
}

/** Naive model: recompute the sum at every candidate offset; jump when `jump(offset)` says so. */
function naiveScan(
  data: Uint8Array,
  w: number,
  filter: WeakSumFilter,
  jump: (offset: number) => number,
): Hit[] {
  const hits: Hit[] = [];
  let p = 0;
  while (p + w <= data.length) {
    const sum = weakSum(data.subarray(p, p + w));
    if (filter.has(sum)) {
      hits.push({ offset: p, sum: (sum & filter.mask) >>> 0 });
      const n = jump(p);
      if (n > 0) {
        p += n;
        continue;
      }
    }
    p++;
  }
  return hits;
}

/**
 * Scans `data` cut at `cuts`; with `inputs`, each piece is first put in the scanner's input
 * buffers (in turn, as a reader fills one while the other is scanned) and scanned there.
 */
function scanInPieces(
  data: Uint8Array,
  w: number,
  filter: WeakSumFilter,
  cuts: readonly number[],
  jump: (offset: number) => number,
  inputs = false,
): Hit[] {
  const scanner = new WeakScanner({ windowSize: w, filter });
  const hits: Hit[] = [];
  const points = [...new Set(cuts.map((c) => Math.min(c, data.length)))].sort((x, y) => x - y);
  const longest = Math.max(1, ...[...points, data.length].map((c, i) => c - (i === 0 ? 0 : (points[i - 1] as number))));
  const buffers = inputs ? scanner.inputBuffers(longest) : undefined;
  let prev = 0;
  for (const [i, c] of [...points, data.length].entries()) {
    let piece = data.subarray(prev, c);
    if (buffers !== undefined) {
      const into = buffers[i % 2] as Uint8Array;
      into.set(piece);
      // What was there before is the reader's business: spoil the rest.
      into.fill(0xee, piece.length);
      piece = into.subarray(0, piece.length);
    }
    scanner.update(piece, (offset, sum, buffer, index, end) => {
      expect(bytesEqual(buffer.subarray(index, index + w), data.subarray(offset, offset + w))).toBe(true);
      // Everything fed so far from the window on is available.
      expect(bytesEqual(buffer.subarray(index, end), data.subarray(offset, c))).toBe(true);
      hits.push({ offset, sum });
      return jump(offset);
    });
    prev = c;
  }
  expect(scanner.position).toBe(data.length);
  return hits;
}

describe('WeakScanner', () => {
  it('finds the canonical go-sync matches (block size 4)', () => {
    const reference = text('The quick brown fox jumped over the lazy dog');
    const local = text('The qwik brown fox jumped 0v3r the lazy');
    const sums: number[] = [];
    for (let i = 0; i + 4 <= reference.length; i += 4) sums.push(weakSum(reference.subarray(i, i + 4)));
    const filter = WeakSumFilter.from(sums);
    const blocksBySum = new Map<number, number[]>();
    sums.forEach((s, i) => blocksBySum.set(s, [...(blocksBySum.get(s) ?? []), i]));
    const matches: [number, number][] = [];
    new WeakScanner({ windowSize: 4, filter }).update(local, (offset, sum, buffer, index) => {
      const window = buffer.subarray(index, index + 4);
      const block = blocksBySum.get(sum)?.find((b) => bytesEqual(reference.subarray(b * 4, b * 4 + 4), window));
      if (block === undefined) return 0;
      matches.push([offset, block]);
      return 4;
    });
    expect(matches).toEqual([[0, 0], [7, 2], [11, 3], [15, 4], [19, 5], [31, 8], [35, 9]]);
  });

  it('does not have go-sync’s ring-buffer wrap bug', () => {
    const reference = text('bacbabacacbcbababccaaaccbacbccc');
    const local = text('bababacacbcababccaaaccbacbaccc');
    const w = 5;
    const sums: number[] = [];
    for (let i = 0; i + w <= reference.length; i += w) sums.push(weakSum(reference.subarray(i, i + w)));
    const filter = WeakSumFilter.from(sums, { bitsPerEntry: 1024 });
    for (let cut = 0; cut <= local.length; cut++) {
      const got = scanInPieces(local, w, filter, [cut, cut + 3], () => 0);
      const want = naiveScan(local, w, filter, () => 0);
      expect(got).toEqual(want);
    }
  });

  it('reports offsets beyond 4 GiB exactly', () => {
    const w = 8;
    const block = text('ABCDEFGH');
    const filter = WeakSumFilter.from([weakSum(block)]);
    const scanner = new WeakScanner({ windowSize: w, filter });
    const zeros = new Uint8Array(1 << 20);
    const offsets: number[] = [];
    // Feed 4 GiB + 1 MiB of zeros cheaply by skipping: a hit's return value jumps the scanner.
    scanner.update(block, (offset) => {
      offsets.push(offset);
      return 2 ** 32; // jump 4 GiB ahead
    });
    for (let fed = 0; fed < 2 ** 32; fed += zeros.length) {
      scanner.update(zeros, (offset) => {
        offsets.push(offset);
      });
    }
    scanner.update(block, (offset) => {
      offsets.push(offset);
    });
    // Nothing between: the 4 GiB of zeros were skipped, not scanned.
    expect(offsets).toEqual([0, 2 ** 32 + 8]);
  }, 60_000);

  it('rejects a bad window size and a bad advance', () => {
    const filter = WeakSumFilter.from([weakSum(text('ab'))]);
    let caught: unknown;
    try {
      new WeakScanner({ windowSize: 0, filter });
    } catch (e) {
      caught = e;
    }
    expect(isGosyncError(caught, 'ERR_ROLLSUM_INVALID_OPTION')).toBe(true);
    caught = undefined;
    try {
      new WeakScanner({ windowSize: 2, filter }).update(text('abab'), () => -1);
    } catch (e) {
      caught = e;
    }
    expect(isGosyncError(caught, 'ERR_ROLLSUM_INVALID_OPTION')).toBe(true);
  });

  it('sees sums added to its filter after it was made', () => {
    const filter = new WeakSumFilter(4);
    const scanner = new WeakScanner({ windowSize: 4, filter });
    const seen: number[] = [];
    const record = (o: number): void => {
      seen.push(o);
    };
    scanner.update(text('wxyzabcd'), record);
    expect(seen).toEqual([]);
    const version = filter.version;
    filter.add(weakSum(text('abcd')));
    expect(filter.version).not.toBe(version);
    scanner.update(text('abcd'), record);
    // Window 4 was scanned before the sum was added; window 8 after.
    expect(seen).toEqual([8]);
  });

  it('sees its filter cleared and refilled (same object, new version)', () => {
    const data = text('abcdXefgh');
    const abcd = weakSum(text('abcd'));
    const efgh = weakSum(text('efgh'));
    const filter = WeakSumFilter.from([abcd]);
    expect(filter.has(abcd)).toBe(true);
    const scanner = new WeakScanner({ windowSize: 4, filter });
    const seen: number[] = [];
    const record = (o: number): void => {
      seen.push(o);
    };
    scanner.update(data, record);
    expect(seen).toEqual([0]);
    const version = filter.version;
    expect(filter.clear()).toBe(filter);
    expect(filter.version).not.toBe(version);
    expect(filter.has(abcd)).toBe(false);
    expect([...filter.words, ...filter.confirm].every((w) => w === 0)).toBe(true);
    // Cleared, nothing passes; refilled with the other sum, only it does.
    scanner.reset().update(data, record);
    expect(seen).toEqual([0]);
    filter.add(efgh);
    scanner.reset().update(data, record);
    expect(seen).toEqual([0, 5]);
  });

  it('switches filters from the window after a hit, mid-buffer too', () => {
    const data = text('abcdXabcdYefghZefghWabcd');
    const w = 4;
    const sumOf = (o: number): number => weakSum(data.subarray(o, o + w));
    const both = WeakSumFilter.from([sumOf(0), sumOf(10)]);
    const efghOnly = WeakSumFilter.from([sumOf(10)]);
    const scanner = new WeakScanner({ windowSize: w, filter: both });
    const seen: number[] = [];
    scanner.update(data, (o) => {
      seen.push(o);
      // After the first abcd, stop looking for it: the second abcd (5) and the last (20) pass.
      if (o === 0) scanner.useFilter(efghOnly);
    });
    expect(seen).toEqual([0, 10, 15]);
    expect(scanner.filter).toBe(efghOnly);
    // And back again, for the next buffer.
    scanner.useFilter(both).update(text('abcd'), (o) => { seen.push(o); });
    expect(seen).toEqual([0, 10, 15, 24]);
  });

  it('refuses a filter of another size or mask', () => {
    const scanner = new WeakScanner({ windowSize: 4, filter: new WeakSumFilter(100) });
    for (const other of [new WeakSumFilter(100_000), new WeakSumFilter(100, { mask: zsyncRsumMask(2) })]) {
      let caught: unknown;
      try {
        scanner.useFilter(other);
      } catch (e) {
        caught = e;
      }
      expect(isGosyncError(caught, 'ERR_ROLLSUM_INVALID_OPTION')).toBe(true);
    }
    expect(() => scanner.useFilter(new WeakSumFilter(100))).not.toThrow();
  });

  it('scans a chunk larger than its slice as it scans the same bytes in pieces', () => {
    const w = 4096;
    const data = new Uint8Array(40 << 20);
    let x = 1;
    for (let i = 0; i < data.length; i += 4) {
      x = (Math.imul(x, 1664525) + 1013904223) | 0;
      data[i] = x & 0xff;
      data[i + 1] = (x >>> 8) & 0xff;
    }
    // Windows on both sides of the 16 MiB slice boundary and across it, and two far off.
    const at = [5, (16 << 20) - w - 1, (16 << 20) - 100, 16 << 20, (32 << 20) - 7, data.length - w];
    const filter = WeakSumFilter.from(at.map((o) => weakSum(data.subarray(o, o + w))));
    const hits = (feed: (scanner: WeakScanner, record: WeakScanHit) => void): number[] => {
      const found: number[] = [];
      feed(new WeakScanner({ windowSize: w, filter }), (offset, sum, buffer, index) => {
        expect(bytesEqual(buffer.subarray(index, index + w), data.subarray(offset, offset + w))).toBe(true);
        found.push(offset);
      });
      return found;
    };
    const whole = hits((s, record) => s.update(data, record));
    const pieces = hits((s, record) => {
      for (let i = 0; i < data.length; i += 1 << 20) s.update(data.subarray(i, i + (1 << 20)), record);
    });
    expect(whole).toEqual(pieces);
    for (const o of at) expect(whole).toContain(o);
  });

  it('reset starts a new stream at offset 0', () => {
    const filter = WeakSumFilter.from([weakSum(text('cd'))]);
    const scanner = new WeakScanner({ windowSize: 2, filter });
    const seen: number[] = [];
    scanner.update(text('abc'), (o) => { seen.push(o); });
    scanner.reset().update(text('cd'), (o) => { seen.push(o); });
    expect(seen).toEqual([0]);
    expect(scanner.position).toBe(2);
  });

  test.prop([
    fc.uint8Array({ minLength: 0, maxLength: 1500 }).map((d) => d.map((x) => x & 3)),
    fc.integer({ min: 1, max: 64 }),
    fc.array(fc.nat({ max: 1500 }), { maxLength: 8 }),
    fc.array(fc.nat({ max: 1500 }), { maxLength: 20 }),
    fc.integer({ min: 0, max: 3 }),
  ])(
    'equals the naive model for any buffer split, filter and jump policy',
    (data, w, cuts, picks, jumpKind) => {
      // Filter: sums of windows picked from the data (real hits) plus a few random ones.
      const sums = picks.filter((p) => p + w <= data.length).map((p) => weakSum(data.subarray(p, p + w)));
      sums.push(0x12345678, 0);
      const mask = jumpKind === 3 ? zsyncRsumMask(2) : 0xffffffff;
      const filter = WeakSumFilter.from(sums, { mask, bitsPerEntry: 4 });
      const jump = (offset: number): number =>
        jumpKind === 0 ? 0 : jumpKind === 1 ? w : offset % 3 === 0 ? w + (offset % 5) : 0;
      const naive = naiveScan(data, w, filter, jump);
      expect(scanInPieces(data, w, filter, cuts, jump)).toEqual(naive);
      expect(scanInPieces(data, w, filter, cuts, jump, true)).toEqual(naive);
    },
  );

  it('scans chunks in its input buffers where they are, and copies others in', () => {
    const data = pseudo(300_000);
    const w = 64;
    const filter = WeakSumFilter.from([0, 100, 5000, 250_000].map((o) => weakSum(data.subarray(o, o + w))));
    const scanner = new WeakScanner({ windowSize: w, filter });
    const [a, b] = scanner.inputBuffers(100_000);
    expect(a.length).toBe(100_000);
    expect(b.length).toBe(100_000);
    expect(a.buffer).toBe(b.buffer);
    // The same buffers again for the same or a smaller length.
    expect(scanner.inputBuffers(50_000)[1].byteOffset).toBe(b.byteOffset);
    const hits: number[] = [];
    const onHit: WeakScanHit = (offset, _sum, buffer, index) => {
      expect(bytesEqual(buffer.subarray(index, index + w), data.subarray(offset, offset + w))).toBe(true);
      hits.push(offset);
    };
    a.set(data.subarray(0, 100_000));
    scanner.update(a, onHit);
    // A chunk from elsewhere between two in the buffers.
    scanner.update(data.subarray(100_000, 200_000), onHit);
    b.set(data.subarray(200_000, 300_000));
    scanner.update(b, onHit);
    expect(hits).toEqual([0, 100, 5000, 250_000]);
    expect(() => scanner.inputBuffers(0)).toThrow(/inputBuffers/);
    expect(() => scanner.inputBuffers(17 << 20)).toThrow(/inputBuffers/);
  });
});

describe('WeakSumFilter', () => {
  test.prop([fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 2000 }), fc.constantFrom(2, 3, 4)])(
    'has no false negatives, under any mask',
    (sums, n) => {
      const mask = zsyncRsumMask(n);
      const filter = WeakSumFilter.from(sums, { mask });
      for (const s of sums) {
        expect(filter.has(s)).toBe(true);
        expect(filter.has((s & mask) >>> 0)).toBe(true);
      }
    },
  );

  it('has the documented false-positive rate, the confirming stage cutting it over a hundredfold', () => {
    // Random sums (an arithmetic sequence would line up with the multiplicative hashes).
    const random = new Uint32Array(randomBytes(4 * 2_100_000, 7).buffer);
    const sums = random.subarray(0, 100_000);
    const filter = WeakSumFilter.from(sums);
    const { words, shift } = filter;
    const bit = (m: number, s: number): boolean => {
      const h = Math.imul(s, m) >>> shift;
      return ((words[h >>> 5] as number) & (1 << (h & 31))) !== 0;
    };
    let firstStage = 0;
    let positives = 0;
    const trials = 2_000_000;
    for (let i = 0; i < trials; i++) {
      const s = random[100_000 + i] as number;
      if (bit(FILTER_FIRST, s) && bit(FILTER_SECOND, s)) firstStage++;
      if (filter.has(s)) positives++;
    }
    // 100 000 entries, two bits each, in 2^23 bits: ≈ 0.056 % pass the first stage; two more
    // bits in 2^22 pass ≈ 0.22 % of those: ≈ 0.0001 % in all.
    expect(firstStage / trials).toBeGreaterThan(0.0003);
    expect(firstStage / trials).toBeLessThan(0.001);
    expect(positives / trials).toBeLessThan(0.00001);
    expect(positives).toBeLessThan(firstStage / 100);
    expect(filter.words.length * 32).toBe(2 ** 23);
    expect(filter.confirm.length * 32).toBe(2 ** 22);
  });

  it('rejects bad options', () => {
    for (const f of [
      () => new WeakSumFilter(-1),
      () => new WeakSumFilter(10, { bitsPerEntry: 0 }),
      () => new WeakSumFilter(10, { mask: 0x0000ffff }),
    ]) {
      let caught: unknown;
      try {
        f();
      } catch (e) {
        caught = e;
      }
      expect(isGosyncError(caught, 'ERR_ROLLSUM_INVALID_OPTION')).toBe(true);
    }
  });
});
