/**
 * Just enough of the WebAssembly binary format to write a small kernel as TypeScript: i32
 * arithmetic, loads and stores, blocks, loops and branches, one memory. An expression is its
 * bytes in stack order, so `add(get(A), i32(1))` is `local.get A; i32.const 1; i32.add`.
 * Every parameter and local is an i32; a function returns one i32.
 *
 * @internal
 * @module
 */

/** Instructions in stack order. */
export type Code = readonly number[];

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

function sleb(n: number): number[] {
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

const name = (text: string): number[] => {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
};
const vector = (items: readonly (readonly number[])[]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, content: readonly number[]): number[] => [id, ...uleb(content.length), ...content];

const I32 = 0x7f;
const EMPTY = 0x40;
const END = 0x0b;

/** `local.get`. */
export const get = (local: number): Code => [0x20, ...uleb(local)];
/** `local.set` of a value. */
export const set = (local: number, value: Code): Code => [...value, 0x21, ...uleb(local)];
/** `i32.const`. */
export const i32 = (value: number): Code => [0x41, ...sleb(value)];

/** A binary i32 operator. */
export type Binary = (x: Code, y: Code) => Code;
const binary =
  (op: number): Binary =>
  (x, y) => [...x, ...y, op];
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
/** `i32.shl` (the count taken mod 32). */
export const shl: Binary = binary(0x74);
/** `i32.shr_u` (the count taken mod 32). */
export const shrU: Binary = binary(0x76);
/** `i32.lt_u`. */
export const ltU: Binary = binary(0x49);
/** `i32.gt_u`. */
export const gtU: Binary = binary(0x4b);
/** `i32.ge_u`. */
export const geU: Binary = binary(0x4f);

/** `i32.load` of the 4 bytes at `address + offset`. */
export const load = (address: Code, offset = 0): Code => [...address, 0x28, 2, ...uleb(offset)];
/** `i32.load8_u` of the byte at `address + offset`. */
export const load8 = (address: Code, offset = 0): Code => [...address, 0x2d, 0, ...uleb(offset)];
/** `i32.store` of a value at `address + offset`. */
export const store = (address: Code, value: Code, offset = 0): Code => [...address, ...value, 0x36, 2, ...uleb(offset)];

/** A block: `br` to it jumps to its end. */
export const block = (...body: Code[]): Code => [0x02, EMPTY, ...body.flat(), END];
/** A loop: `br` to it jumps to its start. */
export const loop = (...body: Code[]): Code => [0x03, EMPTY, ...body.flat(), END];
/** `if` without `else` (a label too, like a block). */
export const when = (condition: Code, ...body: Code[]): Code => [...condition, 0x04, EMPTY, ...body.flat(), END];
/** `br`: to the enclosing label `depth` levels out (0: the innermost). */
export const br = (depth: number): Code => [0x0c, ...uleb(depth)];
/** `br_if`. */
export const brIf = (depth: number, condition: Code): Code => [...condition, 0x0d, ...uleb(depth)];
/** `return` of a value. */
export const ret = (value: Code): Code => [...value, 0x0f];

/** One exported function: i32 parameters and locals, one i32 result. */
export interface WasmFunction {
  readonly name: string;
  readonly params: number;
  /** Locals after the parameters (numbered from `params` on). */
  readonly locals: number;
  readonly body: readonly Code[];
}

/**
 * Encodes a module with one memory (exported as `memory`, `pages` × 64 KiB to start) and the
 * given functions, each exported under its name.
 *
 * @param functions - the functions
 * @param pages - the memory's initial size in 64 KiB pages
 * @returns the module's bytes
 */
export function wasmModule(functions: readonly WasmFunction[], pages: number): Uint8Array<ArrayBuffer> {
  const types = functions.map((f) => [0x60, ...vector(Array.from({ length: f.params }, () => [I32])), ...vector([[I32]])]);
  const bodies = functions.map((f) => {
    const code = [...(f.locals > 0 ? vector([[...uleb(f.locals), I32]]) : vector([])), ...f.body.flat(), END];
    return [...uleb(code.length), ...code];
  });
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector(types)),
    ...section(3, vector(functions.map((_, i) => uleb(i)))),
    ...section(5, vector([[0x00, ...uleb(pages)]])),
    ...section(7, vector([[...name('memory'), 0x02, 0x00], ...functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)])])),
    ...section(10, vector(bodies)),
  ];
  return new Uint8Array(bytes);
}
