import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { add, block, br, brIf, get, geU, i32, load, load8, loop, mul, ret, set, store, sub, wasmModule } from './wasm-emitter.js';

interface Exports {
  readonly memory: { readonly buffer: ArrayBuffer };
  readonly [name: string]: unknown;
}
const wasm = (globalThis as unknown as {
  readonly WebAssembly: { validate(bytes: Uint8Array): boolean; Instance: new (m: object) => { exports: Exports }; Module: new (b: Uint8Array) => object };
}).WebAssembly;

function instantiate(bytes: Uint8Array): Exports {
  expect(wasm.validate(bytes)).toBe(true);
  return new wasm.Instance(new wasm.Module(bytes)).exports;
}

describe('wasmModule', () => {
  test.prop([fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })])('encodes any i32 constant (signed LEB128)', (value) => {
    const { constant } = instantiate(wasmModule([{ name: 'constant', params: 0, locals: 0, body: [ret(i32(value))] }], 1));
    expect((constant as () => number)()).toBe(value);
  });

  it('encodes the edges of each LEB128 length', () => {
    for (const value of [0, 63, 64, -64, -65, 8191, 8192, -8192, -8193, 2 ** 31 - 1, -(2 ** 31), 0x9e3779b1 | 0]) {
      const { constant } = instantiate(wasmModule([{ name: 'constant', params: 0, locals: 0, body: [ret(i32(value))] }], 1));
      expect((constant as () => number)()).toBe(value);
    }
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
            params: 2,
            locals: 1,
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
});
