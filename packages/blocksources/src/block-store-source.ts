import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bytesEqual, throwIfAborted, toHex } from '@gosync/core';
import type {
  AbortOptions,
  BlockSource,
  ByteRange,
  ProgressListener,
  RangeData,
  RangeVerifier,
} from '@gosync/core';
import { Agent, request } from 'undici';
import type { Dispatcher } from 'undici';
import { backoffDelay, parseRetryAfter, sleep } from './backoff.js';
import {
  BLOCK_STORE_MANIFEST_NAME,
  blockStoreObjectDigest,
  checkBlockStoreManifest,
  decodeBlockStoreManifest,
  maxBlockStoreManifestBytes,
  objectPathOfHex,
} from './block-store-manifest.js';
import type { BlockStoreManifest } from './block-store-manifest.js';
import { RangeChannel } from './channel.js';
import { checkRanges } from './check-ranges.js';
import { RateLimiter } from './rate-limiter.js';
import { BlockSourceError, describeRange } from './errors.js';
import {
  describeNetworkFailure,
  lowSpeedMeter,
  numberOption,
  resolveRetries,
  resolveTimeouts,
  responseHeader,
  type HttpClientOptions,
  type HttpRetryOptions,
  type HttpTimeouts,
  type ResolvedTimeouts,
} from './http-options.js';

/** Timeouts of {@link BlockStoreSource} over HTTP: the same as {@link HttpSource}'s. */
export type BlockStoreTimeouts = HttpTimeouts;

/** Retry policy of {@link BlockStoreSource} over HTTP: the same as {@link HttpSource}'s. */
export type BlockStoreRetryOptions = HttpRetryOptions;

/** Options of {@link BlockStoreSource}; the HTTP options apply to an http(s) store only. */
export interface BlockStoreSourceOptions extends HttpClientOptions {
  /**
   * The store directory: an `http:`/`https:` base URL (`https://static.example/app/store/`; a
   * missing trailing slash is added), a `file:` URL, or a local path.
   */
  readonly url: string;
  /** The store's manifest, when the caller has it already; otherwise `manifest.gbs` is fetched on first use. */
  readonly manifest?: BlockStoreManifest | undefined;
  /**
   * Checks every assembled range before it is yielded; a bad one fails with
   * `ERR_BLOCKSOURCE_VERIFY_FAILED` (the objects matched their digests, so the store holds a
   * different version of the target than the caller's index).
   */
  readonly verifier?: RangeVerifier | undefined;
  /** Objects fetched at once (default 6); also the number of objects held in memory. */
  readonly maxInFlight?: number | undefined;
  /**
   * The most body bytes per second over all requests of an http(s) store (default unlimited).
   * Its waits do not count against the low-speed rule ({@link HttpTimeouts.lowSpeedBytesPerSecond}),
   * which may be higher. A local store is read at full speed.
   */
  readonly rateLimit?: number | undefined;
  /** Bytes of finished ranges waiting for the consumer, about (default 32 MiB). */
  readonly maxBytesInFlight?: number | undefined;
  /** The most objects a fetched manifest may list (default 2^22); bounds the manifest download. */
  readonly maxObjects?: number | undefined;
  /** Aborts everything the source does, for its whole life (each fetch also takes a signal). */
  readonly signal?: AbortSignal | undefined;
  /** Progress of each fetch in bytes of ranges delivered, phase `'fetch'`. */
  readonly onProgress?: ProgressListener | undefined;
}

/** Statistics of a {@link BlockStoreSource} since it was created. */
export interface BlockStoreSourceStats {
  /** GET requests or file reads started (manifest, objects, retries and re-fetches included). */
  readonly requests: number;
  /** Objects fetched and verified. */
  readonly objects: number;
  /** Bytes received (HTTP bodies or file reads). */
  readonly bytesReceived: number;
  /** Retries after transient failures. */
  readonly retries: number;
  /** Objects fetched again because their bytes did not match their digest. */
  readonly refetches: number;
}

