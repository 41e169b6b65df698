import {
  add,
  add64,
  and64,
  block,
  br,
  brIf,
  call,
  compileModule,
  extendU,
  geU,
  get,
  i32,
  i64,
  load64,
  loop,
  mul,
  mul64,
  or64,
  ret,
  set,
  shl64,
  shrU,
  shrU64,
  store8,
  sub,
  wasmModule,
  wrap,
  xor64,
  type Code,
  type CompiledModule,
  type ValType,
} from '@gosync/core/wasm';
import { BlockHashKernel, runFunction, type KernelSpec } from './block-hash-kernel.js';

// XXH3-128 (xxHash 0.8) of inputs longer than 240 bytes, the block sizes an index uses, with
// its default secret; `@gosync/index` hashes shorter inputs with hash-wasm. The kernel hashes a
// run of equal-sized blocks in one call and compares each digest with the expected one, so
// that checking a run of blocks that follow a match costs no call per block.

const PRIME32_1 = 0x9e3779b1n;
const PRIME32_2 = 0x85ebca77n;
const PRIME32_3 = 0xc2b2ae3dn;
const PRIME64_1 = 0x9e3779b185ebca87n;
const PRIME64_2 = 0xc2b2ae3d27d4eb4fn;
const PRIME64_3 = 0x165667b19e3779f9n;
const PRIME64_4 = 0x85ebca77c2b2ae63n;
const PRIME64_5 = 0x27d4eb2f165667c5n;
const INIT_ACC = [PRIME32_3, PRIME64_1, PRIME64_2, PRIME64_3, PRIME64_4, PRIME32_2, PRIME64_5, PRIME32_1];

/** xxHash's default secret (XXH3_kSecret), 192 bytes. */
const SECRET = Uint8Array.from([
  0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c, 0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb,
  0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f, 0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
  0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c, 0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb,
  0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3, 0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
  0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d, 0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31,
  0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64, 0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
  0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e, 0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc,
  0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce, 0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
]);

/** The shortest input {@link Xxh128Kernel} hashes (XXH3's long-input path starts above 240 bytes). */
export const XXH128_KERNEL_MIN = 241;

// Memory: the secret at 0, the last digest at DIGEST_AT, the expected digests (16 bytes each)
// from EXPECTED_AT, the input from `dataAt` (set by the host).
const DIGEST_AT = 192;
const EXPECTED_AT = 256;

// Functions (by index, for `call`).
const F_FOLD = 0;
const F_AVALANCHE = 1;
const F_HASH = 2;

const M32 = 0xffffffffn;

/** `mul128_fold64(a, b)`: the 128-bit product's low and high halves xored, from 32-bit pieces. */
function foldFunction(): Code[] {
  const [A, B, LL, HL, LH, CROSS] = [0, 1, 2, 3, 4, 5];
  const lo = (x: number): Code => and64(get(x), i64(M32));
  const hi = (x: number): Code => shrU64(get(x), i64(32n));
  return [
    set(LL, mul64(lo(A), lo(B))),
    set(HL, mul64(hi(A), lo(B))),
    set(LH, mul64(lo(A), hi(B))),
    set(CROSS, add64(add64(shrU64(get(LL), i64(32n)), and64(get(HL), i64(M32))), get(LH))),
    // low = cross << 32 | ll & M32; high = (hl >> 32) + (cross >> 32) + hi(a) * hi(b)
    ret(
      xor64(
        or64(shl64(get(CROSS), i64(32n)), and64(get(LL), i64(M32))),
        add64(add64(shrU64(get(HL), i64(32n)), shrU64(get(CROSS), i64(32n))), mul64(hi(A), hi(B))),
      ),
    ),
  ];
}

/** XXH3's avalanche: h ^= h >> 37; h *= 0x165667919E3779F9; h ^= h >> 32. */
function avalancheFunction(): Code[] {
  const H = 0;
  return [
    set(H, xor64(get(H), shrU64(get(H), i64(37n)))),
    set(H, mul64(get(H), i64(0x165667919e3779f9n))),
    ret(xor64(get(H), shrU64(get(H), i64(32n)))),
  ];
}

/**
 * `hash(ptr, len)`: XXH3-128 of `[ptr, ptr + len)`, len > 240, its canonical form (high half
 * then low half, big-endian) left at DIGEST_AT.
 */
