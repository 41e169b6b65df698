import {
  add,
  add32x4,
  and,
  bitselect128,
  block,
  br,
  brIf,
  call,
  compileModule,
  geU,
  get,
  gtU,
  i32,
  isValidModule,
  load,
  load32Lane,
  load32Zero,
  load8,
  loop,
  ltU,
  mul,
  ne,
  or,
  or128,
  ret,
  rotl,
  set,
  shl,
  shl32x4,
  shrU,
  shrU32x4,
  splat32,
  store,
  store128,
  store8,
  sub,
  wasmModule,
  when,
  xor,
  xor128,
  type Binary,
  type Code,
  type CompiledModule,
  type ValType,
} from '@gosync/core/wasm';
import { BlockHashKernel, runFunction, type KernelSpec } from './block-hash-kernel.js';

// MD4 (RFC 1320), the strong hash of .zsync files: the kernel hashes a run of equal-sized blocks
// in one call and compares each digest with the expected one, as Xxh128Kernel does, so that
// checking the blocks that follow a match costs no call (and no copy into another hasher) per
// block. In a run of blocks whose length is a multiple of 64 bytes, four blocks at a time are
// hashed side by side in the four 32-bit lanes of SIMD vectors (one MD4 per lane): MD4 is 32-bit
// additions, rotations and bit operations only, and one block's steps depend on each other, so
// four independent blocks are what fills the vectors.

// Memory: the digest at 0 (the state A B C D, little-endian), the four digests of `hash4` from
// DIGESTS4_AT (the vectors A B C D in turn: lane l of each is block l's word), the padded last
// chunk or two at TAIL_AT, the expected digests (16 bytes each) from EXPECTED_AT, the input from
// `dataAt` (set by the host).
const DIGEST_AT = 0;
const DIGESTS4_AT = 16;
const TAIL_AT = 128;
const EXPECTED_AT = 256;

// Functions (by index, for `call`).
const F_HASH = 0;
const F_HASH4 = 1;

const INIT = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476];
const ROUND2 = 0x5a827999;
const ROUND3 = 0x6ed9eba1;
/** The message words of each round's steps, and each round's four shifts. */
const ORDER = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15],
  [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15],
] as const;
const SHIFTS = [
  [3, 7, 11, 19],
  [3, 5, 9, 13],
  [3, 9, 11, 15],
] as const;

// Locals of `hash(ptr, len)`.
const [PTR, LEN] = [0, 1];
const [A, B, C, D] = [2, 3, 4, 5];
const [P, K, CHUNKS, WHOLE, R, J, END, SA, SB, SC, SD] = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

/** How the 48 steps are written for one MD4 (i32 locals) or four side by side (v128 locals). */
interface Lanes {
  readonly add: Binary;
  /** MD4's three mixes, x the newest of the three words. */
  readonly f: (x: Code, y: Code, z: Code) => Code;
  readonly g: (x: Code, y: Code, z: Code) => Code;
  readonly h: (x: Code, y: Code, z: Code) => Code;
  /** A round constant in every lane. */
  readonly constant: (k: number) => Code;
  /** Message word `i` of the chunk. */
  readonly word: (i: number) => Code;
  /** Sets local `target` to `value` rotated left by `shift`. */
  readonly rotateInto: (target: number, value: Code, shift: number) => Code[];
}

/** The state's locals (A B C D) and where each is saved while a chunk is compressed. */
interface StateLocals {
  readonly state: readonly [number, number, number, number];
  readonly saved: readonly [number, number, number, number];
}

const ONE_LANE: Lanes = {
  add,
  f: (x, y, z) => xor(z, and(x, xor(y, z))),
  g: (x, y, z) => or(and(x, or(y, z)), and(y, z)),
  h: (x, y, z) => xor(x, xor(y, z)),
  constant: (k) => i32(k),
  word: (i) => load(get(P), 4 * i),
  rotateInto: (target, value, shift) => [set(target, rotl(value, i32(shift)))],
};