/** A failure that may go away: retried with back-off. */
class Transient extends Error {
  readonly error: BlockSourceError;
  readonly retryAfter: number | undefined;
  constructor(error: BlockSourceError, retryAfter?: number) {
    super(error.message);
    this.error = error;
    this.retryAfter = retryAfter;
  }
}

interface GetOptions {
  readonly signal: AbortSignal;
  /** Ask caches for a fresh copy (a re-fetch after a bad digest). */
  readonly fresh: boolean;
  /** What the file holds, for messages, e.g. ` (object 3, target bytes [12288, 16384))`. */
  readonly label?: string;
}

/** Reads whole files of the store; `get` returns undefined for a file longer than `limit` bytes. */
interface Transport {
  locate(path: string): string;
  get(path: string, limit: number, options: GetOptions): Promise<Uint8Array | undefined>;
  close(): Promise<void>;
}

/** A range being assembled from objects. */
interface Slot {
  readonly range: ByteRange;
  data: Uint8Array | undefined;
  remaining: number;
}

/** The part of a slot that one object covers, in target offsets. */
interface Piece {
  readonly slot: Slot;
  readonly start: number;
  readonly end: number;
}

/** One object to fetch: a digest, and every object number with that digest that is needed. */
interface Unit {
  readonly hex: string;
  readonly digest: Uint8Array;
  readonly length: number;
  readonly indices: number[];
}

interface FetchContext {
  readonly signal: AbortSignal;
  readonly channel: RangeChannel;
  readonly total: number;
  done: number;
}

const MIB = 1024 * 1024;

function concat(chunks: readonly Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1 && (chunks[0] as Uint8Array).length === length) return chunks[0] as Uint8Array;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

class FileTransport implements Transport {
  readonly #dir: string;
  readonly #stats: { requests: number; bytesReceived: number };

  constructor(dir: string, stats: { requests: number; bytesReceived: number }) {
    this.#dir = dir;
    this.#stats = stats;
  }

  locate(path: string): string {
    return join(this.#dir, ...path.split('/'));
  }

  async get(path: string, limit: number, options: GetOptions): Promise<Uint8Array | undefined> {
    const file = this.locate(path);
    this.#stats.requests++;
    const chunks: Uint8Array[] = [];
    let length = 0;
    // `end` is inclusive: at most limit + 1 bytes are read, enough to see that a file is too long.
    const stream = createReadStream(file, { start: 0, end: limit, highWaterMark: Math.min(MIB, limit + 1) });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        throwIfAborted(options.signal);
        chunks.push(chunk);
        length += chunk.length;
        this.#stats.bytesReceived += chunk.length;
      }
    } catch (cause) {
      if (options.signal.aborted) throw options.signal.reason;
      throw new BlockSourceError('ERR_BLOCKSOURCE_IO', `${file}: cannot read: ${String(cause)}`, { cause });
    } finally {
      stream.destroy();
    }
    return length > limit ? undefined : concat(chunks, length);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

class HttpTransport implements Transport {
  readonly #base: URL;
  readonly #dispatcher: Dispatcher;
  readonly #ownDispatcher: boolean;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #timeouts: ResolvedTimeouts;
  readonly #limiter: RateLimiter | undefined;
  readonly #stats: { requests: number; bytesReceived: number };

  constructor(
    base: URL,
    options: BlockStoreSourceOptions,
    timeouts: ResolvedTimeouts,
    maxInFlight: number,
    stats: { requests: number; bytesReceived: number },
    limiter: RateLimiter | undefined,
  ) {
    this.#base = base;
    this.#headers = options.headers ?? {};
    this.#timeouts = timeouts;
    this.#limiter = limiter;
    this.#stats = stats;
    this.#ownDispatcher = options.dispatcher === undefined;
    this.#dispatcher =
      options.dispatcher ??
      new Agent({
        connect: { timeout: timeouts.connect },
        connections: maxInFlight,
        keepAliveTimeout: 10_000,
        headersTimeout: timeouts.firstByte,
        bodyTimeout: timeouts.idle,
      });
  }

