/**
 * Just enough of the WebAssembly binary format to write a small kernel in TypeScript and compile
 * it at run time, with no `.wasm` file to build or ship: i32 and i64 arithmetic, loads and
 * stores, blocks, loops, branches and calls, one memory, and the few 128-bit SIMD instructions
 * of four 32-bit lanes that hashing four blocks at once needs. An expression is its instructions in
 * stack order, so `add(get(A), i32(1))` is `local.get A; i32.const 1; i32.add`.
 *
 * `@gosync/rollsum`'s rolling scan and `@gosync/index`'s block hashing are written with it.
 *
 * @example
 * ```ts
 * import { add, compileModule, get, instantiateModule, ret, wasmModule } from '@gosync/core/wasm';
 * const bytes = wasmModule([{ name: 'sum', params: ['i32', 'i32'], result: 'i32', body: [ret(add(get(0), get(1)))] }], 1);
 * const sum = instantiateModule(compileModule(bytes)).sum as (a: number, b: number) => number;
 * sum(2, 3); // 5
 * ```
 *
 * @module
 */

/**
 * Instructions in stack order: bytes, nested as the helpers build them (each returns one small
 * array holding its operands' code), flattened once by {@link wasmModule}.
 */
export type Code = readonly (number | Code)[];

/** A value type: 32- or 64-bit integer, or a 128-bit vector (SIMD). */
export type ValType = 'i32' | 'i64' | 'v128';

const TYPE_CODE: Readonly<Record<ValType, number>> = { i32: 0x7f, i64: 0x7e, v128: 0x7b };

function uleb(n: number): number[] {
  const out: number[] = [];
  let rest = n >>> 0;
  do {
    const byte = rest & 0x7f;
    rest >>>= 7;
    out.push(rest === 0 ? byte : byte | 0x80);
  } while (rest !== 0);
  return out;
}

