import { coalesceRanges, throwIfAborted } from '@gosync/core';
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
import { RangeChannel } from './channel.js';
import { checkRanges } from './check-ranges.js';
import { BlockSourceError, describeRange } from './errors.js';
import {
  describeNetworkFailure,
  lowSpeedMeter,
  numberOption,
  resolveRetries,
  resolveTimeouts,
  responseHeader,
  type HttpClientOptions,
  type ResolvedRetries,
  type ResolvedTimeouts,
} from './http-options.js';
import type { BlockSourceErrorCode } from './errors.js';
import {
  MultipartByterangesParser,
  parseContentRange,
  parseMultipartBoundary,
  parseUnsatisfiedRange,
} from './multipart.js';
import { RangeAssembler } from './range-assembler.js';
import { RateLimiter } from './rate-limiter.js';

/**
 * What to do when a server answers a range request with `200` and the whole file: `'stream'`
 * reads the body once and cuts every still-wanted range out of it as it streams by; `'fail'`
 * throws `ERR_BLOCKSOURCE_RANGES_UNSUPPORTED`.
 */
export type WholeBodyPolicy = 'stream' | 'fail';

/** Options of {@link HttpSource}. */
export interface HttpSourceOptions extends HttpClientOptions {
  /** The URL of the file, then mirror URLs of the same file, in order of preference. */
  readonly urls: readonly string[];
  /**
   * Checks every range before it is yielded; a bad range is fetched again from the next mirror
   * (at least once), then fails with `ERR_BLOCKSOURCE_VERIFY_FAILED`.
   */
  readonly verifier?: RangeVerifier | undefined;
  /** Requests in flight at once (default 6). */
  readonly maxInFlight?: number | undefined;
  /**
   * Bytes of finished ranges waiting for the consumer, about (default 4 MiB). When the consumer
   * is slower than the link the requests wait (their TCP windows close) instead of the bytes
   * piling up here: with 16 MiB a sync of the 557 MB pair over a 0 ms link peaked at 171–195 MB,
   * with 4 MiB at 161–166 MB, in the same time.
   */
  readonly maxBytesInFlight?: number | undefined;
  /**
   * Ranges in one multi-range request at first (default 64). It backs off per origin
   * (64 → 16 → 4 → 1) when a server refuses multi-range requests or answers with fewer parts,
   * and the source remembers it.
   */
  readonly maxRangesPerRequest?: number | undefined;
  /**
   * The largest gap in bytes bridged when merging two ranges, or `'auto'` (default), a cost model.
   * While a server takes several ranges per request, a bridged gap saves no request, only the
   * ~96 header bytes of a multipart part: gaps up to that are bridged, so a sync never moves more
   * bytes than the ranges it needs. Once a server takes one range per request, each range is a
   * request that costs about one round trip shared by the `maxInFlight` requests in flight, so a
   * gap is bridged when its transfer time is below that share: `gap < bandwidth × RTT /
   * maxInFlight` (~100 KiB at 100 Mbit/s and 50 ms), at most 1 MiB. RTT and bandwidth are
   * measured on the responses (before the first: 20 ms and `bandwidth`).
   */
  readonly mergeGap?: number | 'auto' | undefined;
  /** The bandwidth assumed before one is measured, in bytes/s (default 12 500 000 = 100 Mbit/s). */
  readonly bandwidth?: number | undefined;
  /** A `200` answer to a range request (default `'stream'`). */
  readonly wholeBody?: WholeBodyPolicy | undefined;
  /**
   * The most body bytes per second over all requests (default unlimited). Its waits do not count
   * against the low-speed rule ({@link HttpTimeouts.lowSpeedBytesPerSecond}), which may be higher.
   */
  readonly rateLimit?: number | undefined;
  /** Progress of each fetch in bytes delivered, phase `'fetch'`. */
  readonly onProgress?: ProgressListener | undefined;
}

/** Statistics of an {@link HttpSource} since it was created. */
export interface HttpSourceStats {
  /** HTTP requests sent (redirect hops included). */
  readonly requests: number;
  /** Response body bytes received. */
  readonly bytesReceived: number;
  /** Bytes of ranges delivered to consumers. */
  readonly bytesDelivered: number;
  /** Retries after transient failures. */
  readonly retries: number;
  /** The smoothed round-trip time in ms, once measured. */
  readonly rtt: number | undefined;
}

interface Mirror {
  readonly url: string;
  /** The URL after redirects, resolved once. */
  resolved: string | undefined;
  /** The strong ETag or Last-Modified first seen, sent as If-Range. */
  validator: string | undefined;
  etag: string | undefined;
  lastModified: string | undefined;
  size: number | undefined;
  dead: BlockSourceError | undefined;
}