/** The 48 steps of MD4 over one chunk, added into the state. */
function compress(lanes: Lanes, { state, saved }: StateLocals): Code[] {
  // Step i of a round updates A, D, C, B in turn from the other three, in this order.
  const targets = [state[0], state[3], state[2], state[1]];
  const rounds = [
    { mix: lanes.f, constant: 0 },
    { mix: lanes.g, constant: ROUND2 },
    { mix: lanes.h, constant: ROUND3 },
  ];
  const steps: Code[] = [];
  rounds.forEach(({ mix, constant }, r) => {
    for (let i = 0; i < 16; i++) {
      const [a, b, c, d] = [0, 3, 2, 1].map((k) => targets[(i + k) % 4] as number) as [number, number, number, number];
      // The mix of the three last results is added last: the other terms are ready before it.
      let ready = lanes.add(get(a), lanes.word(ORDER[r]?.[i] as number));
      if (constant !== 0) ready = lanes.add(ready, lanes.constant(constant));
      steps.push(...lanes.rotateInto(a, lanes.add(ready, mix(get(b), get(c), get(d))), SHIFTS[r]?.[i % 4] as number));
    }
  });
  return [
    ...state.map((v, i) => set(saved[i] as number, get(v))),
    ...steps,
    ...state.map((v, i) => set(v, lanes.add(get(v), get(saved[i] as number)))),
  ];
}

/**
 * `hash(ptr, len)`: MD4 of `[ptr, ptr + len)`, its digest left at DIGEST_AT. The rest after the
 * whole chunks is first laid out at TAIL_AT with 0x80, zeros and the length in bits (one chunk,
 * or two when fewer than 9 bytes are left after the rest); then one loop compresses the whole
 * chunks from the input and the tail chunks from TAIL_AT, the state in locals.
 */
function hashFunction(): Code[] {
  return [
    set(WHOLE, shrU(get(LEN), i32(6))),
    set(R, sub(get(LEN), shl(get(WHOLE), i32(6)))),
    set(J, i32(0)),
    block(loop(brIf(1, geU(get(J), get(R))), store8(get(J), load8(add(add(get(PTR), shl(get(WHOLE), i32(6))), get(J))), TAIL_AT), set(J, add(get(J), i32(1))), br(0))),
    store8(get(R), i32(0x80), TAIL_AT),
    set(END, i32(56)),
    when(geU(get(R), i32(56)), set(END, i32(120))),
    set(J, add(get(R), i32(1))),
    block(loop(brIf(1, geU(get(J), get(END))), store8(get(J), i32(0), TAIL_AT), set(J, add(get(J), i32(1))), br(0))),
    store(get(END), shl(get(LEN), i32(3)), TAIL_AT),
    store(get(END), shrU(get(LEN), i32(29)), TAIL_AT + 4),
    set(CHUNKS, add(get(WHOLE), shrU(add(get(END), i32(8)), i32(6)))),
    ...INIT.map((v, i) => set([A, B, C, D][i] as number, i32(v))),
    set(K, i32(0)),
    set(P, get(PTR)),
    block(
      loop(
        brIf(1, geU(get(K), get(CHUNKS))),
        when(ltU(get(K), get(WHOLE)), set(P, add(get(PTR), shl(get(K), i32(6))))),
        when(geU(get(K), get(WHOLE)), set(P, add(i32(TAIL_AT), shl(sub(get(K), get(WHOLE)), i32(6))))),
        ...compress(ONE_LANE, { state: [A, B, C, D], saved: [SA, SB, SC, SD] }),
        set(K, add(get(K), i32(1))),
        br(0),
      ),
    ),
    ...[A, B, C, D].map((v, i) => store(i32(0), get(v), DIGEST_AT + 4 * i)),
  ];
}

