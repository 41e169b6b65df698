import { FILTER_CONFIRM, FILTER_FIRST, FILTER_SECOND } from './weak-sum-filter.js';
import {
  add,
  and,
  block,
  br,
  brIf,
  compileModule,
  geU,
  get,
  gtU,
  i32,
  instantiateModule,
  load,
  load8,
  loop,
  ltU,
  mul,
  or,
  ret,
  set,
  shl,
  shrU,
  store,
  sub,
  when,
  wasmModule,
  type Code,
  type CompiledModule,
  type ValType,
  type WasmMemory,
} from '@gosync/core/wasm';

// The kernel's memory: the scan state (4 × i32), the filter's bitset from FILTER_AT followed by
// its confirming stage (half the size), then the scan buffer (the carried bytes and the input)
// from `dataAt`.
const STATE_P = 0; // offset in the buffer of the window the state is at
const STATE_LEN = 4; // bytes of that window summed: < w − 1 while priming, w − 1, or w (whole)
const STATE_A = 8;
const STATE_B = 12;
const FILTER_AT = 64;
const PAGE = 65536;

// Parameters and locals of `scan`.
const DATA = 0;
const N = 1;
const W = 2;
const AMASK = 3;
const SHIFT = 4;
const A = 5;
const B = 6;
const Q = 7; // address of the window's first byte
const LEN = 8;
const END = 9; // address one past the buffer's last byte
const LAST = 10; // address of the last window that fits (END − w)
const I = 11;
const LIMIT = 12;
const X = 13;
const SUM = 14;
const H = 15;
const ENTER = 16;
const CONFIRM = 17; // bytes from FILTER_AT to the confirming stage: the first stage's size
const SHIFT1 = 18; // SHIFT + 1: the confirming stage has half the bits
const WM1 = 19;

/** Whether the filter's bit number H (the local) is set: word H >>> 5, bit H & 31 (shl takes its count mod 32). */
const hasBit = (): Code => and(load(shl(shrU(get(H), i32(5)), i32(2)), FILTER_AT), shl(i32(1), get(H)));

/** Whether bit number H of the confirming stage is set. */
const hasConfirmBit = (): Code => and(load(add(get(CONFIRM), shl(shrU(get(H), i32(5)), i32(2))), FILTER_AT), shl(i32(1), get(H)));

/**
 * Tests the whole window at Q + k against both bits of the filter's first stage; where both are
 * set, moves Q there and branches to the label `depth` levels out (counted where the test
 * stands). The confirming stage is tested there, out of the loops: inside them its code made
 * every window slower (8 % on random data), and so did a loop around them to roll on from a
 * window that fails it (2–3 %); the kernel returns instead, and the host calls it again.
 */
function test(depth: number, k: number): Code {
  return [
    ...set(SUM, or(and(get(A), get(AMASK)), shl(get(B), i32(16)))),
    ...set(H, shrU(mul(get(SUM), i32(FILTER_FIRST)), get(SHIFT))),
    ...when(
      hasBit(),
      set(H, shrU(mul(get(SUM), i32(FILTER_SECOND)), get(SHIFT))),
      when(hasBit(), k === 0 ? [] : set(Q, add(get(Q), i32(k))), br(depth + 2)),
    ),
  ];
}

/** Rolls the whole window at Q + k to Q + k + 1: byte Q + k leaves, byte ENTER + k enters. */
function roll(k: number): Code {
  return [
    ...set(X, load8(get(Q), k)),
    ...set(A, add(sub(get(A), get(X)), load8(get(ENTER), k))),
    ...set(B, add(sub(get(B), mul(get(W), get(X))), get(A))),
  ];
}

/** Stores the state and returns `result`. */
function leave(result: number): Code {
  return [
    ...store(i32(0), sub(get(Q), get(DATA)), STATE_P),
    ...store(i32(0), get(LEN), STATE_LEN),
    ...store(i32(0), get(A), STATE_A),
    ...store(i32(0), get(B), STATE_B),
    ...ret(i32(result)),
  ];
}