function sleb32(n: number): number[] {
  const out: number[] = [];
  let rest = n | 0;
  for (;;) {
    const byte = rest & 0x7f;
    rest >>= 7;
    if ((rest === 0 && (byte & 0x40) === 0) || (rest === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** Encodings of the i64 constants used so far (BigInt arithmetic is slow before V8 optimises it). */
const sleb64Cache = new Map<bigint, number[]>();

function sleb64(n: bigint): number[] {
  let out = sleb64Cache.get(n);
  if (out !== undefined) return out;
  out = [];
  let rest = n;
  for (;;) {
    const byte = Number(rest & 0x7fn);
    rest >>= 7n;
    if ((rest === 0n && (byte & 0x40) === 0) || (rest === -1n && (byte & 0x40) !== 0)) {
      out.push(byte);
      break;
    }
    out.push(byte | 0x80);
  }
  sleb64Cache.set(n, out);
  return out;
}

const name = (text: string): number[] => {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
};
const vector = (items: readonly (readonly number[])[]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, content: readonly number[]): number[] => [id, ...uleb(content.length), ...content];

const EMPTY = 0x40;
const END = 0x0b;

/** `local.get`. */
export const get = (local: number): Code => [0x20, uleb(local)];
/** `local.set` of a value. */
export const set = (local: number, value: Code): Code => [value, 0x21, uleb(local)];
/** `i32.const` (any integer that fits 32 bits, signed or not). */
export const i32 = (value: number): Code => [0x41, sleb32(value)];
/** `i64.const` (any integer that fits 64 bits, signed or not). */
export const i64 = (value: bigint): Code => [0x42, sleb64(BigInt.asIntN(64, value))];

/** A binary operator: both operands, then the instruction. */
export type Binary = (x: Code, y: Code) => Code;
const binary =
  (op: number): Binary =>
  (x, y) => [x, y, op];
/** A unary operator. */
export type Unary = (x: Code) => Code;
const unary =
  (op: number): Unary =>
  (x) => [x, op];

/** `i32.add`. */
export const add: Binary = binary(0x6a);
/** `i32.sub`. */
export const sub: Binary = binary(0x6b);
/** `i32.mul` (the low 32 bits, as `Math.imul`). */
export const mul: Binary = binary(0x6c);
/** `i32.and`. */
export const and: Binary = binary(0x71);
/** `i32.or`. */
export const or: Binary = binary(0x72);
/** `i32.xor`. */
export const xor: Binary = binary(0x73);
/** `i32.shl` (the count taken mod 32). */
export const shl: Binary = binary(0x74);
/** `i32.shr_u` (the count taken mod 32). */
export const shrU: Binary = binary(0x76);
/** `i32.rotl` (the count taken mod 32). */
export const rotl: Binary = binary(0x77);
/** `i32.ne`. */
export const ne: Binary = binary(0x47);
/** `i32.lt_u`. */
export const ltU: Binary = binary(0x49);
/** `i32.gt_u`. */
export const gtU: Binary = binary(0x4b);
/** `i32.ge_u`. */
export const geU: Binary = binary(0x4f);

/** `i64.add`. */
export const add64: Binary = binary(0x7c);
/** `i64.mul` (the low 64 bits). */
export const mul64: Binary = binary(0x7e);
/** `i64.and`. */
export const and64: Binary = binary(0x83);
/** `i64.or`. */
export const or64: Binary = binary(0x84);
/** `i64.xor`. */
export const xor64: Binary = binary(0x85);
/** `i64.shl` (the count, an i64, taken mod 64). */
export const shl64: Binary = binary(0x86);
/** `i64.shr_u` (the count, an i64, taken mod 64). */
export const shrU64: Binary = binary(0x88);
/** `i64.extend_i32_u`: an i32 as an unsigned i64. */
export const extendU: Unary = unary(0xad);
/** `i32.wrap_i64`: the low 32 bits of an i64. */
export const wrap: Unary = unary(0xa7);

/** `i32.load` of the 4 bytes at `address + offset` (little-endian). */
export const load = (address: Code, offset = 0): Code => [address, 0x28, 2, uleb(offset)];
/** `i32.load8_u` of the byte at `address + offset`. */
export const load8 = (address: Code, offset = 0): Code => [address, 0x2d, 0, uleb(offset)];
/** `i64.load` of the 8 bytes at `address + offset` (little-endian). */
export const load64 = (address: Code, offset = 0): Code => [address, 0x29, 3, uleb(offset)];
/** `i32.store` of a value at `address + offset`. */
export const store = (address: Code, value: Code, offset = 0): Code => [address, value, 0x36, 2, uleb(offset)];
/** `i32.store8`: the low byte of an i32 at `address + offset`. */
export const store8 = (address: Code, value: Code, offset = 0): Code => [address, value, 0x3a, 0, uleb(offset)];

/** A block: `br` to it jumps to its end. */
export const block = (...body: Code[]): Code => [0x02, EMPTY, body, END];
/** A loop: `br` to it jumps to its start. */
export const loop = (...body: Code[]): Code => [0x03, EMPTY, body, END];
/** `if` without `else` (a label too, like a block). */
export const when = (condition: Code, ...body: Code[]): Code => [condition, 0x04, EMPTY, body, END];
/** `br`: to the enclosing label `depth` levels out (0: the innermost). */
export const br = (depth: number): Code => [0x0c, uleb(depth)];
/** `br_if`. */
export const brIf = (depth: number, condition: Code): Code => [condition, 0x0d, uleb(depth)];
/** `return`, with the function's result if it has one. */
export const ret = (value: Code = []): Code => [value, 0x0f];
/** `call` of the module's function number `index` (in the order given to {@link wasmModule}). */
export const call = (index: number, ...args: Code[]): Code => [args, 0x10, uleb(index)];

// SIMD (the fixed-width 128-bit proposal, in every Node this supports): an instruction is the
// prefix 0xfd and its number in unsigned LEB128.
const SIMD = 0xfd;
const simd = (op: number): number[] => [SIMD, ...uleb(op)];
const simdBinary =
  (op: number): Binary =>
  (x, y) => [x, y, simd(op)];

/** `v128.load` of 16 bytes at `address + offset`. */
export const load128 = (address: Code, offset = 0): Code => [address, simd(0x00), 4, uleb(offset)];
/** `v128.store` of 16 bytes at `address + offset`. */
export const store128 = (address: Code, value: Code, offset = 0): Code => [address, value, simd(0x0b), 4, uleb(offset)];
/** `v128.load32_zero`: the 32 bits at `address + offset` in lane 0, zeros in the others. */
export const load32Zero = (address: Code, offset = 0): Code => [address, simd(0x5c), 2, uleb(offset)];
/** `v128.load32_lane`: `vector` with lane `lane` (0–3) replaced by the 32 bits at `address + offset`. */
export const load32Lane = (address: Code, vector: Code, lane: number, offset = 0): Code => [address, vector, simd(0x56), 2, uleb(offset), lane];
/** `i32x4.splat`: four lanes of one i32. */
export const splat32 = (value: Code): Code => [value, simd(0x11)];
/** `i32x4.extract_lane`: lane `lane` (0–3) as an i32. */
export const lane32 = (vector: Code, lane: number): Code => [vector, simd(0x1b), lane];
/** `i32x4.add`. */
export const add32x4: Binary = simdBinary(0xae);
/** `v128.and`. */
export const and128: Binary = simdBinary(0x4e);
/** `v128.or`. */
export const or128: Binary = simdBinary(0x50);
/** `v128.xor`. */
export const xor128: Binary = simdBinary(0x51);
/** `v128.bitselect`: the bits of `x` where `mask` has ones, of `y` where it has zeros. */
export const bitselect128 = (x: Code, y: Code, mask: Code): Code => [x, y, mask, simd(0x52)];
/** `i32x4.shl` of every lane by `count` (an i32, modulo 32). */
export const shl32x4: Binary = simdBinary(0xab);
/** `i32x4.shr_u` of every lane by `count` (an i32, modulo 32). */
export const shrU32x4: Binary = simdBinary(0xad);

/** One function of a module. */
export interface WasmFunction {
  /** Exported under this name (unless `exported` is false). */
  readonly name: string;
  /** Whether to export it (default true). */
  readonly exported?: boolean;
  /** Parameter types: locals `0 … params.length − 1`. */
  readonly params: readonly ValType[];
  /** Further locals, numbered after the parameters. */
  readonly locals?: readonly ValType[];
  /** The result type, if any. */
  readonly result?: ValType;
  readonly body: readonly Code[];
}

function flatten(code: Code, out: number[] = []): number[] {
  for (const c of code) {
    if (typeof c === 'number') out.push(c);
    else flatten(c, out);
  }
  return out;
}

function localGroups(types: readonly ValType[]): number[][] {
  const groups: number[][] = [];
  for (let i = 0; i < types.length; ) {
    let j = i;
    while (j < types.length && types[j] === types[i]) j++;
    groups.push([...uleb(j - i), TYPE_CODE[types[i] as ValType]]);
    i = j;
  }
  return groups;
}

/**
 * Encodes a module with one memory (exported as `memory`, `pages` × 64 KiB to start) and the
 * given functions.
 *
 * @param functions - the functions; `call(i)` calls the i-th
 * @param pages - the memory's initial size in 64 KiB pages
 * @returns the module's bytes, for `new WebAssembly.Module`
 */
export function wasmModule(functions: readonly WasmFunction[], pages: number): Uint8Array<ArrayBuffer> {
  const types = functions.map((f) => [
    0x60,
    ...vector(f.params.map((t) => [TYPE_CODE[t]])),
    ...vector(f.result === undefined ? [] : [[TYPE_CODE[f.result]]]),
  ]);
  const bodies = functions.map((f) => {
    const code = [...vector(localGroups(f.locals ?? [])), ...flatten(f.body), END];
    return [...uleb(code.length), ...code];
  });
  const exports = functions.flatMap((f, i) => (f.exported === false ? [] : [[...name(f.name), 0x00, ...uleb(i)]]));
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector(types)),
    ...section(3, vector(functions.map((_, i) => uleb(i)))),
    ...section(5, vector([[0x00, ...uleb(pages)]])),
    ...section(7, vector([[...name('memory'), 0x02, 0x00], ...exports])),
    ...section(10, vector(bodies)),
  ];
  return new Uint8Array(bytes);
}

/** A module's memory, as a kernel's host uses it. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  /** Grows by `pages` × 64 KiB (keeping the contents); the old `buffer` is detached. */
  grow(pages: number): number;
}

/** A compiled module (a `WebAssembly.Module`), for {@link instantiateModule}. */
export interface CompiledModule {
  readonly __compiledModule: never;
}

interface WasmApi {
  readonly Module: new (bytes: Uint8Array<ArrayBuffer>) => CompiledModule;
  readonly Instance: new (module: CompiledModule) => { readonly exports: unknown };
  readonly validate: (bytes: Uint8Array<ArrayBuffer>) => boolean;
}

// Node has WebAssembly; the packages compile against Node's types and ES2023 alone, which do not
// declare it.
const api = (globalThis as unknown as { readonly WebAssembly: WasmApi }).WebAssembly;

/**
 * Compiles a module synchronously (fine for the small kernels this emitter makes: well under a
 * millisecond, and no wait for V8's asynchronous compile queue).
 *
 * @param bytes - a module from {@link wasmModule}
 * @returns the compiled module
 */
export function compileModule(bytes: Uint8Array<ArrayBuffer>): CompiledModule {
  return new api.Module(bytes);
}

/**
 * Whether this runtime takes a module: a kernel written with SIMD instructions can check, and
 * fall back to one without, where WebAssembly SIMD is missing (V8 needs SSE4.1 for it on x64).
 *
 * @param bytes - a module from {@link wasmModule}
 * @returns true when {@link compileModule} would compile it
 */
export function isValidModule(bytes: Uint8Array<ArrayBuffer>): boolean {
  return api.validate(bytes);
}

/** An instance's exports: its memory, and its functions by name (the caller knows their types). */
export interface WasmExports {
  readonly memory: WasmMemory;
  readonly [name: string]: unknown;
}

/**
 * Instantiates a compiled module (it imports nothing) and returns its exports.
 *
 * @param module - from {@link compileModule}
 * @returns the instance's exports
 */
export function instantiateModule(module: CompiledModule): WasmExports {
  return new api.Instance(module).exports as WasmExports;
}