function hashFunction(): { params: ValType[]; locals: ValType[]; body: Code[] } {
  const PTR = 0;
  const LEN = 1;
  const ACC = 2; // 8 i64 accumulators: ACC … ACC + 7
  const P = 10; // stripe address
  const S = 11; // stripe number within a block
  const STRIPES = 12; // stripes to accumulate in this pass
  const BLOCKS = 13; // whole 1024-byte blocks
  const N = 14;
  const KEY = 15; // secret offset
  const DK = 16; // i64 scratch
  const DV = 17; // i64 scratch
  const LOW = 18;
  const HIGH = 19;
  const acc = (i: number): number => ACC + i;

  /** One 64-byte stripe at P with the secret at KEY (XXH3_accumulate_512). */
  const stripe = (): Code[] =>
    [0, 1, 2, 3, 4, 5, 6, 7].flatMap((i) => [
      set(DV, load64(get(P), 8 * i)),
      set(DK, xor64(get(DV), load64(get(KEY), 8 * i))),
      set(acc(i ^ 1), add64(get(acc(i ^ 1)), get(DV))),
      set(acc(i), add64(get(acc(i)), mul64(and64(get(DK), i64(M32)), shrU64(get(DK), i64(32n))))),
    ]);
  /** STRIPES stripes from P, the secret from offset 0 on, 8 bytes further each stripe. */
  const stripes = (): Code =>
    block(
      set(S, i32(0)),
      loop(
        brIf(1, geU(get(S), get(STRIPES))),
        set(KEY, mul(get(S), i32(8))),
        ...stripe(),
        set(P, add(get(P), i32(64))),
        set(S, add(get(S), i32(1))),
        br(0),
      ),
    );
  /** XXH3_scrambleAcc with the secret's last 64 bytes. */
  const scramble = (): Code[] =>
    [0, 1, 2, 3, 4, 5, 6, 7].map((i) =>
      set(acc(i), mul64(xor64(xor64(get(acc(i)), shrU64(get(acc(i)), i64(47n))), load64(i32(128), 8 * i)), i64(PRIME32_1))),
    );
  /** XXH3_mergeAccs with the secret from `at`. */
  const merge = (at: number, start: Code): Code => {
    let sum = start;
    for (let i = 0; i < 4; i++) {
      sum = add64(sum, call(F_FOLD, xor64(get(acc(2 * i)), load64(i32(0), at + 16 * i)), xor64(get(acc(2 * i + 1)), load64(i32(0), at + 16 * i + 8))));
    }
    return call(F_AVALANCHE, sum);
  };
  /** Stores an i64 local big-endian at DIGEST_AT + at. */
  const storeBE = (local: number, at: number): Code[] =>
    [0, 1, 2, 3, 4, 5, 6, 7].map((k) => store8(i32(0), wrap(shrU64(get(local), i64(BigInt(56 - 8 * k)))), DIGEST_AT + at + k));
  const lenTimes = (prime: bigint): Code => mul64(extendU(get(LEN)), i64(prime));

  return {
    params: ['i32', 'i32'],
    locals: [...Array<ValType>(8).fill('i64'), 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i64', 'i64', 'i64', 'i64'],
    body: [
      ...INIT_ACC.map((v, i) => set(acc(i), i64(v))),
      // Whole blocks of 16 stripes, each followed by a scramble.
      set(BLOCKS, shrU(sub(get(LEN), i32(1)), i32(10))),
      set(P, get(PTR)),
      set(STRIPES, i32(16)),
      set(N, i32(0)),
      block(loop(brIf(1, geU(get(N), get(BLOCKS))), stripes(), ...scramble(), set(N, add(get(N), i32(1))), br(0))),
      // The stripes of the last, partial block, then the input's last 64 bytes.
      set(STRIPES, shrU(sub(sub(get(LEN), i32(1)), mul(get(BLOCKS), i32(1024))), i32(6))),
      stripes(),
      set(P, sub(add(get(PTR), get(LEN)), i32(64))),
      set(KEY, i32(121)),
      ...stripe(),
      set(LOW, merge(11, lenTimes(PRIME64_1))),
      set(HIGH, merge(117, xor64(lenTimes(PRIME64_2), i64(-1n)))),
      ...storeBE(HIGH, 0),
      ...storeBE(LOW, 8),
    ],
  };
}

let compiled: CompiledModule | undefined;

function kernelModule(): CompiledModule {
  if (compiled === undefined) {
    const hash = hashFunction();
    compiled = compileModule(
      wasmModule(
        [
          { name: 'fold', exported: false, params: ['i64', 'i64'], locals: ['i64', 'i64', 'i64', 'i64'], result: 'i64', body: foldFunction() },
          { name: 'avalanche', exported: false, params: ['i64'], result: 'i64', body: avalancheFunction() },
          { name: 'hash', params: hash.params, locals: hash.locals, body: hash.body },
          { name: 'run', params: ['i32', 'i32', 'i32', 'i32'], locals: ['i32', 'i32'], result: 'i32', body: runFunction(F_HASH, { digestAt: DIGEST_AT, expectedAt: EXPECTED_AT }) },
        ],
        1,
      ),
    );
  }
  return compiled;
}

/**
 * XXH3-128 (the `xxh128` strong hash) in WebAssembly for inputs of more than 240 bytes, the
 * sizes of index blocks: one block at a time ({@link Xxh128Kernel.hash}), or a run of
 * equal-sized blocks checked against their expected digests in one call
 * ({@link Xxh128Kernel.matchRun}), which is how a scan confirms the blocks that follow a match
 * without a call per block. Digests are xxHash's canonical form, the bytes
 * {@link createStrongHasher} gives for `xxh128`. The module is made by `@gosync/core/wasm` and
 * compiled synchronously on first use; each instance has a memory of its own (not for
 * concurrent use).
 *
 * @example
 * ```ts
 * const kernel = new Xxh128Kernel();
 * const digest = new Uint8Array(16);
 * kernel.hash(new Uint8Array(4096), digest, 0);
 * // the same 16 bytes as (await createStrongHasher('xxh128')).init().update(new Uint8Array(4096)).digestInto(out, 0)
 * ```
 */
export class Xxh128Kernel extends BlockHashKernel {
  /** @param expectedCapacity - the most blocks one {@link BlockHashKernel.matchRun} checks (default 256) */
  constructor(expectedCapacity = 256) {
    super(xxh128Spec(), expectedCapacity);
    this.memory.set(SECRET, 0);
  }
}

function xxh128Spec(): KernelSpec {
  return { name: 'Xxh128Kernel', module: kernelModule(), digestAt: DIGEST_AT, expectedAt: EXPECTED_AT, digestLength: 16, minLength: XXH128_KERNEL_MIN };
}
