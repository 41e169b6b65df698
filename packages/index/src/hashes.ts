import {
  createBLAKE3,
  createMD4,
  createMD5,
  createSHA224,
  createSHA256,
  createXXHash128,
  type IHasher,
} from 'hash-wasm';
import { IndexError } from './errors.js';

/** The names of the per-block strong hashes this library computes (all through hash-wasm). */
export type StrongHashName = 'xxh128' | 'blake3' | 'sha256' | 'md5' | 'md4' | 'sha224';

/** What the registry knows about one strong hash. */
export interface StrongHashInfo {
  /** The registry name. */
  readonly name: StrongHashName;
  /** Digest length in bytes (the most a block record can keep). */
  readonly digestLength: number;
  /** Whether the hash resists deliberate collisions (a cryptographic hash). */
  readonly cryptographic: boolean;
}

const INFO: Readonly<Record<StrongHashName, StrongHashInfo>> = Object.freeze({
  xxh128: Object.freeze({ name: 'xxh128', digestLength: 16, cryptographic: false }),
  blake3: Object.freeze({ name: 'blake3', digestLength: 32, cryptographic: true }),
  sha256: Object.freeze({ name: 'sha256', digestLength: 32, cryptographic: true }),
  sha224: Object.freeze({ name: 'sha224', digestLength: 28, cryptographic: true }),
  md5: Object.freeze({ name: 'md5', digestLength: 16, cryptographic: false }),
  md4: Object.freeze({ name: 'md4', digestLength: 16, cryptographic: false }),
} satisfies Record<StrongHashName, StrongHashInfo>);

/** Every strong hash name, in the order the CLI lists them. */
export const STRONG_HASH_NAMES: readonly StrongHashName[] = Object.freeze([
  'xxh128',
  'blake3',
  'sha256',
  'md5',
  'md4',
  'sha224',
]);

/**
 * Tells whether `name` is a strong hash this library knows.
 *
 * @param name - any value
 * @returns true when `name` is a {@link StrongHashName}
 * @example
 * ```ts
 * isStrongHashName('md4'); // true
 * isStrongHashName('crc32'); // false
 * ```
 */
export function isStrongHashName(name: unknown): name is StrongHashName {
  return typeof name === 'string' && Object.hasOwn(INFO, name);
}

/**
 * Looks up a strong hash in the registry.
 *
 * @param name - the hash name
 * @returns its digest length and kind
 * @throws {@link IndexError} `ERR_INDEX_UNKNOWN_FEATURE` for a name not in the registry
 * @example
 * ```ts
 * strongHashInfo('xxh128').digestLength; // 16
 * ```
 */
export function strongHashInfo(name: string): StrongHashInfo {
  if (!isStrongHashName(name)) {
    throw new IndexError(
      'ERR_INDEX_UNKNOWN_FEATURE',
      `strong hash: expected one of ${STRONG_HASH_NAMES.join(', ')}, got ${JSON.stringify(name)}`,
    );
  }
  return INFO[name];
}

/**
 * A reusable incremental hasher: `init()`, any number of `update()`, then `digestInto()`.
 * One instance hashes any number of blocks; nothing is allocated per block except inside
 * hash-wasm's digest.
 */
export interface StrongHasher {
  /** The hash computed. */
  readonly name: StrongHashName;
  /** Digest length in bytes. */
  readonly digestLength: number;
  /** Starts a new digest. */
  init(): this;
  /** Adds bytes to the digest. */
  update(data: Uint8Array): this;
  /**
   * Finishes the digest and copies its first `length` bytes to `out` at `offset`.
   *
   * @param out - destination
   * @param offset - where to write in `out`
   * @param length - how many digest bytes to keep (default: all)
   */
  digestInto(out: Uint8Array, offset: number, length?: number): void;
  /** Finishes the digest and returns it (a new array). */
  digest(): Uint8Array;
}

const FACTORIES: Readonly<Record<StrongHashName, () => Promise<IHasher>>> = {
  xxh128: () => createXXHash128(),
  blake3: () => createBLAKE3(),
  sha256: () => createSHA256(),
  sha224: () => createSHA224(),
  md5: () => createMD5(),
  md4: () => createMD4(),
};

class WasmHasher implements StrongHasher {
  readonly name: StrongHashName;
  readonly digestLength: number;
  readonly #hasher: IHasher;

  constructor(name: StrongHashName, hasher: IHasher) {
    this.name = name;
    this.digestLength = INFO[name].digestLength;
    this.#hasher = hasher;
  }

  init(): this {
    this.#hasher.init();
    return this;
  }

  update(data: Uint8Array): this {
    this.#hasher.update(data);
    return this;
  }

  digestInto(out: Uint8Array, offset: number, length: number = this.digestLength): void {
    const d = this.#hasher.digest('binary');
    out.set(length === d.length ? d : d.subarray(0, length), offset);
  }

  digest(): Uint8Array {
    return this.#hasher.digest('binary');
  }
}

/**
 * Creates a reusable hasher for a strong hash (instantiating its WebAssembly module once).
 *
 * @param name - the hash
 * @returns a hasher ready for `init()`
 * @throws {@link IndexError} `ERR_INDEX_UNKNOWN_FEATURE` for an unknown name
 * @example
 * ```ts
 * const h = await createStrongHasher('md4');
 * const out = new Uint8Array(16);
 * h.init().update(new TextEncoder().encode('abc')).digestInto(out, 0);
 * ```
 */
export async function createStrongHasher(name: StrongHashName): Promise<StrongHasher> {
  const info = strongHashInfo(name);
  const spare = await spares.get(info.name)?.shift();
  return new WasmHasher(info.name, spare ?? (await FACTORIES[info.name]()));
}

/** Hashers made ahead of time by {@link prepareStrongHashers}; undefined where making one failed. */
const spares = new Map<StrongHashName, Promise<IHasher | undefined>[]>();

/**
 * Starts making `count` hashers of each named hash now, for the next calls of
 * {@link createStrongHasher} to take instead of making their own.
 *
 * Making a hasher instantiates WebAssembly asynchronously, and V8 can hold such an
 * instantiation back while it optimises other WebAssembly in the background: measured on Node
 * 20, the first hasher made right after undici (whose HTTP parser is WebAssembly) parsed a
 * response took 70–90 ms, against 0.3 ms a moment later. A client that prepares its hashers
 * before its first download gets them at once when the index arrives. A failure here is
 * ignored: the later {@link createStrongHasher} call makes its own hasher and reports its own
 * error.
 *
 * @param names - the hashes likely needed
 * @param count - hashers of each to make (default 1)
 * @throws {@link IndexError} `ERR_INDEX_UNKNOWN_FEATURE` for an unknown name
 * @example
 * ```ts
 * prepareStrongHashers(['xxh128', 'md4']); // before downloading an index
 * const h = await createStrongHasher('xxh128'); // takes the prepared one
 * console.log(h.digestLength);
 * // prints: 16
 * ```
 */
export function prepareStrongHashers(names: readonly StrongHashName[], count = 1): void {
  for (const name of names) {
    const info = strongHashInfo(name);
    let list = spares.get(info.name);
    if (list === undefined) spares.set(info.name, (list = []));
    for (let i = 0; i < count; i++) list.push(FACTORIES[info.name]().catch(() => undefined));
  }
}
