import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { CompressError } from './errors.js';
import { inspectZstdFrame } from './zstd-frame.js';

/** A compression codec of the artifact: `zstd` (the default), `brotli` or `gzip`. */
export type CompressionCodec = 'zstd' | 'brotli' | 'gzip';

/** Every codec, in order of preference. */
export const COMPRESSION_CODECS: readonly CompressionCodec[] = Object.freeze(['zstd', 'brotli', 'gzip']);

/**
 * The default level of each codec: zstd 6, brotli 5, gzip 6 (its own default). zstd's own default
 * is 3, but an artifact's groups are compressed once and fetched many times: level 6 makes them
 * 2–9 % smaller at about half the speed, which worker threads make up for (see the README).
 * Brotli's own default, 11, compresses at about 1 MB/s: too slow for publishing large files.
 */
export const DEFAULT_LEVELS: Readonly<Record<CompressionCodec, number>> = Object.freeze({ zstd: 6, brotli: 5, gzip: 6 });

/** The accepted levels of each codec, `[lowest, highest]`. */
export const LEVEL_RANGES: Readonly<Record<CompressionCodec, readonly [number, number]>> = Object.freeze({
  zstd: Object.freeze([1, 22] as const),
  brotli: Object.freeze([0, 11] as const),
  gzip: Object.freeze([0, 9] as const),
});

/** Where zstd comes from on this Node: the built-in `node:zlib` (Node ≥ 22.15) or the wasm package. */
export type ZstdBackend = 'node:zlib' | '@bokuweb/zstd-wasm';

interface ZstdZlib {
  zstdCompress(data: Uint8Array, options: object, callback: (error: Error | null, result: Buffer) => void): void;
  zstdDecompress(data: Uint8Array, options: object, callback: (error: Error | null, result: Buffer) => void): void;
}

interface ZstdWasm {
  compress(data: Uint8Array, level?: number): Uint8Array;
  decompress(data: Uint8Array, options?: { defaultHeapSize?: number }): Uint8Array;
  createCCtx(): number;
  compressUsingDict(cctx: number, data: Uint8Array, dictionary: Uint8Array, level?: number): Uint8Array;
  createDCtx(): number;
  decompressUsingDict(dctx: number, data: Uint8Array, dictionary: Uint8Array, options?: { defaultHeapSize?: number }): Uint8Array;
}

/** The wasm module with one compression and one decompression context, reused by every call. */
interface WasmZstd {
  readonly module: ZstdWasm;
  readonly cctx: number;
  readonly dctx: number;
}

const nodeZstd: ZstdZlib | undefined =
  typeof (zlib as Partial<ZstdZlib>).zstdCompress === 'function' &&
  typeof (zlib as Partial<ZstdZlib>).zstdDecompress === 'function'
    ? (zlib as unknown as ZstdZlib)
    : undefined;

const constants = zlib.constants as unknown as Record<string, number | undefined>;
const ZSTD_C_LEVEL = constants.ZSTD_c_compressionLevel ?? 100;
const ZSTD_C_CHECKSUM = constants.ZSTD_c_checksumFlag ?? 201;

let wasm: Promise<WasmZstd> | undefined;
const NO_DICTIONARY = new Uint8Array(0);

function loadWasm(): Promise<WasmZstd> {
  wasm ??= import('@bokuweb/zstd-wasm').then(async (namespace) => {
    // A CommonJS package: Node's ESM gives its exports as named exports and as `default`; a
    // bundle that splits it into a chunk of its own gives `default` only.
    const module = (namespace as typeof namespace & { default?: typeof namespace }).default ?? namespace;
    // The package keeps one global wasm instance, and a second init() swaps it under live
    // pointers: initialise only when nobody in this process (or worker) has done it yet.
    try {
      module.compress(new Uint8Array(1), 1);
    } catch {
      await module.init();
    }
    // One context each, reused: the package's compress() creates and frees a context per call,
    // which costs more than compressing a 4 KiB group. With an empty dictionary,
    // ZSTD_compress_usingDict on a reused context writes the same frame as ZSTD_compress.
    const m = module as ZstdWasm;
    return { module: m, cctx: m.createCCtx(), dctx: m.createDCtx() };
  });
  return wasm;
}

