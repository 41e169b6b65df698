import { add, block, br, brIf, call, geU, get, i32, instantiateModule, load8, loop, mul, ne, ret, set, when, type Code, type CompiledModule, type WasmMemory } from '@gosync/core/wasm';
import { IndexError } from './errors.js';

/** The longest input one kernel call takes (the kernel's memory holds it whole). */
const MAX_INPUT = 1 << 30;
/** The most expected digests one run compares (16 MiB of them at 16 bytes). */
const MAX_CAPACITY = 1 << 20;
const PAGE = 65536;

/** Where a block-hash kernel's module keeps what the host reads and writes. */
export interface KernelLayout {
  /** The digest of the last `hash` call. */
  readonly digestAt: number;
  /** The expected digests of a run, `cmp` bytes per block. */
  readonly expectedAt: number;
}

/**
 * The body of `run(ptr, len, count, cmp)`: hashes `count` consecutive `len`-byte blocks from
 * `ptr` with the module's function `hashFunction` (`hash(ptr, len)`, leaving its digest at
 * `layout.digestAt`) and compares the first `cmp` bytes of each digest with the expected ones,
 * packed `cmp` bytes per block from `layout.expectedAt`; returns how many match before the first
 * that does not. Locals: 4 and 5 (i32). `before` runs first, with K (local 4, the next block to
 * check) at 0: it may check some blocks its own way, advance K past them, and return early.
 *
 * @internal
 */
export function runFunction(hashFunction: number, layout: KernelLayout, before: readonly Code[] = []): Code[] {
  const [PTR, LEN, COUNT, CMP, K, J] = [0, 1, 2, 3, 4, 5];
  return [
    set(K, i32(0)),
    ...before,
    block(
      loop(
        brIf(1, geU(get(K), get(COUNT))),
        call(hashFunction, add(get(PTR), mul(get(K), get(LEN))), get(LEN)),
        set(J, i32(0)),
        block(
          loop(
            brIf(1, geU(get(J), get(CMP))),
            when(ne(load8(get(J), layout.digestAt), load8(add(mul(get(K), get(CMP)), get(J)), layout.expectedAt)), ret(get(K))),
            set(J, add(get(J), i32(1))),
            br(0),
          ),
        ),
        set(K, add(get(K), i32(1))),
        br(0),
      ),
    ),
    ret(get(K)),
  ];
}

interface KernelExports {
  readonly memory: WasmMemory;
  readonly hash: (ptr: number, len: number) => void;
  readonly run: (ptr: number, len: number, count: number, cmp: number) => number;
}

/** What a {@link BlockHashKernel} hashes with: a module made for it, and where its memory holds what. */
export interface KernelSpec extends KernelLayout {
  /** The hash's name, for error messages. */
  readonly name: string;
  /** The module: exports `memory`, `hash(ptr, len)` and `run(ptr, len, count, cmp)`. */
  readonly module: CompiledModule;
  /** Digest length in bytes. */
  readonly digestLength: number;
  /** The shortest input the module hashes. */
  readonly minLength: number;
}

/**
 * A strong hash of index-sized blocks in WebAssembly: one block at a time
 * ({@link BlockHashKernel.hash}), or a run of equal-sized blocks checked against their expected
 * digests in one call ({@link BlockHashKernel.matchRun}), which is how a scan confirms the blocks
 * that follow a match without a call per block. Each instance has a memory of its own (not for
 * concurrent use).
 */
export class BlockHashKernel {
  readonly #spec: KernelSpec;
  readonly #exports: KernelExports;
  #bytes: Uint8Array;
  readonly #dataAt: number;