/**
 * `scan(data, n, w, amask, shift)`: rolls over the buffer `[data, data + n)` from the stored
 * state and returns 1 at the next window whose sum passes the filter, both stages (the state
 * then holds that window, whole), 2 at a window that passes only the first stage (call again),
 * or 0 when it needs more bytes (the state holds the window it stopped at, whole or partial).
 * A state at a whole window first moves one byte on, so calling again after a hit resumes the
 * scan; the host sets the state to `(p, 0, 0, 0)` to jump to window p.
 */
function scanFunction(): Code[] {
  return [
    set(Q, add(get(DATA), load(i32(0), STATE_P))),
    set(LEN, load(i32(0), STATE_LEN)),
    set(A, load(i32(0), STATE_A)),
    set(B, load(i32(0), STATE_B)),
    set(WM1, sub(get(W), i32(1))),
    set(END, add(get(DATA), get(N))),
    block(
      // $exit (depth 0 here)
      // A whole window (after a hit): its first byte leaves.
      when(
        geU(get(LEN), get(W)),
        set(X, load8(get(Q))),
        set(A, sub(get(A), get(X))),
        set(B, sub(get(B), mul(get(W), get(X)))),
        set(Q, add(get(Q), i32(1))),
        set(LEN, get(WM1)),
      ),
      // Priming after a jump: the sums of up to w − 1 bytes, four a step.
      when(
        ltU(get(LEN), get(WM1)),
        set(I, add(get(Q), get(LEN))),
        set(LIMIT, add(get(Q), get(WM1))),
        when(gtU(get(LIMIT), get(END)), set(LIMIT, get(END))),
        block(
          loop(
            brIf(1, gtU(add(get(I), i32(4)), get(LIMIT))),
            // a gains x0 + x1 + x2 + x3; b gains a + x0, a + x0 + x1, … (4a + 4x0 + 3x1 + 2x2 + x3).
            set(
              B,
              add(
                add(add(get(B), shl(get(A), i32(2))), add(shl(load8(get(I), 0), i32(2)), mul(load8(get(I), 1), i32(3)))),
                add(shl(load8(get(I), 2), i32(1)), load8(get(I), 3)),
              ),
            ),
            set(A, add(add(get(A), add(load8(get(I), 0), load8(get(I), 1))), add(load8(get(I), 2), load8(get(I), 3)))),
            set(I, add(get(I), i32(4))),
            br(0),
          ),
        ),
        block(
          loop(
            brIf(1, geU(get(I), get(LIMIT))),
            set(A, add(get(A), load8(get(I)))),
            set(B, add(get(B), get(A))),
            set(I, add(get(I), i32(1))),
            br(0),
          ),
        ),
        set(LEN, sub(get(LIMIT), get(Q))),
      ),
      // Not yet w − 1 bytes, or no byte to make the window whole: wait for more.
      brIf(0, ltU(get(LEN), get(WM1))),
      brIf(0, geU(add(get(Q), get(WM1)), get(END))),
      set(A, add(get(A), load8(add(get(Q), get(WM1))))),
      set(B, add(get(B), get(A))),
      set(LEN, get(W)),
      set(LAST, sub(get(END), get(W))),
      block(
        // $hit (depth 0 here): the window at Q passed the first stage.
        block(
          loop(
            // Four windows a step while the four bytes that enter are in the buffer.
            brIf(1, gtU(add(get(Q), i32(4)), get(LAST))),
            set(ENTER, add(get(Q), get(W))),
            test(2, 0),
            roll(0),
            test(2, 1),
            roll(1),
            test(2, 2),
            roll(2),
            test(2, 3),
            roll(3),
            set(Q, add(get(Q), i32(4))),
            br(0),
          ),
        ),
        block(
          loop(
            brIf(1, geU(get(Q), get(LAST))),
            set(ENTER, add(get(Q), get(W))),
            test(2, 0),
            roll(0),
            set(Q, add(get(Q), i32(1))),
            br(0),
          ),
        ),
        // The last window that fits.
        test(0, 0),
        br(1),
      ),
      // The confirming stage: report the window, or return 2 (the next call rolls on from it).
      // Its locals are set here, not before the loops, where they would take registers from them.
      set(CONFIRM, shl(i32(1), sub(i32(29), get(SHIFT)))),
      set(SHIFT1, add(get(SHIFT), i32(1))),
      set(H, shrU(mul(get(SUM), i32(FILTER_CONFIRM[0])), get(SHIFT1))),
      when(hasConfirmBit(), set(H, shrU(mul(get(SUM), i32(FILTER_CONFIRM[1])), get(SHIFT1))), when(hasConfirmBit(), leave(1))),
      leave(2),
    ),
    leave(0),
  ];
}