/**
 * Starts loading the zstd backend now (on Node < 22.15 its WebAssembly module, which otherwise
 * loads at the first compression or decompression), so that a client can have it ready by the
 * time it needs it: `gosync sync` calls this while the index downloads. A failure here is
 * ignored; the first real use reports its own.
 *
 * @example
 * ```ts
 * prepareZstd(); // before downloading an index that may be compressed
 * ```
 */
export function prepareZstd(): void {
  if (nodeZstd === undefined) loadWasm().catch(() => undefined);
}

/**
 * Which zstd implementation this process uses: `node:zlib`'s when present (Node ≥ 22.15),
 * otherwise `@bokuweb/zstd-wasm`. Both write and read the same frames.
 *
 * @returns the backend's name
 * @example
 * ```ts
 * console.log(zstdBackend()); // '@bokuweb/zstd-wasm' on Node 20
 * ```
 */
export function zstdBackend(): ZstdBackend {
  return nodeZstd === undefined ? '@bokuweb/zstd-wasm' : 'node:zlib';
}

const gzipAsync = promisify(zlib.gzip);
const gunzipAsync = promisify(zlib.gunzip);
const brotliAsync = promisify(zlib.brotliCompress);
const unbrotliAsync = promisify(zlib.brotliDecompress);

function zstdCall(
  fn: ZstdZlib['zstdCompress'],
  data: Uint8Array,
  options: object,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    fn(data, options, (error, result) => {
      if (error === null) resolve(result);
      else reject(error);
    });
  });
}

/**
 * Checks a codec name and level; returns the level to use.
 *
 * @internal
 */
export function resolveLevel(codec: unknown, level: unknown): number {
  if (typeof codec !== 'string' || !(COMPRESSION_CODECS as readonly string[]).includes(codec)) {
    throw new CompressError(
      'ERR_COMPRESS_INVALID_OPTION',
      `codec must be one of ${COMPRESSION_CODECS.join(', ')}, got ${JSON.stringify(codec) as string | undefined ?? String(codec)}`,
    );
  }
  const c = codec as CompressionCodec;
  if (level === undefined) return DEFAULT_LEVELS[c];
  const [low, high] = LEVEL_RANGES[c];
  if (typeof level !== 'number' || !Number.isInteger(level) || level < low || level > high) {
    throw new CompressError(
      'ERR_COMPRESS_INVALID_OPTION',
      `level of ${c} must be an integer in [${low}, ${high}], got ${JSON.stringify(level) as string | undefined ?? typeof level}`,
    );
  }
  return level;
}

/** Options of {@link compressBytes}. */
export interface CompressBytesOptions {
  /** The codec's level (default {@link DEFAULT_LEVELS}). */
  readonly level?: number | undefined;
  /**
   * zstd only: a dictionary the frame is compressed with, either raw content (any bytes, such as
   * {@link sampleDictionary}'s) or a dictionary in zstd's format (`zstd --train`, starting with its
   * magic number). Decompressing needs the same bytes. Frames with a dictionary are always
   * written by the wasm zstd, which takes one on every Node.
   */
  readonly dictionary?: Uint8Array | undefined;
}

/** The largest dictionary accepted anywhere: 4 MiB (zstd's own trainer makes 110 KB by default). */
export const MAX_DICTIONARY_SIZE: number = 2 ** 22;

const DICTIONARY_MAGIC = 0xec30a437;

/**
 * The dictionary ID that frames compressed with `dictionary` carry: the one in its header for a
 * dictionary in zstd's format, 0 for raw content (such frames name no dictionary).
 *
 * @internal
 */
export function zstdDictionaryId(dictionary: Uint8Array): number {
  if (dictionary.length < 8) return 0;
  const view = new DataView(dictionary.buffer, dictionary.byteOffset, dictionary.byteLength);
  return view.getUint32(0, true) === DICTIONARY_MAGIC ? view.getUint32(4, true) : 0;
}

