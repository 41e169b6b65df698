import {
  add,
  and,
  block,
  brIf,
  br,
  compileModule,
  geU,
  gtU,
  get,
  i32,
  instantiateModule,
  load,
  load8,
  loop,
  mul,
  or,
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
import { FILTER_CONFIRM, FILTER_FIRST, FILTER_SECOND, type WeakSumFilter } from '@gosync/rollsum';

// The kernel's memory: the pair filter's bitsets from 0 (its first stage, then its confirming
// stage), then the rolling sums of a slice of windows (and one block beyond), then the
// candidates found, then the bytes of the slice.
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
const AHEAD = 9; // the sums one block further
const KEY = 10;
const CONFIRM = 11; // where the confirming stage starts: the first stage's size in bytes
const SHIFT1 = 12;
const BASE = 13; // the sums' first address
const J = 14;
const KEPT = 15;

// Parameters and locals of `rollingSums(data, out, n, w)`.
const R_DATA = 0;
const R_OUT = 1;
const R_N = 2;
const R_W = 3;
const R_A = 4;
const R_B = 5;
const R_I = 6;
const R_LAST = 7; // address of the last window's first byte
const R_X = 8;

const PAGE = 65536;

/**
 * `rollingSums(data, out, n, w)`: the weak sum of every window of `w` bytes in `[data, data + n)`
 * (n ≥ w), as `@gosync/rollsum`'s `rollingSums`: `(a & 0xffff) | (b << 16)` per window, in `out`.
 */
function rollingSumsFunction(): Code[] {
  return [
    set(R_LAST, add(get(R_DATA), sub(get(R_N), get(R_W)))),
    // The first window.
    set(R_I, get(R_DATA)),
    block(
      loop(
        brIf(1, geU(get(R_I), add(get(R_DATA), get(R_W)))),
        set(R_A, add(get(R_A), load8(get(R_I)))),
        set(R_B, add(get(R_B), get(R_A))),
        set(R_I, add(get(R_I), i32(1))),
        br(0),
      ),
    ),
    // Then roll: store the window at R_I (its first byte's address), move one byte on; four
    // windows a step while the fourth roll stays within the last window. Each sum adds the
    // difference of the bytes (ready early) last, so that a and b each take one addition a byte.
    set(R_I, get(R_DATA)),
    block(
      loop(
        brIf(1, gtU(add(get(R_I), i32(4)), get(R_LAST))),
        ...[0, 1, 2, 3].flatMap((k) => [
          store(get(R_OUT), or(and(get(R_A), i32(0xffff)), shl(get(R_B), i32(16))), 4 * k),
          set(R_X, load8(get(R_I), k)),
          set(R_A, add(get(R_A), sub(load8(add(get(R_I), get(R_W)), k), get(R_X)))),
          set(R_B, add(get(R_B), sub(get(R_A), mul(get(R_W), get(R_X))))),
        ]),
        set(R_I, add(get(R_I), i32(4))),
        set(R_OUT, add(get(R_OUT), i32(16))),
        br(0),
      ),
    ),
    block(
      loop(
        store(get(R_OUT), or(and(get(R_A), i32(0xffff)), shl(get(R_B), i32(16)))),
        brIf(1, geU(get(R_I), get(R_LAST))),
        set(R_X, load8(get(R_I))),
        set(R_A, add(sub(get(R_A), get(R_X)), load8(add(get(R_I), get(R_W))))),
        set(R_B, add(sub(get(R_B), mul(get(R_W), get(R_X))), get(R_A))),
        set(R_I, add(get(R_I), i32(1))),
        set(R_OUT, add(get(R_OUT), i32(4))),
        br(0),
      ),
    ),
  ];
}

/** Whether bit H (the local) of the bitset at byte `at` (a local, or 0) is set. */
const hasBit = (at: Code): Code => and(load(add(at, shl(shrU(get(H), i32(5)), i32(2)))), shl(i32(1), get(H)));

/** The pair key of the window whose sum is at `sums` + `k`·4, with the sums at `ahead` (one block further). */
const keyAt = (sums: number, ahead: number, k: number): Code =>
  xor(and(load(get(sums), 4 * k), get(MASK)), rotl(and(load(get(ahead), 4 * k), get(MASK)), i32(16)));

/**
 * Tests window I + k (its key from the sums at SUMS + 4k) against both bits of the filter's first
 * stage; where both are set, appends it to `out`.
 */
function testWindow(k: number): Code {
  return [
    set(KEY, keyAt(SUMS, AHEAD, k)),
    set(H, shrU(mul(get(KEY), i32(FILTER_FIRST)), get(SHIFT))),
    when(
      hasBit(i32(0)),
      set(H, shrU(mul(get(KEY), i32(FILTER_SECOND)), get(SHIFT))),
      when(hasBit(i32(0)), store(add(get(OUT), shl(get(COUNT), i32(2))), add(get(I), i32(k))), set(COUNT, add(get(COUNT), i32(1)))),
    ),
  ];
}

/**
 * `candidates(sums, out, n, w, mask, shift)`: for the windows `i` in `[0, n)` of the sums at
 * `sums` (u32 each), the pair key of window i and window i + w (`(s_i & mask) ^
 * rotl(s_{i+w} & mask, 16)`, as the pair scan's `pairKey`) tested against the filter at 0, all
 * four bits (`WeakSumFilter.has`); writes the windows that pass to `out` (i32 each) and returns
 * how many. The first stage is tested four windows a step; the confirming stage afterwards, over
 * the few that passed (in the loop, its code slowed every window).
 */
function candidatesFunction(): Code[] {
  return [
    set(BASE, get(SUMS)),
    set(AHEAD, add(get(SUMS), shl(get(W), i32(2)))),
    block(
      loop(
        brIf(1, gtU(add(get(I), i32(4)), get(N))),
        testWindow(0),
        testWindow(1),
        testWindow(2),
        testWindow(3),
        set(SUMS, add(get(SUMS), i32(16))),
        set(AHEAD, add(get(AHEAD), i32(16))),
        set(I, add(get(I), i32(4))),
        br(0),
      ),
    ),
    block(
      loop(
        brIf(1, geU(get(I), get(N))),
        testWindow(0),
        set(SUMS, add(get(SUMS), i32(4))),
        set(AHEAD, add(get(AHEAD), i32(4))),
        set(I, add(get(I), i32(1))),
        br(0),
      ),
    ),
    // The confirming stage, over the windows that passed the first: keep those that pass it too.
    set(CONFIRM, shl(i32(1), sub(i32(29), get(SHIFT)))),
    set(SHIFT1, add(get(SHIFT), i32(1))),
    set(J, i32(0)),
    block(
      loop(
        brIf(1, geU(get(J), get(COUNT))),
        set(I, load(add(get(OUT), shl(get(J), i32(2))))),
        set(SUMS, add(get(BASE), shl(get(I), i32(2)))),
        set(AHEAD, add(get(SUMS), shl(get(W), i32(2)))),
        set(KEY, keyAt(SUMS, AHEAD, 0)),
        set(H, shrU(mul(get(KEY), i32(FILTER_CONFIRM[0])), get(SHIFT1))),
        when(
          hasBit(get(CONFIRM)),
          set(H, shrU(mul(get(KEY), i32(FILTER_CONFIRM[1])), get(SHIFT1))),
          when(hasBit(get(CONFIRM)), store(add(get(OUT), shl(get(KEPT), i32(2))), get(I)), set(KEPT, add(get(KEPT), i32(1)))),
        ),
        set(J, add(get(J), i32(1))),
        br(0),
      ),
    ),
    ret(get(KEPT)),
  ];
}

type CandidatesExport = (sums: number, out: number, n: number, w: number, mask: number, shift: number) => number;
type RollingSumsExport = (data: number, out: number, n: number, w: number) => void;

let compiled: CompiledModule | undefined;

function pairModule(): CompiledModule {
  compiled ??= compileModule(
    wasmModule(
      [
        { name: 'candidates', params: Array<ValType>(6).fill('i32'), locals: Array<ValType>(KEPT + 1 - 6).fill('i32'), result: 'i32', body: candidatesFunction() },
        { name: 'rollingSums', params: Array<ValType>(4).fill('i32'), locals: Array<ValType>(R_X + 1 - 4).fill('i32'), body: rollingSumsFunction() },
      ],
      1,
    ),
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
  /** The rolling sums of a slice of windows and one block beyond ({@link PairKernel.rollingSums}). */
  readonly sums: Uint32Array;
  /** The windows of the slice that passed, after {@link PairKernel.candidates}. */
  readonly out: Int32Array;
  /** The bytes of a slice (its windows and one block beyond): put them here for {@link PairKernel.rollingSums}. */
  readonly input: Uint8Array;
  readonly #candidates: CandidatesExport;
  readonly #rollingSums: RollingSumsExport;
  readonly #w: number;
  readonly #mask: number;
  readonly #shift: number;

  /**
   * @param filter - the pair filter (both its stages are copied in)
   * @param mask - the bits of the sums that count (the index's weak mask)
   * @param slice - the most windows of one call
   * @param w - the block size
   */
  constructor(filter: WeakSumFilter, mask: number, slice: number, w: number) {
    const exports = instantiateModule(pairModule());
    const filterBytes = filter.words.byteLength + filter.confirm.byteLength;
    const sumsAt = filterBytes;
    const outAt = sumsAt + 4 * (slice + w);
    const inputAt = outAt + 4 * slice;
    const needed = inputAt + slice + 2 * w;
    const memory = exports.memory;
    const pages = Math.ceil(needed / PAGE) - memory.buffer.byteLength / PAGE;
    if (pages > 0) memory.grow(pages);
    new Int32Array(memory.buffer, 0, filter.words.length).set(filter.words);
    new Int32Array(memory.buffer, filter.words.byteLength, filter.confirm.length).set(filter.confirm);
    this.sums = new Uint32Array(memory.buffer, sumsAt, slice + w);
    this.out = new Int32Array(memory.buffer, outAt, slice);
    this.input = new Uint8Array(memory.buffer, inputAt, slice + 2 * w);
    this.#candidates = exports.candidates as CandidatesExport;
    this.#rollingSums = exports.rollingSums as RollingSumsExport;
    this.#w = w;
    this.#mask = mask | 0;
    this.#shift = filter.shift;
  }

  /**
   * Fills {@link PairKernel.sums} with the weak sums of the windows of the first `n` bytes of
   * {@link PairKernel.input} (n − w + 1 of them; none when n < w).
   */
  rollingSums(n: number): void {
    if (n >= this.#w) this.#rollingSums(this.input.byteOffset, this.sums.byteOffset, n, this.#w);
  }

  /** Tests the windows `[0, n)` of {@link PairKernel.sums} (n + w sums must be there): how many passed, in {@link PairKernel.out}. */
  candidates(n: number): number {
    // The kernel compares unsigned: no windows (n ≤ 0) must stay none.
    if (n <= 0) return 0;
    return this.#candidates(this.sums.byteOffset, this.out.byteOffset, n, this.#w, this.#mask, this.#shift);
  }
}