type ScanExport = (data: number, n: number, w: number, amask: number, shift: number) => number;

let compiled: CompiledModule | undefined;

/** The compiled module, made on first use (synchronously: it is a few hundred bytes). */
function scanModule(): CompiledModule {
  compiled ??= compileModule(
    wasmModule([{ name: 'scan', params: Array<ValType>(5).fill('i32'), locals: Array<ValType>(WM1 + 1 - 5).fill('i32'), result: 'i32', body: scanFunction() }], 1),
  );
  return compiled;
}

/**
 * The rolling scan's hot loop, compiled to WebAssembly: the weak sum of every window tested
 * against a {@link WeakSumFilter} copy (both stages), four windows a step, with one call per
 * window that passes instead of one per byte. V8 runs it at full speed from the first call
 * (no warm-up), and without the bounds checks of typed arrays. One instance per scanner, with
 * a memory of its own: the filter's bitset and the scan buffer.
 *
 * @internal
 */
export class ScanKernel {
  readonly #memory: WasmMemory;
  readonly #scan: ScanExport;
  /** Where the scan buffer starts in the memory. */
  readonly #dataAt: number;
  #capacity: number;
  #state: Int32Array;
  #buffer: Uint8Array;

  /**
   * @param filterBytes - the size of the filter's bitsets (both stages)
   * @param capacity - the scan buffer's first size in bytes
   */
  constructor(filterBytes: number, capacity: number) {
    const exports = instantiateModule(scanModule());
    this.#memory = exports.memory;
    this.#scan = exports.scan as ScanExport;
    this.#dataAt = FILTER_AT + filterBytes;
    this.#capacity = 0;
    this.#state = new Int32Array(0);
    this.#buffer = new Uint8Array(0);
    this.ensureCapacity(capacity);
  }

  /** The scan buffer (valid until the next {@link ScanKernel.ensureCapacity}). */
  get buffer(): Uint8Array {
    return this.#buffer;
  }

  /** The state: window offset in the buffer, bytes summed, sums a and b. */
  get state(): Int32Array {
    return this.#state;
  }

  /** Copies a filter's bitsets in: its first stage, then its confirming stage (half the size). */
  loadFilter(words: Int32Array, confirm: Int32Array): void {
    new Int32Array(this.#memory.buffer, FILTER_AT, words.length).set(words);
    new Int32Array(this.#memory.buffer, FILTER_AT + words.byteLength, confirm.length).set(confirm);
  }

  /** Grows the scan buffer to hold at least `bytes`, keeping its contents. */
  ensureCapacity(bytes: number): void {
    if (bytes <= this.#capacity && this.#buffer.length > 0) return;
    const needed = this.#dataAt + Math.max(bytes, 2 * this.#capacity);
    const pages = Math.ceil(needed / PAGE) - this.#memory.buffer.byteLength / PAGE;
    if (pages > 0) this.#memory.grow(pages);
    const buffer = this.#memory.buffer;
    this.#capacity = buffer.byteLength - this.#dataAt;
    this.#buffer = new Uint8Array(buffer, this.#dataAt, this.#capacity);
    this.#state = new Int32Array(buffer, 0, 4);
  }

  /**
   * Scans `[from, from + n)` of the buffer from the state (whose window offset counts from
   * `from`): true at a window that passes the filter (the state holds it), false when the
   * buffer is used up. A window that passes only the filter's first stage comes back from the
   * kernel (2), which is called again from the next window.
   */
  scan(from: number, n: number, windowSize: number, amask: number, shift: number): boolean {
    let result: number;
    while ((result = this.#scan(this.#dataAt + from, n, windowSize, amask, shift)) === 2);
    return result === 1;
  }
}