  /**
   * @param spec - the hash's module and layout
   * @param expectedCapacity - the most blocks one matchRun checks (1 to 2^20)
   * @throws {@link IndexError} `ERR_INDEX_INVALID_OPTION` for another capacity
   */
  protected constructor(spec: KernelSpec, expectedCapacity: number) {
    if (!Number.isInteger(expectedCapacity) || expectedCapacity < 1 || expectedCapacity > MAX_CAPACITY) {
      throw new IndexError('ERR_INDEX_INVALID_OPTION', `${spec.name}: expected a capacity of 1 to ${MAX_CAPACITY} digests, got ${String(expectedCapacity)}`);
    }
    const exports = instantiateModule(spec.module);
    this.#spec = spec;
    this.#exports = { memory: exports.memory, hash: exports.hash as KernelExports['hash'], run: exports.run as KernelExports['run'] };
    this.#dataAt = spec.expectedAt + spec.digestLength * expectedCapacity;
    // Room for the expected digests from the start (a run writes them before its input).
    const memory = this.#exports.memory;
    if (this.#dataAt > memory.buffer.byteLength) memory.grow(Math.ceil((this.#dataAt - memory.buffer.byteLength) / PAGE));
    this.#bytes = new Uint8Array(memory.buffer);
  }

  /** The kernel's memory, for a subclass to set up constants in. */
  protected get memory(): Uint8Array {
    return this.#bytes;
  }

  /** The shortest input {@link BlockHashKernel.hash} takes (0: any). */
  get minLength(): number {
    return this.#spec.minLength;
  }

  /** The most digests one {@link BlockHashKernel.matchRun} compares. */
  get expectedCapacity(): number {
    return (this.#dataAt - this.#spec.expectedAt) / this.#spec.digestLength;
  }

  #input(bytes: Uint8Array): void {
    const end = this.#dataAt + bytes.length;
    if (end > this.#bytes.length) {
      const memory = this.#exports.memory;
      memory.grow(Math.ceil((end - this.#bytes.length) / PAGE));
      this.#bytes = new Uint8Array(memory.buffer);
    }
    this.#bytes.set(bytes, this.#dataAt);
  }

  /**
   * The digest of `bytes` into `out` at `offset`.
   *
   * @param bytes - the input
   * @param out - where the digest goes
   * @param offset - its offset in `out`
   * @throws {@link IndexError} `ERR_INDEX_INVALID_OPTION` for an input shorter than the kernel
   *   takes or longer than 1 GiB
   */
  hash(bytes: Uint8Array, out: Uint8Array, offset: number): void {
    const { name, minLength, digestAt, digestLength } = this.#spec;
    if (bytes.length < minLength || bytes.length > MAX_INPUT) {
      throw new IndexError('ERR_INDEX_INVALID_OPTION', `${name}.hash: expected ${minLength} to ${MAX_INPUT} bytes, got ${bytes.length}`);
    }
    this.#input(bytes);
    this.#exports.hash(this.#dataAt, bytes.length);
    out.set(this.#bytes.subarray(digestAt, digestAt + digestLength), offset);
  }

  /**
   * Hashes `bytes` as consecutive blocks of `blockLength` bytes and compares the first `compare`
   * bytes of each digest with the expected ones.
   *
   * @param bytes - whole blocks
   * @param blockLength - bytes per block
   * @param expected - `compare` bytes per block, back to back, for at most
   *   {@link BlockHashKernel.expectedCapacity} blocks
   * @param compare - bytes of each digest to compare (1 to the digest length)
   * @returns how many blocks from the first match their expected digest
   * @throws {@link IndexError} `ERR_INDEX_INVALID_OPTION` for a block length the kernel does not
   *   take (or above 1 GiB) or a `compare` outside 1 to the digest length
   */
  matchRun(bytes: Uint8Array, blockLength: number, expected: Uint8Array, compare: number): number {
    const { name, minLength, digestLength, expectedAt } = this.#spec;
    if (
      !Number.isInteger(blockLength) ||
      blockLength < Math.max(1, minLength) ||
      blockLength > MAX_INPUT ||
      !Number.isInteger(compare) ||
      compare < 1 ||
      compare > digestLength
    ) {
      throw new IndexError(
        'ERR_INDEX_INVALID_OPTION',
        `${name}.matchRun: expected blocks of ${Math.max(1, minLength)} to ${MAX_INPUT} bytes and 1 to ${digestLength} bytes to compare, got ${blockLength} and ${compare}`,
      );
    }
    const count = Math.min(Math.floor(bytes.length / blockLength), Math.floor(expected.length / compare), this.expectedCapacity, Math.floor(MAX_INPUT / blockLength));
    this.#bytes.set(expected.subarray(0, count * compare), expectedAt);
    this.#input(bytes.subarray(0, count * blockLength));
    return this.#exports.run(this.#dataAt, blockLength, count, compare);
  }
}
