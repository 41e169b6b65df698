import {
  add,
  and,
  block,
  brIf,
  br,
  compileModule,
  geU,
  get,
  i32,
  instantiateModule,
  load,
  loop,
  mul,
  ret,
  rotl,
  sub,
  set,
  shl,
  shrU,
  store,
  when,
  wasmModule,
  xor,
  type Code,
  type CompiledModule,
  type ValType,
} from '@gosync/core/wasm';
import type { WeakSumFilter } from '@gosync/rollsum';

// The multipliers of {@link WeakSumFilter}'s bits (part of its documented layout): two in its
// first stage, two in its confirming stage (half the size).
const FIRST = 0x9e3779b1;
const SECOND = 0x85ebca6b;
const THIRD = 0xc2b2ae35;
const FOURTH = 0x27d4eb2f;

// The kernel's memory: the pair filter's bitsets from 0 (its first stage, then its confirming
// stage), then the rolling sums of a slice of windows (and one block beyond), then the
// candidates found.
// Parameters and locals of `candidates(sums, out, n, w, mask, shift)`.
const SUMS = 0;
const OUT = 1;
const N = 2;
const W = 3;
const MASK = 4;
const SHIFT = 5;
const I = 6;
const COUNT = 7;
const H = 8;
const WBYTES = 9;
const KEY = 10;
const CONFIRM = 11; // where the confirming stage starts: the first stage's size in bytes
const SHIFT1 = 12;

const PAGE = 65536;

/** Whether bit H (the local) of the bitset at byte `at` (a local, or 0) is set. */
const hasBit = (at: Code): Code => and(load(add(at, shl(shrU(get(H), i32(5)), i32(2)))), shl(i32(1), get(H)));

/**
 * `candidates(sums, out, n, w, mask, shift)`: for the windows `i` in `[0, n)` of the sums at
 * `sums` (u32 each), the pair key of window i and window i + w (`(s_i & mask) ^
 * rotl(s_{i+w} & mask, 16)`, as the pair scan's `pairKey`) tested against the filter at 0, all
 * four bits (`WeakSumFilter.has`); writes the windows that pass to `out` (i32 each) and returns
 * how many.
 */
function candidatesFunction(): Code[] {
  return [
    set(WBYTES, shl(get(W), i32(2))),
    set(CONFIRM, shl(i32(1), sub(i32(29), get(SHIFT)))),
    set(SHIFT1, add(get(SHIFT), i32(1))),
    block(
      loop(
        brIf(1, geU(get(I), get(N))),
        set(KEY, xor(and(load(get(SUMS)), get(MASK)), rotl(and(load(add(get(SUMS), get(WBYTES))), get(MASK)), i32(16)))),
        set(H, shrU(mul(get(KEY), i32(FIRST)), get(SHIFT))),
        when(
          hasBit(i32(0)),
          set(H, shrU(mul(get(KEY), i32(SECOND)), get(SHIFT))),
          when(
            hasBit(i32(0)),
            set(H, shrU(mul(get(KEY), i32(THIRD)), get(SHIFT1))),
            when(
              hasBit(get(CONFIRM)),
              set(H, shrU(mul(get(KEY), i32(FOURTH)), get(SHIFT1))),
              when(hasBit(get(CONFIRM)), store(add(get(OUT), shl(get(COUNT), i32(2))), get(I)), set(COUNT, add(get(COUNT), i32(1)))),
            ),
          ),
        ),
        set(SUMS, add(get(SUMS), i32(4))),
        set(I, add(get(I), i32(1))),
        br(0),
      ),
    ),
    ret(get(COUNT)),
  ];
}

type CandidatesExport = (sums: number, out: number, n: number, w: number, mask: number, shift: number) => number;

let compiled: CompiledModule | undefined;

function pairModule(): CompiledModule {
  compiled ??= compileModule(
    wasmModule([{ name: 'candidates', params: Array<ValType>(6).fill('i32'), locals: Array<ValType>(SHIFT1 + 1 - 6).fill('i32'), result: 'i32', body: candidatesFunction() }], 1),
  );
  return compiled;
}

/**
 * The pair scan's hot loop in WebAssembly: once per byte of the seed, the pair key of a window
 * and the window one block further, tested against the whole pair filter. In JavaScript, with
 * the first bit only (a branch-free loop; the 3 % of windows that passed were tested further one
 * by one), it took 1.8 s of a 3.1 s one-thread scan of the 557 MB swc pair against its .zsync.
 * One instance per pair scan, with the filter copied in.
 *
 * @internal
 */
export class PairKernel {
  /** The rolling sums of a slice of windows and one block beyond: fill these. */
  readonly sums: Uint32Array;
  /** The windows of the slice that passed, after {@link PairKernel.candidates}. */
  readonly out: Int32Array;
  readonly #candidates: CandidatesExport;
  readonly #w: number;
  readonly #mask: number;
  readonly #shift: number;

  /**
   * @param filter - the pair filter (its first stage is used)
   * @param mask - the bits of the sums that count (the index's weak mask)
   * @param slice - the most windows of one call
   * @param w - the block size
   */
  constructor(filter: WeakSumFilter, mask: number, slice: number, w: number) {
    const exports = instantiateModule(pairModule());
    const filterBytes = filter.words.byteLength + filter.confirm.byteLength;
    const sumsAt = filterBytes;
    const outAt = sumsAt + 4 * (slice + w);
    const needed = outAt + 4 * slice;
    const memory = exports.memory;
    const pages = Math.ceil(needed / PAGE) - memory.buffer.byteLength / PAGE;
    if (pages > 0) memory.grow(pages);
    new Int32Array(memory.buffer, 0, filter.words.length).set(filter.words);
    new Int32Array(memory.buffer, filter.words.byteLength, filter.confirm.length).set(filter.confirm);
    this.sums = new Uint32Array(memory.buffer, sumsAt, slice + w);
    this.out = new Int32Array(memory.buffer, outAt, slice);
    this.#candidates = exports.candidates as CandidatesExport;
    this.#w = w;
    this.#mask = mask | 0;
    this.#shift = filter.shift;
  }

  /** Tests the windows `[0, n)` of {@link PairKernel.sums} (n + w sums must be there): how many passed, in {@link PairKernel.out}. */
  candidates(n: number): number {
    // The kernel compares unsigned: no windows (n ≤ 0) must stay none.
    if (n <= 0) return 0;
    return this.#candidates(this.sums.byteOffset, this.out.byteOffset, n, this.#w, this.#mask, this.#shift);
  }
}