  locate(path: string): string {
    return new URL(path, this.#base).href;
  }

  async get(path: string, limit: number, options: GetOptions): Promise<Uint8Array | undefined> {
    let url = this.locate(path);
    const timeout = AbortSignal.timeout(this.#timeouts.request);
    const signal = AbortSignal.any([options.signal, timeout]);
    const headers: Record<string, string> = { ...this.#headers, 'accept-encoding': 'identity' };
    if (options.fresh) headers['cache-control'] = 'no-cache';
    for (let hop = 0; ; hop++) {
      this.#stats.requests++;
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, {
          dispatcher: this.#dispatcher,
          method: 'GET',
          headers,
          signal,
          headersTimeout: this.#timeouts.firstByte,
          bodyTimeout: this.#timeouts.idle,
        });
      } catch (cause) {
        throw this.#networkFailure(cause, options.signal, timeout, `GET ${url}`);
      }
      const status = res.statusCode;
      const where = `GET ${url} answered ${status}`;
      try {
        const location = responseHeader(res.headers, 'location');
        if (status >= 300 && status < 400 && status !== 304 && location !== undefined) {
          await res.body.dump();
          if (hop >= 5) {
            throw new BlockSourceError('ERR_BLOCKSOURCE_HTTP_STATUS', `${where}: more than 5 redirects`);
          }
          url = new URL(location, url).href;
          continue;
        }
        if (status !== 200) {
          await res.body.dump();
          const error = new BlockSourceError(
            'ERR_BLOCKSOURCE_HTTP_STATUS',
            status === 404 ? `${where}: the object is missing from the store` : where,
          );
          if (status === 429 || status === 503) {
            throw new Transient(error, parseRetryAfter(responseHeader(res.headers, 'retry-after'), Date.now()));
          }
          if (status >= 500 || status === 408) throw new Transient(error);
          throw error;
        }
        const declared = Number(responseHeader(res.headers, 'content-length') ?? Number.NaN);
        // Too long: the caller only needs to know that, so the body is not read.
        if (Number.isSafeInteger(declared) && declared > limit) return undefined;
        const chunks: Uint8Array[] = [];
        let length = 0;
        const meter = lowSpeedMeter(
          this.#timeouts,
          res.body,
          (what) => new Transient(new BlockSourceError('ERR_BLOCKSOURCE_TOO_SLOW', `${where}${options.label ?? ''}: ${what}`)),
        );
        for await (const chunk of meter.watch(res.body as AsyncIterable<Uint8Array>)) {
          this.#stats.bytesReceived += chunk.length;
          // The rule above does not count this wait: it is ours, not the server's.
          if (this.#limiter !== undefined) await this.#limiter.take(chunk.length, options.signal);
          const take = Math.min(chunk.length, limit + 1 - length);
          chunks.push(take === chunk.length ? chunk : chunk.subarray(0, take));
          length += take;
          if (length > limit) return undefined;
        }
        return concat(chunks, length);
      } catch (e) {
        if (e instanceof Transient || e instanceof BlockSourceError) throw e;
        throw this.#networkFailure(e, options.signal, timeout, where);
      } finally {
        if (!res.body.destroyed) res.body.destroy();
      }
    }
  }

  #networkFailure(cause: unknown, outer: AbortSignal, timeout: AbortSignal, where: string): unknown {
    if (outer.aborted) return outer.reason;
    const { what, timedOut } = describeNetworkFailure(cause, this.#timeouts, timeout);
    return new Transient(new BlockSourceError(timedOut ? 'ERR_BLOCKSOURCE_TIMEOUT' : 'ERR_BLOCKSOURCE_IO', `${where}: ${what}`, { cause }));
  }

  async close(): Promise<void> {
    if (this.#ownDispatcher) await this.#dispatcher.destroy();
  }
}

/**
 * A {@link BlockSource} over a content-addressed block store written by
 * {@link writeBlockStore}, for static hosts without `Range` support (any HTTP server that can
 * serve whole files, HTTP/1.0 included) or a local copy of the store. Requested ranges are
 * mapped to objects; each needed object is fetched once with a plain GET (deduplicated across
 * ranges and across identical objects), checked against its digest, and cut into the requested
 * ranges, which may span objects. A damaged object is fetched once more (asking caches for a
 * fresh copy) before failing with `ERR_BLOCKSOURCE_VERIFY_FAILED`.
 *
 * Memory stays bounded: at most `maxInFlight` objects are held, plus the ranges being
 * assembled and up to `maxBytesInFlight` of finished ranges the consumer has not taken.
 *
 * @example
 * ```ts
 * const source = new BlockStoreSource({ url: 'https://static.example/app/store/' });
 * try {
 *   for await (const { range, data } of source.fetch([{ start: 0, end: 4096 }, { start: 1e6, end: 1.2e6 }])) {
 *     write(range, data);
 *   }
 * } finally {
 *   await source.close();
 * }
 * ```
 */
export class BlockStoreSource implements BlockSource {
  readonly #name: string;
  readonly #transport: Transport;
  readonly #verifier: RangeVerifier | undefined;
  readonly #maxInFlight: number;
  readonly #maxBytesInFlight: number;
  readonly #maxObjects: number;
  readonly #retryCount: number;
  readonly #baseDelay: number;
  readonly #maxDelay: number;
  readonly #maxRetryAfter: number;
  readonly #signal: AbortSignal | undefined;
  readonly #onProgress: ProgressListener | undefined;
  #manifest: Promise<BlockStoreManifest> | undefined;
  #closed = false;
  readonly #stats = { requests: 0, objects: 0, bytesReceived: 0, retries: 0, refetches: 0 };

  /**
   * @param options - where the store is, and tuning; see {@link BlockStoreSourceOptions}
   * @throws {@link BlockSourceError} `ERR_BLOCKSOURCE_INVALID_OPTION` for a bad URL or number,
   *   `ERR_BLOCKSOURCE_MANIFEST` / `…_MANIFEST_UNSUPPORTED` for an inconsistent `manifest`
   */
  constructor(options: BlockStoreSourceOptions) {
    const url = options.url;
    if (typeof url !== 'string' || url === '') {
      throw new BlockSourceError('ERR_BLOCKSOURCE_INVALID_OPTION', 'BlockStoreSource: url must be a non-empty string');
    }
    this.#verifier = options.verifier;
    this.#maxInFlight = Math.floor(numberOption('BlockStoreSource', 'maxInFlight', options.maxInFlight, 6));
    this.#maxBytesInFlight = numberOption('BlockStoreSource', 'maxBytesInFlight', options.maxBytesInFlight, 32 * MIB);
    this.#maxObjects = Math.floor(numberOption('BlockStoreSource', 'maxObjects', options.maxObjects, 2 ** 22, 0));
    // Checked for local stores too, which ignore it.
    const limiter = options.rateLimit === undefined ? undefined : new RateLimiter(numberOption('BlockStoreSource', 'rateLimit', options.rateLimit, 0, 1));
    const timeouts = resolveTimeouts('BlockStoreSource', options.timeouts);
    const retries = resolveRetries('BlockStoreSource', options.retries);
    this.#retryCount = retries.count;
    this.#baseDelay = retries.baseDelay;
    this.#maxDelay = retries.maxDelay;
    this.#maxRetryAfter = retries.maxRetryAfter;
    this.#signal = options.signal;
    this.#onProgress = options.onProgress;
    if (/^https?:\/\//i.test(url)) {
      let base: URL;
      try {
        base = new URL(url);
      } catch (cause) {
        throw new BlockSourceError('ERR_BLOCKSOURCE_INVALID_OPTION', `BlockStoreSource: not a URL: ${url}`, { cause });
      }
      if (!base.pathname.endsWith('/')) base.pathname += '/';
      base.search = '';
      base.hash = '';
      this.#name = base.href;
      this.#transport = new HttpTransport(base, options, timeouts, this.#maxInFlight, this.#stats, limiter);
    } else {
      let dir = url;
      if (/^file:/i.test(url)) {
        try {
          dir = fileURLToPath(url);
        } catch (cause) {
          throw new BlockSourceError('ERR_BLOCKSOURCE_INVALID_OPTION', `BlockStoreSource: bad file URL: ${url}`, {
            cause,
          });
        }
      } else if (/^[a-z][a-z0-9+.-]+:\/\//i.test(url)) {
        throw new BlockSourceError(
          'ERR_BLOCKSOURCE_INVALID_OPTION',
          `BlockStoreSource: url must be http(s), file: or a path, got ${url}`,
        );
      }
      this.#name = dir;
      this.#transport = new FileTransport(dir, this.#stats);
    }
    if (options.manifest !== undefined) {
      checkBlockStoreManifest(options.manifest, `${this.#name}: the given manifest`);
      this.#manifest = Promise.resolve(options.manifest);
    }
  }

  /** Counters since the source was created. */
  get stats(): BlockStoreSourceStats {
    return { ...this.#stats };
  }

  /**
   * The store's manifest: the one given to the constructor, or `manifest.gbs` fetched (with
   * retries) and decoded on first use. A failed load is not cached.
   *
   * @param options - abort signal
   * @returns the manifest
   * @throws {@link BlockSourceError} `ERR_BLOCKSOURCE_MANIFEST`, `…_MANIFEST_UNSUPPORTED`,
   *   `…_HTTP_STATUS`, `…_RETRIES_EXHAUSTED`, `…_IO`, `…_CLOSED`; the abort reason on abort
   */
  async manifest(options: AbortOptions = {}): Promise<BlockStoreManifest> {
    const signal = this.#outer(options.signal);
    throwIfAborted(signal);
    this.#checkOpen();
    if (this.#manifest === undefined) {
      const loading = this.#loadManifest(signal ?? new AbortController().signal);
      this.#manifest = loading;
      loading.catch(() => {
        if (this.#manifest === loading) this.#manifest = undefined;
      });
    }
    return this.#manifest;
  }

  async #loadManifest(signal: AbortSignal): Promise<BlockStoreManifest> {
    const limit = maxBlockStoreManifestBytes(this.#maxObjects);
    const where = this.#transport.locate(BLOCK_STORE_MANIFEST_NAME);
    const bytes = await this.#withRetries(where, signal, () =>
      this.#transport.get(BLOCK_STORE_MANIFEST_NAME, limit, { signal, fresh: false }),
    );
    if (bytes === undefined) {
      throw new BlockSourceError(
        'ERR_BLOCKSOURCE_MANIFEST',
        `${where}: larger than ${limit} bytes, the size of a manifest of maxObjects = ${this.#maxObjects} objects`,
      );
    }
    return decodeBlockStoreManifest(bytes, { maxObjects: this.#maxObjects, name: where });
  }

  #outer(signal: AbortSignal | undefined): AbortSignal | undefined {
    if (signal === undefined) return this.#signal;
    if (this.#signal === undefined) return signal;
    return AbortSignal.any([signal, this.#signal]);
  }

  #checkOpen(): void {
    if (this.#closed) throw new BlockSourceError('ERR_BLOCKSOURCE_CLOSED', `${this.#name}: fetch after close()`);
  }

  /**
   * Fetches the objects that hold the ranges and yields each range, as soon as it is complete
   * (in any order). Breaking out of the loop cancels the requests in flight.
   *
   * @param ranges - non-overlapping ranges of the target
   * @param options - abort signal
   * @returns each requested range exactly once
   * @throws {@link BlockSourceError} `ERR_BLOCKSOURCE_INVALID_RANGE`, `…_OUT_OF_BOUNDS`,
   *   `…_VERIFY_FAILED` (an object failed its digest twice, or the verifier rejected a range),
   *   `…_HTTP_STATUS` (404 and other statuses that are not retried), `…_RETRIES_EXHAUSTED`
   *   (whose `cause` is the last `…_TIMEOUT`, `…_TOO_SLOW`, `…_IO` or `…_HTTP_STATUS`), `…_IO` (local
   *   store), the manifest errors of {@link BlockStoreSource.manifest}, `…_CLOSED`; the abort
   *   reason unchanged on abort
   */
  async *fetch(ranges: readonly ByteRange[], options: AbortOptions = {}): AsyncGenerator<RangeData> {
    const outer = this.#outer(options.signal);
    throwIfAborted(outer);
    this.#checkOpen();
    const sorted = checkRanges(ranges, this.#name);
    const manifest = await this.manifest({ signal: outer });
    throwIfAborted(outer);
    for (const range of sorted) {
      if (range.end > manifest.length) {
        throw new BlockSourceError(
          'ERR_BLOCKSOURCE_OUT_OF_BOUNDS',
          `${this.#name}: range ${describeRange(range)} ends past the end of the target (${manifest.length} bytes)`,
        );
      }
    }
    const wanted: ByteRange[] = [];
    for (const range of sorted) {
      if (range.end === range.start) yield { range, data: new Uint8Array(0) };
      else wanted.push(range);
    }
    if (wanted.length === 0) return;

    const { pieces, units } = plan(manifest, wanted);
    const controller = new AbortController();
    const signal = outer === undefined ? controller.signal : AbortSignal.any([outer, controller.signal]);
    const channel = new RangeChannel(this.#maxBytesInFlight);
    let total = 0;
    for (const r of wanted) total += r.end - r.start;
    const ctx: FetchContext = { signal, channel, total, done: 0 };
    const onAbort = (): void => {
      channel.fail(outer?.reason);
    };
    outer?.addEventListener('abort', onAbort, { once: true });
    let next = 0;
    const worker = async (): Promise<void> => {
      try {
        while (next < units.length && !channel.failed) {
          const unit = units[next++] as Unit;
          const bytes = await this.#fetchObject(manifest, unit, pieces, signal);
          for (const index of unit.indices) {
            const base = index * manifest.objectSize;
            for (const piece of pieces.get(index) ?? []) {
              await this.#fill(piece, bytes, base, ctx);
            }
          }
        }
      } catch (e) {
        channel.fail(outer?.aborted === true ? outer.reason : e);
      }
    };
    const workers: Promise<void>[] = [];
    for (let i = 0; i < Math.min(this.#maxInFlight, units.length); i++) workers.push(worker());
    try {
      for (let n = 0; n < wanted.length; n++) yield await channel.next();
    } finally {
      outer?.removeEventListener('abort', onAbort);
      controller.abort();
      channel.fail(new Error('fetch ended'));
      await Promise.allSettled(workers);
    }
  }

  /** Copies one object's share of a range; delivers the range when it is complete. */
  async #fill(piece: Piece, bytes: Uint8Array, base: number, ctx: FetchContext): Promise<void> {
    const { slot } = piece;
    const from = piece.start - base;
    const to = piece.end - base;
    if (piece.start === slot.range.start && piece.end === slot.range.end) {
      await this.#deliver({ range: slot.range, data: bytes.slice(from, to) }, ctx);
      return;
    }
    slot.data ??= new Uint8Array(slot.range.end - slot.range.start);
    slot.data.set(bytes.subarray(from, to), piece.start - slot.range.start);
    slot.remaining -= to - from;
    if (slot.remaining === 0) {
      const data = slot.data;
      slot.data = undefined;
      await this.#deliver({ range: slot.range, data }, ctx);
    }
  }

  async #deliver(item: RangeData, ctx: FetchContext): Promise<void> {
    if (this.#verifier !== undefined && !this.#verifier.verify(item.range, item.data)) {
      throw new BlockSourceError(
        'ERR_BLOCKSOURCE_VERIFY_FAILED',
        `${this.#name}: range ${describeRange(item.range)} failed verification although every object matched its digest (the store holds another version of the target?)`,
      );
    }
    ctx.done += item.data.length;
    this.#onProgress?.({ phase: 'fetch', done: ctx.done, total: ctx.total });
    await ctx.channel.push(item);
  }

  /** Fetches one object and checks its digest; a bad object is fetched once more, then fails. */
  async #fetchObject(
    manifest: BlockStoreManifest,
    unit: Unit,
    pieces: ReadonlyMap<number, readonly Piece[]>,
    signal: AbortSignal,
  ): Promise<Uint8Array> {
    const path = objectPathOfHex(unit.hex);
    const where = this.#transport.locate(path);
    const index = unit.indices[0] as number;
    const start = index * manifest.objectSize;
    const objectRange = { start, end: start + unit.length };
    const label = ` (object ${index}, target bytes ${describeRange(objectRange)})`;
    let found = '';
    for (let attempt = 0; attempt < 2; attempt++) {
      if (attempt > 0) this.#stats.refetches++;
      const bytes = await this.#withRetries(`${where}${label}`, signal, () =>
        this.#transport.get(path, unit.length, { signal, fresh: attempt > 0, label }),
      );
      if (bytes?.length === unit.length) {
        const digest = createHash(manifest.hash).update(bytes).digest();
        if (bytesEqual(digest, unit.digest)) {
          this.#stats.objects++;
          return bytes;
        }
        found = `${manifest.hash} ${toHex(digest)}`;
      } else {
        found = bytes === undefined ? `more than ${unit.length} bytes` : `${bytes.length} bytes`;
      }
    }
    const needed = pieces.get(index)?.[0]?.slot.range ?? objectRange;
    throw new BlockSourceError(
      'ERR_BLOCKSOURCE_VERIFY_FAILED',
      `${where}: object ${index} (target bytes ${describeRange(objectRange)}, needed for range ${describeRange(needed)}) is damaged: expected ${unit.length} bytes with ${manifest.hash} ${unit.hex}, found ${found} (fetched twice)`,
    );
  }

  async #withRetries<T>(where: string, signal: AbortSignal, attempt: () => Promise<T>): Promise<T> {
    for (let failures = 0; ; ) {
      throwIfAborted(signal);
      try {
        return await attempt();
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        if (!(e instanceof Transient)) throw e;
        failures++;
        if (failures > this.#retryCount) {
          throw new BlockSourceError(
            'ERR_BLOCKSOURCE_RETRIES_EXHAUSTED',
            `${where}: gave up after ${failures} failed attempts; last: ${e.error.message}`,
            { cause: e.error },
          );
        }
        this.#stats.retries++;
        const delay =
          e.retryAfter === undefined
            ? backoffDelay(failures, this.#baseDelay, this.#maxDelay)
            : Math.min(e.retryAfter, this.#maxRetryAfter);
        await sleep(delay, signal);
      }
    }
  }

  /** Closes the connections (of the source's own agent); later fetches fail with `ERR_BLOCKSOURCE_CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#transport.close();
  }
}

/** Maps ranges to object pieces, and needed objects to fetch units (one per distinct digest). */
function plan(
  manifest: BlockStoreManifest,
  wanted: readonly ByteRange[],
): { pieces: Map<number, Piece[]>; units: Unit[] } {
  const size = manifest.objectSize;
  const pieces = new Map<number, Piece[]>();
  for (const range of wanted) {
    const slot: Slot = { range, data: undefined, remaining: range.end - range.start };
    const first = Math.floor(range.start / size);
    const last = Math.floor((range.end - 1) / size);
    for (let i = first; i <= last; i++) {
      const piece = { slot, start: Math.max(range.start, i * size), end: Math.min(range.end, (i + 1) * size) };
      const list = pieces.get(i);
      if (list === undefined) pieces.set(i, [piece]);
      else list.push(piece);
    }
  }
  const byDigest = new Map<string, Unit>();
  const indices = [...pieces.keys()].sort((a, b) => a - b);
  for (const index of indices) {
    const digest = blockStoreObjectDigest(manifest, index);
    const hex = toHex(digest);
    const length = Math.min(manifest.length, (index + 1) * size) - index * size;
    // The length is part of the key: a manifest that names one digest for objects of two lengths
    // gets each fetched (and one rejected) rather than the wrong bytes sliced.
    const key = `${hex}:${length}`;
    const unit = byDigest.get(key);
    if (unit === undefined) byDigest.set(key, { hex, digest, length, indices: [index] });
    else unit.indices.push(index);
  }
  return { pieces, units: [...byDigest.values()] };
}