function checkDictionary(codec: CompressionCodec, dictionary: unknown, name: string): Uint8Array | undefined {
  if (dictionary === undefined) return undefined;
  if (codec !== 'zstd') throw new CompressError('ERR_COMPRESS_INVALID_OPTION', `${name}: a dictionary works with zstd only, not ${codec}`);
  if (!(dictionary instanceof Uint8Array) || dictionary.length < 1 || dictionary.length > MAX_DICTIONARY_SIZE) {
    throw new CompressError(
      'ERR_COMPRESS_INVALID_OPTION',
      `${name}: dictionary must be a Uint8Array of 1 to ${MAX_DICTIONARY_SIZE} bytes, got ${dictionary instanceof Uint8Array ? `${dictionary.length} bytes` : typeof dictionary}`,
    );
  }
  return dictionary;
}

/**
 * Compresses `data` into one self-contained frame of `codec` (a zstd frame, a brotli stream, a
 * gzip member). zlib codecs and Node's zstd run on libuv's thread pool, so several calls in flight
 * use several cores.
 *
 * @param codec - the codec
 * @param data - the bytes to compress
 * @param options - the level and a zstd dictionary
 * @returns the frame
 * @throws {@link CompressError} `ERR_COMPRESS_INVALID_OPTION` for an unknown codec, a level out of
 *   range, a dictionary with another codec than zstd, of no or too many bytes, or one zstd rejects
 * @example
 * ```ts
 * const frame = await compressBytes('zstd', new TextEncoder().encode('hello hello hello'));
 * ```
 */
export async function compressBytes(
  codec: CompressionCodec,
  data: Uint8Array,
  options: CompressBytesOptions = {},
): Promise<Uint8Array> {
  const level = resolveLevel(codec, options.level);
  const dictionary = checkDictionary(codec, options.dictionary, 'compressBytes');
  switch (codec) {
    case 'gzip':
      return gzipAsync(data, { level });
    case 'brotli':
      return brotliAsync(data, {
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: level,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
        },
      });
    case 'zstd': {
      if (dictionary !== undefined) {
        const z = await loadWasm();
        try {
          return z.module.compressUsingDict(z.cctx, data, dictionary, level);
        } catch (cause) {
          throw new CompressError('ERR_COMPRESS_INVALID_OPTION', `compressBytes: zstd rejected the dictionary: ${describe(cause)}`, { cause });
        }
      }
      if (nodeZstd !== undefined) {
        return zstdCall(nodeZstd.zstdCompress.bind(nodeZstd), data, {
          params: { [ZSTD_C_LEVEL]: level, [ZSTD_C_CHECKSUM]: 0 },
          pledgedSrcSize: data.length,
        });
      }
      const z = await loadWasm();
      return z.module.compressUsingDict(z.cctx, data, NO_DICTIONARY, level);
    }
  }
}

/** Options of {@link decompressBytes}. */
export interface DecompressBytesOptions {
  /** The exact number of bytes the frame must inflate to; it never inflates further. */
  readonly size: number;
  /** Names the frame in error messages (default `frame`). */
  readonly name?: string | undefined;
  /** zstd only: the dictionary the frame was compressed with (see {@link CompressBytesOptions.dictionary}). */
  readonly dictionary?: Uint8Array | undefined;
}