// Locals of `hash4(ptr, len)`: i32, then v128.
const [Q, K4, CHUNKS4, L1, L2, L3] = [2, 3, 4, 5, 6, 7];
const [A4, B4, C4, D4, SA4, SB4, SC4, SD4, T4, X4] = [8, 9, 10, 11, 12, 13, 14, 15, 16, 17];
const HASH4_LOCALS: readonly ValType[] = [...Array<ValType>(L3 - 1).fill('i32'), ...Array<ValType>(X4 + 16 - A4).fill('v128')];

const FOUR_LANES: Lanes = {
  add: add32x4,
  // (x & y) | (~x & z): y where x has ones, z where it has zeros.
  f: (x, y, z) => bitselect128(y, z, x),
  // The majority: where x and y differ it is z's bit, where they agree theirs.
  g: (x, y, z) => bitselect128(z, y, xor128(x, y)),
  h: (x, y, z) => xor128(x, xor128(y, z)),
  constant: (k) => splat32(i32(k)),
  word: (i) => get(X4 + i),
  // No vector rotation: two shifts, the value kept in T4 for both.
  rotateInto: (target, value, shift) => [set(T4, value), set(target, or128(shl32x4(get(T4), i32(shift)), shrU32x4(get(T4), i32(32 - shift))))],
};

const STATE4: StateLocals = { state: [A4, B4, C4, D4], saved: [SA4, SB4, SC4, SD4] };

/**
 * `hash4(ptr, len)`: MD4 of the four `len`-byte blocks from `ptr` (block l at `ptr + l · len`),
 * `len` a multiple of 64, side by side (lane l of every vector is block l's); their digests left
 * at DIGESTS4_AT. Each chunk's 16 message words are gathered from the four blocks first; the
 * padding chunk is the same for the four (the same length), so its words are constants.
 */
function hash4Function(): Code[] {
  const gather = (i: number): Code =>
    load32Lane(get(L3), load32Lane(get(L2), load32Lane(get(L1), load32Zero(get(Q), 4 * i), 1, 4 * i), 2, 4 * i), 3, 4 * i);
  const pad = [0x80, ...Array<number>(13).fill(0)];
  return [
    set(CHUNKS4, shrU(get(LEN), i32(6))),
    ...INIT.map((v, i) => set(STATE4.state[i] as number, splat32(i32(v)))),
    set(K4, i32(0)),
    block(
      loop(
        brIf(1, geU(get(K4), get(CHUNKS4))),
        set(Q, add(get(PTR), shl(get(K4), i32(6)))),
        set(L1, add(get(Q), get(LEN))),
        set(L2, add(get(L1), get(LEN))),
        set(L3, add(get(L2), get(LEN))),
        ...Array.from({ length: 16 }, (_, i) => set(X4 + i, gather(i))),
        ...compress(FOUR_LANES, STATE4),
        set(K4, add(get(K4), i32(1))),
        br(0),
      ),
    ),
    ...pad.map((v, i) => set(X4 + i, splat32(i32(v)))),
    set(X4 + 14, splat32(shl(get(LEN), i32(3)))),
    set(X4 + 15, splat32(shrU(get(LEN), i32(29)))),
    ...compress(FOUR_LANES, STATE4),
    ...STATE4.state.map((v, i) => store128(i32(0), get(v), DIGESTS4_AT + 16 * i)),
  ];
}

/**
 * Before the run function's loop of one block at a time (runFunction), which goes on from block
 * K: while four blocks are left and their length is a multiple of 64, hashes them with `hash4`
 * and compares each (in order) with its expected digest; returns at the first that differs.
 * Byte j of block l's digest is at DIGESTS4_AT + 16 · (j >> 2) + 4 · l + (j & 3).
 */
