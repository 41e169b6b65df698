import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import {
  add,
  add32x4,
  add64,
  and128,
  bitselect128,
  block,
  br,
  brIf,
  call,
  compileModule,
  extendU,
  get,
  geU,
  i32,
  i64,
  instantiateModule,
  isValidModule,
  lane32,
  load,
  load128,
  load32Lane,
  load32Zero,
  load8,
  loop,
  mul,
  mul64,
  or128,
  ret,
  rotl,
  set,
  shl32x4,
  shrU32x4,
  shrU64,
  splat32,
  store,
  store128,
  sub,
  wasmModule,
  wrap,
  xor,
  xor128,
  xor64,
  type WasmExports,
} from './wasm.js';

const wasm = (globalThis as unknown as { readonly WebAssembly: { validate: (bytes: Uint8Array) => boolean } }).WebAssembly;

function instantiate(bytes: Uint8Array<ArrayBuffer>): WasmExports {
  expect(wasm.validate(bytes)).toBe(true);
  return instantiateModule(compileModule(bytes));
}

describe('wasmModule', () => {
  test.prop([fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })])('encodes any i32 constant (signed LEB128)', (value) => {
    const { constant } = instantiate(wasmModule([{ name: 'constant', params: [], result: 'i32', body: [ret(i32(value))] }], 1));
    expect((constant as () => number)()).toBe(value);
  });

  it('encodes the edges of each LEB128 length', () => {
    for (const value of [0, 63, 64, -64, -65, 8191, 8192, -8192, -8193, 2 ** 31 - 1, -(2 ** 31), 0x9e3779b1 | 0]) {
      const { constant } = instantiate(wasmModule([{ name: 'constant', params: [], result: 'i32', body: [ret(i32(value))] }], 1));
      expect((constant as () => number)()).toBe(value);
    }
  });

  test.prop([fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n })])('encodes any i64 constant, signed or not', (value) => {
    const { constant } = instantiate(wasmModule([{ name: 'constant', params: [], result: 'i64', body: [ret(i64(value))] }], 1));
    expect((constant as () => bigint)()).toBe(BigInt.asIntN(64, value));
  });

  it('does 64-bit arithmetic and calls between functions', () => {
    // mix(a, b) = ((a * b) ^ (a >> 7)) + b, an i64 function called by an i32 one.
    const exports = instantiate(
      wasmModule(
        [
          { name: 'mix', exported: false, params: ['i64', 'i64'], result: 'i64', body: [ret(add64(xor64(mul64(get(0), get(1)), shrU64(get(0), i64(7n))), get(1)))] },
          { name: 'low', params: ['i32', 'i32'], result: 'i32', body: [ret(wrap(call(0, extendU(get(0)), extendU(get(1)))))] },
          { name: 'full', params: ['i64', 'i64'], result: 'i64', body: [ret(call(0, get(0), get(1)))] },
        ],
        1,
      ),
    );
    const mix = (a: bigint, b: bigint): bigint => BigInt.asUintN(64, ((a * b) ^ (a >> 7n)) + b);
    expect(BigInt.asUintN(64, (exports.full as (a: bigint, b: bigint) => bigint)(0x9e3779b185ebca87n - 2n ** 64n, 12345n))).toBe(mix(0x9e3779b185ebca87n, 12345n));
    expect((exports.low as (a: number, b: number) => number)(0xffffffff, 3) >>> 0).toBe(Number(mix(0xffffffffn, 3n) & 0xffffffffn));
    expect('mix' in exports).toBe(false);
  });

  test.prop([fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.nat({ max: 40 })])('xors and rotates 32-bit words as JavaScript does', (a, b, n) => {
    const exports = instantiate(wasmModule([{ name: 'f', params: ['i32', 'i32', 'i32'], result: 'i32', body: [ret(xor(get(0), rotl(get(1), get(2))))] }], 1));
    const rotated = ((b << (n & 31)) | (b >>> ((32 - (n & 31)) & 31))) >>> 0;
    expect((exports.f as (a: number, b: number, n: number) => number)(a, b, n) >>> 0).toBe((a ^ rotated) >>> 0);
  });

  it('runs loops, branches, loads and stores over its memory', () => {
    // sum(from, to): the bytes [from, to) summed, the result also stored at address 0.
    const FROM = 0;
    const TO = 1;
    const ACC = 2;
    const exports = instantiate(
      wasmModule(
        [
          {
            name: 'sum',
            params: ['i32', 'i32'],
            locals: ['i32'],
            result: 'i32',
            body: [
              block(loop(brIf(1, geU(get(FROM), get(TO))), set(ACC, add(get(ACC), load8(get(FROM)))), set(FROM, add(get(FROM), i32(1))), br(0))),
              store(i32(0), get(ACC)),
              ret(sub(mul(load(i32(0)), i32(1)), i32(0))),
            ],
          },
        ],
        2,
      ),
    );
    const memory = new Uint8Array(exports.memory.buffer);
    expect(memory.length).toBe(2 * 65536);
    for (let i = 0; i < 300; i++) memory[100 + i] = i & 0xff;
    const expected = Array.from({ length: 300 }, (_, i) => i & 0xff).reduce((a, b) => a + b, 0);
    expect((exports.sum as (from: number, to: number) => number)(100, 400)).toBe(expected);
    expect(new Int32Array(exports.memory.buffer, 0, 1)[0]).toBe(expected);
  });

  test.prop([fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 31 }), fc.integer({ min: 1, max: 20 })])(
    'runs four 32-bit lanes at once: gathers, adds, shifts, bit operations, lanes out',
    (words, shift, stride) => {
      // simd(stride, shift): lanes gathered from 4 addresses `4 * stride` bytes apart (x), and the
      // 16 bytes at 256 (y); stores at 512: x + y, rotl(x, shift), bitselect(x, y, x ^ y) and
      // (x & y) | splat(shift); returns lane 2 of x.
      const [STRIDE, SHIFT] = [0, 1];
      const [X, Y] = [2, 3];
      // Lane k of x is the word at 4 * stride * k, below y's 16 bytes at 256.
      const exports = instantiate(
        wasmModule(
          [
            {
              name: 'simd',
              params: ['i32', 'i32'],
              locals: ['v128', 'v128'],
              result: 'i32',
              body: [
                set(X, load32Zero(i32(0))),
                set(X, load32Lane(mul(get(STRIDE), i32(4)), get(X), 1)),
                set(X, load32Lane(mul(get(STRIDE), i32(8)), get(X), 2)),
                set(X, load32Lane(mul(get(STRIDE), i32(12)), get(X), 3)),
                set(Y, load128(i32(256))),
                store128(i32(512), add32x4(get(X), get(Y))),
                store128(i32(512), or128(shl32x4(get(X), get(SHIFT)), shrU32x4(get(X), sub(i32(32), get(SHIFT)))), 16),
                store128(i32(512), bitselect128(get(X), get(Y), xor128(get(X), get(Y))), 32),
                store128(i32(512), or128(and128(get(X), get(Y)), splat32(get(SHIFT))), 48),
                // One word into lane 0, zeros in the others (the 12 bytes after it are not).
                store128(i32(512), load32Zero(i32(256)), 64),
                ret(lane32(get(X), 2)),
              ],
            },
          ],
          1,
        ),
      );
      const memory = new Int32Array(exports.memory.buffer);
      memory.fill(0, 0, 1024);
      const x = [0, 1, 2, 3].map((k) => words[k] as number);
      const y = [4, 5, 6, 7].map((k) => words[k] as number);
      for (let k = 0; k < 4; k++) memory[stride * k] = x[k] as number;
      memory.set(y, 64);
      expect((exports.simd as (stride: number, shift: number) => number)(stride, shift)).toBe(x[2]);
      const out = [...memory.subarray(128, 148)];
      const lanes = (f: (a: number, b: number) => number): number[] => x.map((a, k) => f(a, y[k] as number) | 0);
      const rotl32 = (a: number): number => (a << shift) | (shift === 0 ? 0 : a >>> (32 - shift));
      expect(out).toEqual([
        ...lanes((a, b) => a + b),
        ...lanes((a) => (shift === 0 ? a : rotl32(a))),
        ...lanes((a, b) => (a & (a ^ b)) | (b & ~(a ^ b))),
        ...lanes((a, b) => (a & b) | shift),
        y[0] as number,
        0,
        0,
        0,
      ]);
    },
  );

  it('tells whether the runtime takes a module', () => {
    const good = wasmModule([{ name: 'f', params: [], locals: ['v128'], body: [set(0, splat32(i32(1)))] }], 1);
    expect(isValidModule(good)).toBe(true);
    // A v128 local set from an i32: no module.
    const bad = wasmModule([{ name: 'f', params: [], locals: ['v128'], body: [set(0, i32(1))] }], 1);
    expect(isValidModule(bad)).toBe(false);
    expect(() => compileModule(bad)).toThrow();
  });
});