function isTooLarge(error: unknown): boolean {
  return (
    (error instanceof RangeError && (error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') ||
    (error instanceof Error && /too large|larger than|exceeds/i.test(error.message))
  );
}

/**
 * Decompresses one frame of `codec` that must inflate to exactly `size` bytes, and never to more:
 * zlib codecs stop at `size` (`maxOutputLength`); a zstd frame is checked block by block before it
 * is decoded (its declared content size and its raw and RLE blocks must fit), then decoded into a
 * buffer of `size` bytes. Safe against decompression bombs.
 *
 * @param codec - the codec
 * @param data - exactly one frame
 * @param options - the expected size and a name for messages
 * @returns the `size` inflated bytes
 * @throws {@link CompressError} `ERR_COMPRESS_TOO_LARGE` when the frame declares or produces more
 *   than `size` bytes, `ERR_COMPRESS_CORRUPT` for a damaged frame, trailing bytes or a short
 *   output or a frame that names another dictionary than the one given (a wrong raw-content
 *   dictionary is found only if the frame then fails to decode: verify the output),
 *   `ERR_COMPRESS_UNSUPPORTED` for a zstd frame that names a dictionary when none is given,
 *   `ERR_COMPRESS_INVALID_OPTION` for a bad codec, size or dictionary
 * @example
 * ```ts
 * const bytes = await decompressBytes('zstd', frame, { size: 17 });
 * ```
 */
export async function decompressBytes(
  codec: CompressionCodec,
  data: Uint8Array,
  options: DecompressBytesOptions,
): Promise<Uint8Array> {
  resolveLevel(codec, undefined);
  const { size } = options;
  const name = options.name ?? 'frame';
  const dictionary = checkDictionary(codec, options.dictionary, name);
  if (!Number.isSafeInteger(size) || size < 0 || size > 2 ** 31) {
    throw new CompressError('ERR_COMPRESS_INVALID_OPTION', `${name}: size must be an integer in [0, 2^31], got ${String(size)}`);
  }
  let out: Uint8Array;
  try {
    switch (codec) {
      case 'gzip':
        out = await gunzipAsync(data, { maxOutputLength: Math.max(1, size) });
        break;
      case 'brotli':
        out = await unbrotliAsync(data, { maxOutputLength: Math.max(1, size) });
        break;
      case 'zstd':
        out = await inflateZstd(data, size, name, dictionary);
        break;
    }
  } catch (error) {
    if (error instanceof CompressError) throw error;
    if (isTooLarge(error)) {
      throw new CompressError('ERR_COMPRESS_TOO_LARGE', `${name}: the ${codec} frame inflates past its ${size} bytes`, {
        cause: error,
      });
    }
    throw new CompressError('ERR_COMPRESS_CORRUPT', `${name}: damaged ${codec} frame: ${describe(error)}`, { cause: error });
  }
  if (out.length !== size) {
    throw new CompressError(
      out.length > size ? 'ERR_COMPRESS_TOO_LARGE' : 'ERR_COMPRESS_CORRUPT',
      `${name}: the ${codec} frame inflates to ${out.length} bytes, expected ${size}`,
    );
  }
  return out;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function inflateZstd(data: Uint8Array, size: number, name: string, dictionary: Uint8Array | undefined): Promise<Uint8Array> {
  const info = inspectZstdFrame(data);
  if (typeof info === 'string') throw new CompressError('ERR_COMPRESS_CORRUPT', `${name}: damaged zstd frame: ${info}`);
  if (info.dictionaryId !== 0 && dictionary === undefined) {
    throw new CompressError('ERR_COMPRESS_UNSUPPORTED', `${name}: the zstd frame needs dictionary ${info.dictionaryId}`);
  }
  if (dictionary !== undefined && info.dictionaryId !== 0 && info.dictionaryId !== zstdDictionaryId(dictionary)) {
    throw new CompressError(
      'ERR_COMPRESS_CORRUPT',
      `${name}: the zstd frame needs dictionary ${info.dictionaryId}, the given one is ${zstdDictionaryId(dictionary)}`,
    );
  }
  if (info.contentSize !== undefined && info.contentSize > size) {
    throw new CompressError(
      'ERR_COMPRESS_TOO_LARGE',
      `${name}: the zstd frame declares ${info.contentSize} bytes, more than the expected ${size}`,
    );
  }
  if (info.minOutput > size) {
    throw new CompressError(
      'ERR_COMPRESS_TOO_LARGE',
      `${name}: the zstd frame's blocks inflate to at least ${info.minOutput} bytes, more than the expected ${size}`,
    );
  }
  if (info.contentSize !== undefined && info.contentSize < size) {
    throw new CompressError(
      'ERR_COMPRESS_CORRUPT',
      `${name}: the zstd frame declares ${info.contentSize} bytes, expected ${size}`,
    );
  }
  if (nodeZstd !== undefined && dictionary === undefined) {
    return zstdCall(nodeZstd.zstdDecompress.bind(nodeZstd), data, { maxOutputLength: Math.max(1, size) });
  }
  // The wasm decoder's output buffer is the declared content size (checked above) or, without
  // one, `size`: libzstd never writes past it and fails instead.
  const z = await loadWasm();
  return z.module.decompressUsingDict(z.dctx, data, dictionary ?? NO_DICTIONARY, { defaultHeapSize: Math.max(1, size) });
}
