import { fc, test } from '@fast-check/vitest';
import { isGosyncError, toHex } from '@gosync/core';
import { describe, expect, it } from 'vitest';
import { Rollsum32, rollingSums, weakSum, weakSumValue } from './rollsum32.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const FOX = 'The quick brown fox jumped over the lazy dog';

/** Naive model straight from the definition: a = Σ x_i, b = Σ (L − i)·x_i, mod 2^16. */
function naive(data: Uint8Array, windowLength = data.length): number {
  let a = 0;
  let b = 0;
  for (let i = 0; i < data.length; i++) {
    a = (a + data[i]!) % 65536;
    b = (b + (windowLength - i) * data[i]!) % 65536;
  }
  return (a | (b << 16)) >>> 0;
}

const VECTORS: [string, Uint8Array, string, number][] = [
  ['""', text(''), '00000000', 0x00000000],
  ['"a"', text('a'), '61006100', 0x00610061],
  ['"abcd"', text('abcd'), '8a01d403', 0x03d4018a],
  ['"The "', text('The '), '41017203', 0x03720141],
  ['"Wikipedia"', text('Wikipedia'), '9703dd11', 0x11dd0397],
  ['fox', text(FOX), '2f10586b', 0x6b58102f],
  ['bytes 0..255', Uint8Array.from({ length: 256 }, (_, i) => i), '807f80aa', 0xaa807f80],
  ['0xff × 8192', new Uint8Array(8192).fill(0xff), '00e000f0', 0xf000e000],
];

describe('go-sync compatibility vectors (REFERENCE.md §1)', () => {
  it.each(VECTORS)('%s', (_name, data, hex, value) => {
    const sum = new Rollsum32().update(data);
    expect(toHex(sum.digest())).toBe(hex);
    expect(sum.value()).toBe(value);
    expect(weakSum(data)).toBe(value);
    expect(naive(data)).toBe(value);
    expect(sum.length).toBe(data.length);
  });

  it('rolling a 4-byte window over the fox string equals recomputing it', () => {
    const data = text(FOX);
    const expected = ['41017203', '5e018003', '6b014b03', '6f012603', 'b2015804', 'ac014004', '5701c303', '50016f03'];
    const sum = new Rollsum32().update(data.subarray(0, 4));
    const seen = [toHex(sum.digest())];
    for (let i = 4; i < 4 + expected.length - 1; i++) {
      sum.roll(data[i - 4]!, data[i]!);
      seen.push(toHex(sum.digest()));
    }
    expect(seen).toEqual(expected);
    const sums = rollingSums(data, 4);
    expect(sums.length).toBe(data.length - 3);
    expect(Array.from(sums.subarray(0, expected.length), (v) => v.toString(16).padStart(8, '0'))).toEqual(
      expected.map((h) => h.slice(6, 8) + h.slice(4, 6) + h.slice(2, 4) + h.slice(0, 2)),
    );
  });

  it('rollOut then rollIn equals roll', () => {
    const data = text('Wikipedia');
    const a = new Rollsum32().update(data.subarray(0, 5)).rollOut(data[0]!).rollIn(data[5]!);
    const b = new Rollsum32().update(data.subarray(0, 5)).roll(data[0]!, data[5]!);
    expect(a.value()).toBe(b.value());
    expect(a.value()).toBe(weakSum(data.subarray(1, 6)));
  });

  it('shows the documented weaknesses (they are properties of the sum, kept for compatibility)', () => {
    expect(weakSum(new Uint8Array(1000))).toBe(0);
    // window of 65536: the removal term L·c vanishes mod 2^16, so b does not see the byte leaving
    const data = new Uint8Array(65537);
    data[0] = 7;
    const sum = new Rollsum32().update(data.subarray(0, 65536)).roll(7, 0);
    expect(sum.value() >>> 16).toBe(weakSum(data.subarray(0, 65536)) >>> 16);
  });
});

describe('state and errors', () => {
  it('digestInto writes in place and reset empties', () => {
    const out = new Uint8Array(6);
    new Rollsum32().update(text('abcd')).digestInto(out, 2);
    expect(toHex(out)).toBe('00008a01d403');
    const sum = new Rollsum32().update(text('abcd')).reset();
    expect(sum.value()).toBe(0);
    expect(sum.length).toBe(0);
    expect(sum.update(text('a')).value()).toBe(0x00610061);
  });

  it('refuses to roll an empty window', () => {
    for (const f of [() => new Rollsum32().rollOut(1), () => new Rollsum32().roll(1, 2)]) {
      let caught: unknown;
      try {
        f();
      } catch (e) {
        caught = e;
      }
      expect(isGosyncError(caught, 'ERR_ROLLSUM_INVALID_STATE')).toBe(true);
    }
  });

  it('rejects bad window sizes and short output arrays', () => {
    const bad: (() => unknown)[] = [
      () => rollingSums(text('abc'), 0),
      () => rollingSums(text('abc'), 1.5),
      () => rollingSums(text('abcdef'), 2, new Uint32Array(3)),
      () => weakSum(text('abc'), 2),
    ];
    for (const f of bad) {
      let caught: unknown;
      try {
        f();
      } catch (e) {
        caught = e;
      }
      expect(isGosyncError(caught, 'ERR_ROLLSUM_INVALID_OPTION')).toBe(true);
    }
    expect(rollingSums(text('abc'), 4).length).toBe(0);
  });

  it('weakSumValue masks to 16-bit halves', () => {
    expect(weakSumValue(0x12345, 0x6789a)).toBe(0x789a2345);
    expect(weakSumValue(-1, -1)).toBe(0xffffffff);
  });
});

describe('properties', () => {
  test.prop([fc.uint8Array({ maxLength: 3000 }), fc.nat({ max: 70000 })])(
    'weakSum equals the naive model, with zero padding to any window length',
    (data, pad) => {
      expect(weakSum(data)).toBe(naive(data));
      expect(weakSum(data, data.length + pad)).toBe(naive(data, data.length + pad));
      const padded = new Uint8Array(Math.min(data.length + pad, data.length + 3000));
      padded.set(data);
      expect(weakSum(data, padded.length)).toBe(weakSum(padded));
    },
  );

  test.prop([fc.uint8Array({ minLength: 1, maxLength: 2000 }), fc.integer({ min: 1, max: 300 })])(
    'rolling equals recomputing at every offset',
    (data, w) => {
      const sums = rollingSums(data, w);
      expect(sums.length).toBe(Math.max(0, data.length - w + 1));
      const sum = new Rollsum32();
      for (let i = 0; i < sums.length; i++) {
        expect(sums[i]).toBe(naive(data.subarray(i, i + w)));
        if (i === 0) sum.update(data.subarray(0, w));
        else sum.roll(data[i - 1]!, data[i + w - 1]!);
        expect(sum.value()).toBe(sums[i]);
      }
    },
  );

  test.prop([fc.uint8Array({ maxLength: 500 }), fc.array(fc.nat({ max: 500 }), { maxLength: 6 })])(
    'update is independent of how the input is split',
    (data, cuts) => {
      const points = [...new Set(cuts.map((c) => Math.min(c, data.length)))].sort((x, y) => x - y);
      const sum = new Rollsum32();
      let prev = 0;
      for (const c of [...points, data.length]) {
        sum.update(data.subarray(prev, c));
        prev = c;
      }
      expect(sum.value()).toBe(weakSum(data));
    },
  );
});
