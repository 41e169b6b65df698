import {
  add,
  and,
  block,
  br,
  brIf,
  compileModule,
  geU,
  get,
  i32,
  load,
  load8,
  loop,
  ltU,
  or,
  rotl,
  set,
  shl,
  shrU,
  store,
  store8,
  sub,
  wasmModule,
  when,
  xor,
  type Code,
  type CompiledModule,
} from '@gosync/core/wasm';
import { BlockHashKernel, runFunction, type KernelSpec } from './block-hash-kernel.js';

// MD4 (RFC 1320), the strong hash of .zsync files: the kernel hashes a run of equal-sized blocks
// in one call and compares each digest with the expected one, as Xxh128Kernel does, so that
// checking the blocks that follow a match costs no call (and no copy into another hasher) per
// block.

// Memory: the digest at 0 (the state A B C D, little-endian), the padded last chunk or two at
// TAIL_AT, the expected digests (16 bytes each) from EXPECTED_AT, the input from `dataAt` (set
// by the host).
const DIGEST_AT = 0;
const TAIL_AT = 64;
const EXPECTED_AT = 192;

// Functions (by index, for `call`).
const F_HASH = 0;

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

/** The 48 steps of MD4 over the chunk at P, added into the state A B C D (kept in locals). */
function compress(): Code[] {
  // Step i of a round updates A, D, C, B in turn from the other three, in this order.
  const targets = [A, D, C, B];
  // x is the newest of the three: each mix needs it as late as it can.
  const f = (x: Code, y: Code, z: Code): Code => xor(z, and(x, xor(y, z)));
  const g = (x: Code, y: Code, z: Code): Code => or(and(x, or(y, z)), and(y, z));
  const h = (x: Code, y: Code, z: Code): Code => xor(x, xor(y, z));
  const rounds = [
    { mix: f, constant: 0 },
    { mix: g, constant: ROUND2 },
    { mix: h, constant: ROUND3 },
  ];
  const steps: Code[] = [];
  rounds.forEach(({ mix, constant }, r) => {
    for (let i = 0; i < 16; i++) {
      const [a, b, c, d] = [0, 3, 2, 1].map((k) => targets[(i + k) % 4] as number) as [number, number, number, number];
      // The mix of the three last results is added last: the other terms are ready before it.
      let ready = add(get(a), load(get(P), 4 * (ORDER[r]?.[i] as number)));
      if (constant !== 0) ready = add(ready, i32(constant));
      steps.push(set(a, rotl(add(ready, mix(get(b), get(c), get(d))), i32(SHIFTS[r]?.[i % 4] as number))));
    }
  });
  const saved = [SA, SB, SC, SD];
  return [
    ...[A, B, C, D].map((v, i) => set(saved[i] as number, get(v))),
    ...steps,
    ...[A, B, C, D].map((v, i) => set(v, add(get(v), get(saved[i] as number)))),
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
        ...compress(),
        set(K, add(get(K), i32(1))),
        br(0),
      ),
    ),
    ...[A, B, C, D].map((v, i) => store(i32(0), get(v), DIGEST_AT + 4 * i)),
  ];
}

let compiled: CompiledModule | undefined;

function kernelModule(): CompiledModule {
  compiled ??= compileModule(
    wasmModule(
      [
        { name: 'hash', params: ['i32', 'i32'], locals: Array<'i32'>(SD - 1).fill('i32'), body: hashFunction() },
        { name: 'run', params: ['i32', 'i32', 'i32', 'i32'], locals: ['i32', 'i32'], result: 'i32', body: runFunction(F_HASH, { digestAt: DIGEST_AT, expectedAt: EXPECTED_AT }) },
      ],
      1,
    ),
  );
  return compiled;
}

function md4Spec(): KernelSpec {
  return { name: 'Md4Kernel', module: kernelModule(), digestAt: DIGEST_AT, expectedAt: EXPECTED_AT, digestLength: 16, minLength: 0 };
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