interface OriginState {
  maxRanges: number;
}

type FailureKind = 'retry' | 'fewer-ranges' | 'mirror';

/** A failed attempt that the job loop may recover from. */
class AttemptFailure extends Error {
  readonly error: BlockSourceError;
  readonly kind: FailureKind;
  readonly retryAfter: number | undefined;
  constructor(error: BlockSourceError, kind: FailureKind, retryAfter?: number) {
    super(error.message);
    this.error = error;
    this.kind = kind;
    this.retryAfter = retryAfter;
  }
}

interface FetchContext {
  readonly signal: AbortSignal;
  readonly channel: RangeChannel;
  readonly pending: ByteRange[];
  readonly delivered: Set<ByteRange>;
  readonly verifyFailures: Map<ByteRange, number>;
  readonly total: number;
  done: number;
  /** The whole-file `200` body being read now, which other requests join instead of re-reading. */
  whole: WholeStream | undefined;
}

interface WholeStream {
  readonly assembler: RangeAssembler;
  readonly finished: Promise<void>;
}

interface Job {
  parts: ByteRange[];
  /** Added to the mirror index: moves the job to the next mirror after bad bytes. */
  rotate: number;
  /** Some range of the last answer failed verification. */
  badBytes: boolean;
}

const MIB = 1024 * 1024;
/** The most range bytes asked for in one request. */
const MAX_REQUEST_BYTES = 16 * MIB;
/** About what one more part of a multipart answer costs in header bytes. */
const PART_OVERHEAD = 96;

function rangeHeader(groups: readonly { range: ByteRange }[]): string {
  return `bytes=${groups.map((g) => `${g.range.start}-${g.range.end - 1}`).join(',')}`;
}

/**
 * A {@link BlockSource} over HTTP(S) range requests, built for CDNs and proxies that break:
 * a keep-alive undici pool with several requests in flight, adaptive multi-range requests with a
 * streaming, tolerant `multipart/byteranges` parser, gap merging by a measured cost model,
 * verification of every range with re-fetch from mirrors, timeouts and a low-speed rule
 * ({@link HttpTimeouts}), retries with full-jitter back-off and `Retry-After`, redirects resolved
 * once, `If-Range` change detection, a policy for `200` answers, a rate limit, progress events
 * and `AbortSignal`.
 *
 * @example
 * ```ts
 * const source = new HttpSource({ urls: ['https://cdn.example/app.bin', 'https://mirror.example/app.bin'] });
 * try {
 *   for await (const { range, data } of source.fetch([{ start: 0, end: 4096 }, { start: 1e6, end: 1.1e6 }])) {
 *     write(range, data);
 *   }
 * } finally {
 *   await source.close();
 * }
 * ```
 */
export class HttpSource implements BlockSource {
  readonly #mirrors: Mirror[];
  /**
   * The mirror new batches start from. It moves past a mirror when a request to it fails in a
   * way worth a retry (a timeout, a drip under the low-speed rule, a 5xx, a reset), so that later
   * batches do not wait on that mirror again; the batch that failed goes on to the next mirror.
   */
  #preferred = 0;
  readonly #verifier: RangeVerifier | undefined;
  readonly #maxInFlight: number;
  readonly #maxBytesInFlight: number;
  readonly #maxRanges: number;
  readonly #mergeGap: number | 'auto';
  readonly #assumedBandwidth: number;
  readonly #timeouts: ResolvedTimeouts;
  readonly #retries: ResolvedRetries;
  readonly #wholeBody: WholeBodyPolicy;
  readonly #limiter: RateLimiter | undefined;
  readonly #onProgress: ProgressListener | undefined;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #dispatcher: Dispatcher;
  readonly #ownDispatcher: boolean;
  readonly #origins = new Map<string, OriginState>();
  #rtt: number | undefined;
  #bandwidth: number | undefined;
  #closed = false;
  #stats = { requests: 0, bytesReceived: 0, bytesDelivered: 0, retries: 0 };