function fourAtATime(): Code[] {
  const [RPTR, RLEN, COUNT, CMP, RK, RJ] = [0, 1, 2, 3, 4, 5];
  const compareLane = (l: number): Code =>
    [
      set(RJ, i32(0)),
      block(
        loop(
          brIf(1, geU(get(RJ), get(CMP))),
          when(
            ne(
              load8(add(shl(shrU(get(RJ), i32(2)), i32(4)), and(get(RJ), i32(3))), DIGESTS4_AT + 4 * l),
              load8(add(mul(add(get(RK), i32(l)), get(CMP)), get(RJ)), EXPECTED_AT),
            ),
            ret(add(get(RK), i32(l))),
          ),
          set(RJ, add(get(RJ), i32(1))),
          br(0),
        ),
      ),
    ];
  return [
    when(
      and(ne(get(RLEN), i32(0)), ltU(and(get(RLEN), i32(63)), i32(1))),
      block(
        loop(
          brIf(1, gtU(add(get(RK), i32(4)), get(COUNT))),
          call(F_HASH4, add(get(RPTR), mul(get(RK), get(RLEN))), get(RLEN)),
          ...[0, 1, 2, 3].map(compareLane),
          set(RK, add(get(RK), i32(4))),
          br(0),
        ),
      ),
    ),
  ];
}

/**
 * The kernel's module: `hash`, `hash4` and `run` with four blocks at a time, or (`simd` false)
 * `hash` and `run` one block at a time. A module with SIMD is no module where WebAssembly SIMD
 * is missing: {@link md4Spec} falls back to the other.
 */
function md4Module(simd: boolean): Uint8Array<ArrayBuffer> {
  const hash = { name: 'hash', params: ['i32', 'i32'] as const, locals: Array<'i32'>(SD - 1).fill('i32'), body: hashFunction() };
  const run = (before: Code[]) => ({
    name: 'run',
    params: ['i32', 'i32', 'i32', 'i32'] as const,
    locals: ['i32', 'i32'] as const,
    result: 'i32' as const,
    body: runFunction(F_HASH, { digestAt: DIGEST_AT, expectedAt: EXPECTED_AT }, before),
  });
  if (!simd) return wasmModule([hash, run([])], 1);
  return wasmModule([hash, { name: 'hash4', params: ['i32', 'i32'], locals: HASH4_LOCALS, body: hash4Function() }, run(fourAtATime())], 1);
}

/** The compiled modules (`simd`: null where the runtime does not take it). */
const compiled: { simd?: CompiledModule | null; plain?: CompiledModule } = {};

/**
 * What {@link Md4Kernel} is made of: the four-lane module where the runtime takes it, else
 * (or with `simd` false) the one-lane one.
 *
 * @internal
 */
export function md4Spec(simd = true): KernelSpec {
  if (simd && compiled.simd === undefined) {
    const bytes = md4Module(true);
    compiled.simd = isValidModule(bytes) ? compileModule(bytes) : null;
  }
  const module = simd && compiled.simd != null ? compiled.simd : (compiled.plain ??= compileModule(md4Module(false)));
  return { name: 'Md4Kernel', module, digestAt: DIGEST_AT, expectedAt: EXPECTED_AT, digestLength: 16, minLength: 0 };
}

/**
 * MD4 (the `md4` strong hash of .zsync files) in WebAssembly: one block at a time
 * ({@link BlockHashKernel.hash}), or a run of equal-sized blocks checked against their expected
 * digests in one call ({@link BlockHashKernel.matchRun}). Digests are the bytes
 * {@link createStrongHasher} gives for `md4`. The module is made by `@gosync/core/wasm` and
 * compiled synchronously on first use; each instance has a memory of its own (not for
 * concurrent use).
 *
 * @example
 * ```ts
 * const kernel = new Md4Kernel();
 * const digest = new Uint8Array(16);
 * kernel.hash(new TextEncoder().encode('abc'), digest, 0);
 * // a448017aaf21d8525fc10ae87aa6729d (RFC 1320)
 * ```
 */
export class Md4Kernel extends BlockHashKernel {
  /** @param expectedCapacity - the most blocks one {@link BlockHashKernel.matchRun} checks (default 256) */
  constructor(expectedCapacity = 256) {
    super(md4Spec(), expectedCapacity);
  }
}