  /**
   * @param options - URLs and tuning; see {@link HttpSourceOptions}
   * @throws {@link BlockSourceError} `ERR_BLOCKSOURCE_INVALID_OPTION` for no URL, a URL that is
   *   not http(s), or a number out of range
   */
  constructor(options: HttpSourceOptions) {
    if (options.urls.length === 0) {
      throw new BlockSourceError('ERR_BLOCKSOURCE_INVALID_OPTION', 'HttpSource: urls must hold at least one URL');
    }
    this.#mirrors = options.urls.map((url) => {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch (cause) {
        throw new BlockSourceError('ERR_BLOCKSOURCE_INVALID_OPTION', `HttpSource: not a URL: ${url}`, { cause });
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        throw new BlockSourceError('ERR_BLOCKSOURCE_INVALID_OPTION', `HttpSource: not an http(s) URL: ${url}`);
      }
      return {
        url: parsed.href,
        resolved: undefined,
        validator: undefined,
        etag: undefined,
        lastModified: undefined,
        size: undefined,
        dead: undefined,
      };
    });
    this.#verifier = options.verifier;
    this.#maxInFlight = Math.floor(numberOption('HttpSource', 'maxInFlight', options.maxInFlight, 6));
    this.#maxBytesInFlight = numberOption('HttpSource', 'maxBytesInFlight', options.maxBytesInFlight, 4 * MIB);
    this.#maxRanges = Math.floor(numberOption('HttpSource', 'maxRangesPerRequest', options.maxRangesPerRequest, 64));
    this.#mergeGap =
      options.mergeGap === undefined || options.mergeGap === 'auto'
        ? 'auto'
        : Math.floor(numberOption('HttpSource', 'mergeGap', options.mergeGap, 0, 0));
    this.#assumedBandwidth = numberOption('HttpSource', 'bandwidth', options.bandwidth, 12_500_000);
    this.#timeouts = resolveTimeouts('HttpSource', options.timeouts);
    this.#retries = resolveRetries('HttpSource', options.retries);
    const wholeBody: string = options.wholeBody ?? 'stream';
    if (wholeBody !== 'stream' && wholeBody !== 'fail') {
      throw new BlockSourceError(
        'ERR_BLOCKSOURCE_INVALID_OPTION',
        `HttpSource: wholeBody must be 'stream' or 'fail', got ${wholeBody}`,
      );
    }
    this.#wholeBody = wholeBody;
    this.#limiter =
      options.rateLimit === undefined ? undefined : new RateLimiter(numberOption('HttpSource', 'rateLimit', options.rateLimit, 0, 1));
    this.#onProgress = options.onProgress;
    this.#headers = options.headers ?? {};
    this.#ownDispatcher = options.dispatcher === undefined;
    this.#dispatcher =
      options.dispatcher ??
      new Agent({
        connect: { timeout: this.#timeouts.connect },
        connections: this.#maxInFlight,
        keepAliveTimeout: 10_000,
        headersTimeout: this.#timeouts.firstByte,
        bodyTimeout: this.#timeouts.idle,
      });
  }

  /** Counters since the source was created. */
  get stats(): HttpSourceStats {
    return { ...this.#stats, rtt: this.#rtt };
  }

  /**
   * The gap in bytes bridged when merging ranges, now, for a server that takes `rangesPerRequest`
   * ranges in one request (see {@link HttpSourceOptions.mergeGap}).
   *
   * @param rangesPerRequest - ranges per request the server takes (default: the configured most)
   * @returns bytes
   */
  mergeGap(rangesPerRequest: number = this.#maxRanges): number {
    if (this.#mergeGap !== 'auto') return this.#mergeGap;
    const bandwidth = this.#bandwidth ?? this.#assumedBandwidth;
    const rtt = this.#rtt ?? 20;
    // With several ranges per request, bridging only saves a part header: keep to gaps below
    // one, so a sync never moves more bytes than the ranges it needs (plus headers).
    if (rangesPerRequest > 1) return PART_OVERHEAD;
    const perRequest = (bandwidth * rtt) / 1000 / this.#maxInFlight;
    return Math.round(Math.max(PART_OVERHEAD, Math.min(MIB, perRequest)));
  }

  #gap(origin: OriginState): number {
    return this.mergeGap(origin.maxRanges);
  }

  /**
   * Fetches the ranges and yields each one, verified, as soon as it is complete (in any order).
   * Ranges are merged across small gaps, batched into multi-range requests and fetched in
   * parallel; failures are retried. Breaking out of the loop cancels the requests in flight.
   *
   * @param ranges - non-overlapping ranges of the file
   * @param options - abort signal
   * @returns each requested range exactly once
   * @throws {@link BlockSourceError} `ERR_BLOCKSOURCE_INVALID_RANGE`, `…_OUT_OF_BOUNDS`,
   *   `…_RANGE_NOT_SATISFIABLE`, `…_VERIFY_FAILED`, `…_HTTP_STATUS`, `…_RANGES_UNSUPPORTED`,
   *   `…_CHANGED`, `…_RETRIES_EXHAUSTED` (whose `cause` is the last `…_TIMEOUT`, `…_TOO_SLOW`,
   *   `…_PROTOCOL`, `…_IO` or `…_HTTP_STATUS`), `…_CLOSED`; the abort reason unchanged on abort
   */
  async *fetch(ranges: readonly ByteRange[], options: AbortOptions = {}): AsyncGenerator<RangeData> {
    const outer = options.signal;
    throwIfAborted(outer);
    if (this.#closed) {
      throw new BlockSourceError('ERR_BLOCKSOURCE_CLOSED', `${this.#mirrors[0]?.url ?? ''}: fetch after close()`);
    }
    const sorted = checkRanges(ranges, this.#mirrors[0]?.url ?? 'HttpSource');
    const wanted: ByteRange[] = [];
    for (const range of sorted) {
      if (range.end === range.start) yield { range, data: new Uint8Array(0) };
      else wanted.push(range);
    }
    if (wanted.length === 0) return;
    const controller = new AbortController();
    const signal = outer === undefined ? controller.signal : AbortSignal.any([outer, controller.signal]);
    const channel = new RangeChannel(this.#maxBytesInFlight);
    let total = 0;
    for (const r of wanted) total += r.end - r.start;
    const ctx: FetchContext = {
      signal,
      channel,
      pending: [...wanted],
      delivered: new Set(),
      verifyFailures: new Map(),
      total,
      done: 0,
      whole: undefined,
    };
    const onAbort = (): void => {
      channel.fail(outer?.reason);
    };
    outer?.addEventListener('abort', onAbort, { once: true });
    const workers: Promise<void>[] = [];
    const worker = async (): Promise<void> => {
      try {
        while (ctx.pending.length > 0 && !channel.failed) {
          const parts = this.#takeBatch(ctx);
          await this.#runJob({ parts, rotate: 0, badBytes: false }, ctx);
        }
      } catch (e) {
        channel.fail(outer?.aborted === true ? outer.reason : e);
      }
    };
    for (let i = 0; i < Math.min(this.#maxInFlight, wanted.length); i++) workers.push(worker());
    try {
      for (let n = 0; n < wanted.length; n++) yield await channel.next();
    } finally {
      outer?.removeEventListener('abort', onAbort);
      controller.abort();
      channel.fail(new Error('fetch ended'));
      await Promise.allSettled(workers);
    }
  }

  /** Takes the next batch of wanted ranges from the front of the queue. */
  #takeBatch(ctx: FetchContext): ByteRange[] {
    const mirror = this.#liveMirror(this.#preferred);
    const maxRanges = this.#origin(mirror).maxRanges;
    const remaining = ctx.total - ctx.done;
    // An even share of what is left per request in flight, between 256 KiB and 16 MiB: a request
    // buffers only the range it is filling, so a large one costs no memory, and fewer requests
    // mean fewer response headers on the wire (31 for zsync on the 557 MB pair).
    const target = Math.max(256 * 1024, Math.min(Math.ceil(remaining / this.#maxInFlight), MAX_REQUEST_BYTES));
    const gap = this.#gap(this.#origin(mirror));
    const parts: ByteRange[] = [];
    let groups = 0;
    let bytes = 0;
    let lastEnd = -Infinity;
    while (ctx.pending.length > 0) {
      const next = ctx.pending[0] as ByteRange;
      const joins = next.start - lastEnd <= gap;
      if (parts.length > 0 && ((!joins && groups >= maxRanges) || bytes >= target)) break;
      ctx.pending.shift();
      if (!joins) groups++;
      bytes += next.end - next.start + (joins ? next.start - lastEnd : 0);
      lastEnd = next.end;
      parts.push(next);
    }
    return parts;
  }

  #origin(mirror: Mirror): OriginState {
    const origin = new URL(mirror.resolved ?? mirror.url).origin;
    let state = this.#origins.get(origin);
    if (state === undefined) {
      state = { maxRanges: this.#maxRanges };
      this.#origins.set(origin, state);
    }
    return state;
  }

  /** Makes new batches start after `mirror` when it is the one they start from (see #preferred). */
  #passOver(mirror: Mirror): void {
    const n = this.#mirrors.length;
    if (n > 1 && this.#mirrors[this.#preferred % n] === mirror) this.#preferred = (this.#preferred + 1) % n;
  }

  #liveMirror(index: number): Mirror {
    const n = this.#mirrors.length;
    for (let k = 0; k < n; k++) {
      const m = this.#mirrors[(index + k) % n] as Mirror;
      if (m.dead === undefined) return m;
    }
    // Every mirror is dead: report the first mirror's failure.
    throw (this.#mirrors[0] as Mirror).dead as BlockSourceError;
  }

  /** Fetches one batch until every range in it is delivered, retrying as the policy allows. */
  async #runJob(job: Job, ctx: FetchContext): Promise<void> {
    let failures = 0;
    let last: BlockSourceError | undefined;
    const start = this.#preferred;
    while (job.parts.length > 0 && !ctx.channel.failed) {
      throwIfAborted(ctx.signal);
      const mirror = this.#liveMirror(start + failures + job.rotate);
      const deliveredBefore = ctx.delivered.size;
      try {
        await this.#attempt(mirror, job, ctx);
      } catch (e) {
        if (!(e instanceof AttemptFailure)) throw e;
        last = e.error;
        if (e.kind === 'mirror') {
          mirror.dead = e.error;
          this.#liveMirror(0);
        } else if (e.kind === 'retry') {
          this.#passOver(mirror);
          const progressed = ctx.delivered.size > deliveredBefore;
          if (!progressed) failures++;
          if (failures > this.#retries.count) {
            throw new BlockSourceError(
              'ERR_BLOCKSOURCE_RETRIES_EXHAUSTED',
              `gave up on ${job.parts.length} range(s) from ${describeRange(job.parts[0] as ByteRange)} after ${failures} failed attempts; last: ${last.message}`,
              { cause: last },
            );
          }
          this.#stats.retries++;
          const delay =
            e.retryAfter === undefined
              ? backoffDelay(Math.max(1, failures), this.#retries.baseDelay, this.#retries.maxDelay)
              : Math.min(e.retryAfter, this.#retries.maxRetryAfter);
          await sleep(delay, ctx.signal);
        }
        // 'fewer-ranges': the origin's limit went down; try again at once.
      } finally {
        job.parts = job.parts.filter((p) => !ctx.delivered.has(p));
        if (job.badBytes) {
          // Fetch the ranges that failed verification again, from the next mirror if any.
          job.badBytes = false;
          job.rotate++;
        }
      }
    }
  }

  /** One HTTP exchange (following redirects) for the first ranges of `job`. */
  async #attempt(mirror: Mirror, job: Job, ctx: FetchContext): Promise<void> {
    if (await this.#joinWholeStream(job, ctx)) return;
    const origin = this.#origin(mirror);
    const groups = coalesceRanges(job.parts, this.#gap(origin)).slice(0, origin.maxRanges);
    const asked = groups.flatMap((g) => g.parts);
    const range = rangeHeader(groups);
    let url = mirror.resolved ?? mirror.url;
    const where = (status?: number): string =>
      `GET ${url} (Range: ${range.length > 120 ? `${range.slice(0, 120)}…` : range})${status === undefined ? '' : ` answered ${status}`}`;
    const timeout = AbortSignal.timeout(this.#timeouts.request);
    const signal = AbortSignal.any([ctx.signal, timeout]);
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { ...this.#headers, range, 'accept-encoding': 'identity' };
      if (mirror.validator !== undefined) headers['if-range'] = mirror.validator;
      const sent = performance.now();
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
        throw this.#networkFailure(cause, ctx, timeout, where());
      }
      const rtt = performance.now() - sent;
      this.#rtt = this.#rtt === undefined ? rtt : this.#rtt * 0.8 + rtt * 0.2;
      const status = res.statusCode;
      const h = res.headers;
      try {
        if (status >= 300 && status < 400 && status !== 304 && responseHeader(h, 'location') !== undefined) {
          await res.body.dump();
          if (hop >= 5) {
            throw new AttemptFailure(
              new BlockSourceError('ERR_BLOCKSOURCE_HTTP_STATUS', `${where(status)}: more than 5 redirects`),
              'mirror',
            );
          }
          url = new URL(responseHeader(h, 'location') as string, url).href;
          continue;
        }
        if (status === 200 || status === 206) {
          this.#checkValidator(mirror, h, where(status));
          if (hop > 0) mirror.resolved ??= url;
          if (status === 206) await this.#read206(res, mirror, origin, groups.length, asked, job, ctx, where(status));
          else await this.#read200(res, mirror, origin, groups.length, job, ctx, where(status));
          return;
        }
        await res.body.dump();
        throw this.#statusFailure(status, h, mirror, groups.length, asked, where(status));
      } catch (e) {
        if (e instanceof AttemptFailure || ctx.signal.aborted) throw e;
        if (e instanceof BlockSourceError) {
          const transient = e.code === 'ERR_BLOCKSOURCE_PROTOCOL' || e.code === 'ERR_BLOCKSOURCE_TOO_SLOW';
          throw transient ? new AttemptFailure(e, 'retry') : e;
        }
        throw this.#networkFailure(e, ctx, timeout, where(status));
      } finally {
        if (!res.body.destroyed) res.body.destroy();
      }
    }
  }

  #networkFailure(cause: unknown, ctx: FetchContext, timeout: AbortSignal, where: string): unknown {
    if (ctx.signal.aborted) return ctx.signal.reason;
    const { what, timedOut } = describeNetworkFailure(cause, this.#timeouts, timeout);
    const errorCode: BlockSourceErrorCode = timedOut ? 'ERR_BLOCKSOURCE_TIMEOUT' : 'ERR_BLOCKSOURCE_IO';
    return new AttemptFailure(new BlockSourceError(errorCode, `${where}: ${what}`, { cause }), 'retry');
  }

  #checkValidator(mirror: Mirror, h: Record<string, string | string[] | undefined>, where: string): void {
    const etag = responseHeader(h, 'etag');
    const lastModified = responseHeader(h, 'last-modified');
    if (mirror.etag === undefined && mirror.lastModified === undefined) {
      mirror.etag = etag;
      mirror.lastModified = lastModified;
      mirror.validator = etag !== undefined && !etag.startsWith('W/') ? etag : lastModified;
      return;
    }
    const changed =
      (mirror.etag !== undefined && etag !== undefined && etag !== mirror.etag) ||
      (mirror.etag === undefined && mirror.lastModified !== undefined && lastModified !== mirror.lastModified);
    if (changed) {
      throw new BlockSourceError(
        'ERR_BLOCKSOURCE_CHANGED',
        `${where}: the file changed on the server during the sync (ETag ${mirror.etag ?? '-'} → ${etag ?? '-'}, Last-Modified ${mirror.lastModified ?? '-'} → ${lastModified ?? '-'}); restart the sync with a fresh index`,
      );
    }
  }

  #checkTotal(mirror: Mirror, total: number | undefined, where: string): void {
    if (total === undefined) return;
    if (mirror.size === undefined) mirror.size = total;
    else if (mirror.size !== total) {
      throw new BlockSourceError(
        'ERR_BLOCKSOURCE_CHANGED',
        `${where}: the file's length changed from ${mirror.size} to ${total} bytes during the sync`,
      );
    }
  }

  #statusFailure(
    status: number,
    h: Record<string, string | string[] | undefined>,
    mirror: Mirror,
    groups: number,
    asked: readonly ByteRange[],
    where: string,
  ): AttemptFailure | BlockSourceError {
    const origin = this.#origin(mirror);
    if (status === 416) {
      const size = parseUnsatisfiedRange(responseHeader(h, 'content-range') ?? '');
      if (size !== undefined) this.#checkTotal(mirror, size, where);
      const outside = mirror.size === undefined ? undefined : asked.find((r) => r.end > (mirror.size as number));
      if (outside !== undefined) {
        return new BlockSourceError(
          'ERR_BLOCKSOURCE_OUT_OF_BOUNDS',
          `${where}: range ${describeRange(outside)} ends past the end of the file (${mirror.size ?? 0} bytes)`,
        );
      }
      if (groups > 1) return this.#fewerRanges(origin, groups, where);
      return new BlockSourceError(
        'ERR_BLOCKSOURCE_RANGE_NOT_SATISFIABLE',
        `${where}: the server cannot serve range ${describeRange(asked[0] as ByteRange)}`,
      );
    }
    const error = new BlockSourceError('ERR_BLOCKSOURCE_HTTP_STATUS', `${where} for range(s) starting ${describeRange(asked[0] as ByteRange)}`);
    if (status === 429 || status === 503) {
      return new AttemptFailure(error, 'retry', parseRetryAfter(responseHeader(h, 'retry-after'), Date.now()));
    }
    if (status >= 500 || status === 408) {
      if (status === 501 && groups > 1) return this.#fewerRanges(origin, groups, where);
      return new AttemptFailure(error, status === 501 || status === 505 ? 'mirror' : 'retry');
    }
    if ((status === 400 || status === 413 || status === 431) && groups > 1) {
      return this.#fewerRanges(origin, groups, where);
    }
    return new AttemptFailure(error, 'mirror');
  }

  #fewerRanges(origin: OriginState, groups: number, where: string): AttemptFailure {
    origin.maxRanges = Math.max(1, Math.min(origin.maxRanges, Math.floor(groups / 4)));
    return new AttemptFailure(
      new BlockSourceError('ERR_BLOCKSOURCE_HTTP_STATUS', `${where}: multi-range request with ${groups} ranges refused`),
      'fewer-ranges',
    );
  }

  /** Delivers one complete range: verify, then queue, or count a verification failure. */
  async #deliver(item: RangeData, job: Job, ctx: FetchContext, url: string): Promise<void> {
    if (this.#verifier !== undefined && !this.#verifier.verify(item.range, item.data)) {
      const count = (ctx.verifyFailures.get(item.range) ?? 0) + 1;
      ctx.verifyFailures.set(item.range, count);
      const allowed = Math.max(2, this.#mirrors.length);
      if (count >= allowed) {
        throw new BlockSourceError(
          'ERR_BLOCKSOURCE_VERIFY_FAILED',
          `${url}: range ${describeRange(item.range)} failed verification ${count} times (last from this URL; every mirror tried)`,
        );
      }
      this.#stats.retries++;
      job.badBytes = true;
      return;
    }
    ctx.delivered.add(item.range);
    ctx.done += item.data.length;
    this.#stats.bytesDelivered += item.data.length;
    this.#onProgress?.({ phase: 'fetch', done: ctx.done, total: ctx.total });
    await ctx.channel.push(item);
  }

  /**
   * Reads a response body chunk by chunk under the low-speed rule: the time `each` and the rate
   * limiter take is ours, not the server's, and does not count (see {@link HttpTimeouts}).
   */
  async #body(
    res: Dispatcher.ResponseData,
    ctx: FetchContext,
    where: string,
    each: (chunk: Uint8Array) => Promise<void>,
  ): Promise<void> {
    const started = performance.now();
    let bytes = 0;
    const meter = lowSpeedMeter(this.#timeouts, res.body, (what) => new BlockSourceError('ERR_BLOCKSOURCE_TOO_SLOW', `${where}: ${what}`));
    for await (const chunk of meter.watch(res.body as AsyncIterable<Uint8Array>)) {
      bytes += chunk.length;
      this.#stats.bytesReceived += chunk.length;
      if (this.#limiter !== undefined) await this.#limiter.take(chunk.length, ctx.signal);
      await each(chunk);
    }
    const seconds = (performance.now() - started) / 1000;
    if (bytes >= 64 * 1024 && seconds > 0.001) {
      const rate = bytes / seconds;
      this.#bandwidth = this.#bandwidth === undefined ? rate : this.#bandwidth * 0.7 + rate * 0.3;
    }
  }

  async #read206(
    res: Dispatcher.ResponseData,
    mirror: Mirror,
    origin: OriginState,
    groups: number,
    asked: readonly ByteRange[],
    job: Job,
    ctx: FetchContext,
    where: string,
  ): Promise<void> {
    const assembler = new RangeAssembler(asked);
    const seen: ByteRange[] = [];
    const url = where;
    const accept = (start: number, end: number, total: number | undefined): void => {
      this.#checkTotal(mirror, total, where);
      const size = mirror.size;
      const outside = size === undefined ? undefined : asked.find((r) => r.end > size);
      if (outside !== undefined) {
        throw new BlockSourceError(
          'ERR_BLOCKSOURCE_OUT_OF_BOUNDS',
          `${where}: range ${describeRange(outside)} ends past the end of the file (${size ?? 0} bytes)`,
        );
      }
      if (!assembler.overlaps(start, end)) {
        throw new BlockSourceError(
          'ERR_BLOCKSOURCE_PROTOCOL',
          `${where}: Content-Range bytes ${start}-${end - 1} was not asked for`,
        );
      }
      if (seen.some((r) => r.start < end && start < r.end)) {
        throw new BlockSourceError(
          'ERR_BLOCKSOURCE_PROTOCOL',
          `${where}: Content-Range bytes ${start}-${end - 1} overlaps an earlier part`,
        );
      }
      seen.push({ start, end });
    };
    const contentType = responseHeader(res.headers, 'content-type') ?? '';
    const boundary = parseMultipartBoundary(contentType);
    let parts = 0;
    if (boundary !== undefined) {
      const parser = new MultipartByterangesParser(boundary);
      await this.#body(res, ctx, where, async (chunk) => {
        for (const event of parser.push(chunk)) {
          if (event.type === 'part') {
            accept(event.range.start, event.range.end, event.range.total);
            parts++;
          } else {
            for (const item of assembler.write(event.offset, event.data)) await this.#deliver(item, job, ctx, url);
          }
        }
      });
      parser.end();
    } else {
      if (contentType.toLowerCase().startsWith('multipart/')) {
        throw new BlockSourceError('ERR_BLOCKSOURCE_PROTOCOL', `${where}: unusable Content-Type ${JSON.stringify(contentType)}`);
      }
      const value = responseHeader(res.headers, 'content-range') ?? '';
      const cr = parseContentRange(value);
      if (cr === undefined) {
        throw new BlockSourceError('ERR_BLOCKSOURCE_PROTOCOL', `${where}: bad Content-Range ${JSON.stringify(value)}`);
      }
      accept(cr.start, cr.end, cr.total);
      parts = 1;
      let offset = cr.start;
      await this.#body(res, ctx, where, async (chunk) => {
        if (offset + chunk.length > cr.end) {
          throw new BlockSourceError(
            'ERR_BLOCKSOURCE_PROTOCOL',
            `${where}: the body is longer than its Content-Range bytes ${cr.start}-${cr.end - 1}`,
          );
        }
        const items = assembler.write(offset, chunk);
        offset += chunk.length;
        for (const item of items) await this.#deliver(item, job, ctx, url);
      });
      if (offset < cr.end) {
        throw new BlockSourceError(
          'ERR_BLOCKSOURCE_PROTOCOL',
          `${where}: the body ended at ${offset}, ${cr.end - offset} bytes short of Content-Range bytes ${cr.start}-${cr.end - 1}`,
        );
      }
    }
    if (assembler.pending > 0) {
      const missing = assembler.missing();
      if (groups > 1 && parts < groups) origin.maxRanges = Math.max(1, Math.min(origin.maxRanges, parts));
      if (parts === 0 || (!job.badBytes && !asked.some((r) => ctx.delivered.has(r)))) {
        throw new BlockSourceError(
          'ERR_BLOCKSOURCE_PROTOCOL',
          `${where}: the answer holds none of the ${missing.length} missing range(s), first ${describeRange(missing[0] as ByteRange)}`,
        );
      }
    }
  }

  /**
   * Joins the whole-file body another request is reading, if any: the job's ranges that the
   * stream has not passed yet are cut out of it, and the job waits for the stream to end.
   *
   * @returns whether the job waited on a stream (its loop then looks at what is still missing)
   */
  async #joinWholeStream(job: Job, ctx: FetchContext): Promise<boolean> {
    const whole = ctx.whole;
    if (whole === undefined) return false;
    for (const part of job.parts) whole.assembler.adopt(part);
    await whole.finished;
    return true;
  }

  async #read200(
    res: Dispatcher.ResponseData,
    mirror: Mirror,
    origin: OriginState,
    groups: number,
    job: Job,
    ctx: FetchContext,
    where: string,
  ): Promise<void> {
    if (groups > 1) {
      // A server that ignores multi-range requests may still serve single ranges: ask for fewer.
      await res.body.dump();
      throw this.#fewerRanges(origin, groups, where);
    }
    if (this.#wholeBody === 'fail') {
      throw new BlockSourceError(
        'ERR_BLOCKSOURCE_RANGES_UNSUPPORTED',
        `${where} with the whole file to a request for range ${describeRange(job.parts[0] as ByteRange)}, and wholeBody is 'fail'`,
      );
    }
    if (ctx.whole !== undefined) {
      // Another request already reads the whole file: join it rather than read it twice.
      res.body.destroy();
      await this.#joinWholeStream(job, ctx);
      return;
    }
    const length = Number(responseHeader(res.headers, 'content-length') ?? Number.NaN);
    if (Number.isSafeInteger(length)) this.#checkTotal(mirror, length, where);
    // The whole file streams by once: take every range still queued, so no other request is sent.
    for (const part of ctx.pending.splice(0)) job.parts.push(part);
    job.parts.sort((a, b) => a.start - b.start);
    const assembler = new RangeAssembler(job.parts);
    let finish = (): void => undefined;
    const whole: WholeStream = {
      assembler,
      finished: new Promise<void>((resolve) => {
        finish = resolve;
      }),
    };
    ctx.whole = whole;
    try {
      let offset = 0;
      await this.#body(res, ctx, where, async (chunk) => {
        const items = assembler.write(offset, chunk);
        offset += chunk.length;
        for (const item of items) await this.#deliver(item, job, ctx, where);
      });
      if (Number.isSafeInteger(length) && offset !== length) {
        throw new BlockSourceError('ERR_BLOCKSOURCE_PROTOCOL', `${where}: the body ended at ${offset} of ${length} bytes`);
      }
      if (assembler.pending > 0) {
        const missing = assembler.missing();
        throw new BlockSourceError(
          'ERR_BLOCKSOURCE_OUT_OF_BOUNDS',
          `${where}: the file has ${offset} bytes; range ${describeRange(missing[0] as ByteRange)} ends past its end`,
        );
      }
    } finally {
      ctx.whole = undefined;
      finish();
    }
  }

  /** Closes the connections (of the source's own agent); later fetches fail with `ERR_BLOCKSOURCE_CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownDispatcher) await this.#dispatcher.destroy();
  }
}
