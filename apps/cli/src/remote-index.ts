import {
  DEFAULT_LOW_SPEED_BYTES_PER_SECOND,
  DEFAULT_LOW_SPEED_SECONDS,
  LowSpeedMeter,
  backoffDelay,
  parseRetryAfter,
  sleep,
} from '@gosync/blocksources';
import { GosyncError } from '@gosync/core';
import { IndexError, decodeAnyIndex, detectIndexFormat, type BlockIndex, type IndexFormat } from '@gosync/index';

/** Bytes that tell the index formats apart ("zsync: " is the longest signature). */
const FORMAT_PREFIX = 8;
import { request, type Dispatcher } from 'undici';
import { DEFAULT_TIMEOUT_SECONDS, INDEX_REQUEST_HEADERS } from './sync-options.js';

/** Error codes of the CLI's index download. */
export type RemoteIndexErrorCode = 'ERR_CLI_INDEX_DOWNLOAD';

/** The index could not be downloaded: status, network failure or size limit; names the URL. */
export class RemoteIndexError extends GosyncError<RemoteIndexErrorCode> {}

/** Options of {@link downloadIndex}. */
export interface DownloadIndexOptions {
  readonly signal?: AbortSignal | undefined;
  /** Retries after network errors, 5xx, 408 and 429 (default 5). */
  readonly retries?: number | undefined;
  /** Milliseconds to wait for headers, and between body chunks (default 30 000). */
  readonly timeout?: number | undefined;
  /**
   * The low-speed limit in bytes per second (default 1024; 0: off): a body that averages less
   * over the last `lowSpeedSeconds` of waiting for the server is abandoned and retried, as by
   * the HTTP sources of `@gosync/blocksources`.
   */
  readonly lowSpeedBytesPerSecond?: number | undefined;
  /** The low-speed window in seconds (default 30; 0: off). */
  readonly lowSpeedSeconds?: number | undefined;
  /** The largest index accepted, in bytes (default 512 MiB). */
  readonly maxBytes?: number | undefined;
  /** Extra request headers. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** The undici dispatcher (share one with the block source to reuse its connection). */
  readonly dispatcher?: Dispatcher | undefined;
  /**
   * The answer to a first GET of `url` already sent (by main.ts, before the program loaded):
   * taken as the first attempt's answer; undefined inside when that request failed, which
   * then counts as a request and is sent again at once.
   */
  readonly first?: Promise<Dispatcher.ResponseData | undefined> | undefined;
}

/** A downloaded and decoded index, and the URL it came from after redirects. */
export interface RemoteIndex {
  readonly format: IndexFormat;
  readonly index: BlockIndex;
  /** The URL after redirects: relative URLs in the index resolve against it. */
  readonly url: string;
  /** Bytes of the index file. */
  readonly bytes: number;
  /** HTTP requests sent (redirects and retries included). */
  readonly requests: number;
}

/** A body that broke the low-speed rule (retried like a network failure). */
class TooSlow extends Error {}

/**
 * Downloads an index (.gsi, .zsync or .gosync) over HTTP(S) with redirects (at most 5), retries
 * with back-off and `Retry-After`, timeouts, a low-speed rule and a size limit, then decodes it.
 *
 * @param url - the index URL
 * @param options - retries, timeout, low-speed rule, size limit, abort signal
 * @returns the index and the final URL
 * @throws {@link RemoteIndexError} `ERR_CLI_INDEX_DOWNLOAD`; an `IndexError` for a malformed index
 */
export async function downloadIndex(url: string, options: DownloadIndexOptions = {}): Promise<RemoteIndex> {
  const retries = options.retries ?? 5;
  const timeout = options.timeout ?? DEFAULT_TIMEOUT_SECONDS * 1000;
  const maxBytes = options.maxBytes ?? 512 * 1024 * 1024;
  const lowSpeed = {
    bytesPerSecond: options.lowSpeedBytesPerSecond ?? DEFAULT_LOW_SPEED_BYTES_PER_SECOND,
    seconds: options.lowSpeedSeconds ?? DEFAULT_LOW_SPEED_SECONDS,
  };
  let requests = 0;
  let last = '';
  for (let attempt = 0; attempt <= retries; attempt++) {
    let current = url;
    let retryAfter: number | undefined;
    try {
      for (let hop = 0; ; hop++) {
        requests++;
        const early = attempt === 0 && hop === 0 && options.first !== undefined ? await options.first : undefined;
        if (attempt === 0 && hop === 0 && options.first !== undefined && early === undefined) requests++;
        const res =
          early ??
          (await request(current, {
            method: 'GET',
            headers: { ...options.headers, ...INDEX_REQUEST_HEADERS },
            signal: options.signal,
            ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
            headersTimeout: timeout,
            bodyTimeout: timeout,
          }));
        const location = res.headers.location;
        if (res.statusCode >= 300 && res.statusCode < 400 && typeof location === 'string') {
          await res.body.dump();
          if (hop >= 5) throw new RemoteIndexError('ERR_CLI_INDEX_DOWNLOAD', `${url}: more than 5 redirects`);
          current = new URL(location, current).href;
          continue;
        }
        if (res.statusCode !== 200) {
          await res.body.dump();
          last = `GET ${current} answered ${res.statusCode}`;
          const transient = res.statusCode >= 500 || res.statusCode === 408 || res.statusCode === 429;
          if (!transient) throw new RemoteIndexError('ERR_CLI_INDEX_DOWNLOAD', `cannot download the index: ${last}`);
          const header = res.headers['retry-after'];
          retryAfter = parseRetryAfter(typeof header === 'string' ? header : undefined, Date.now());
          break;
        }
        const chunks: Uint8Array[] = [];
        let size = 0;
        const at = current;
        const meter: LowSpeedMeter = new LowSpeedMeter({
          ...lowSpeed,
          onSlow: () => {
            res.body.destroy(new TooSlow(`GET ${at}: ${meter.describe()}`));
          },
        });
        for await (const chunk of meter.watch(res.body as AsyncIterable<Uint8Array>)) {
          if (size < FORMAT_PREFIX && size + chunk.length >= FORMAT_PREFIX) {
            // Not an index (the file's own URL, say): stop now rather than after the whole file.
            const head = Buffer.concat([...chunks, chunk]).subarray(0, FORMAT_PREFIX);
            if (detectIndexFormat(head) === undefined) {
              res.body.destroy();
              throw new IndexError(
                'ERR_INDEX_BAD_MAGIC',
                `${current}: not a native (.gsi), .zsync or .gosync index (first bytes ${head.toString('hex')}); is it the file itself? Give the URL of its index`,
              );
            }
          }
          size += chunk.length;
          if (size > maxBytes) {
            res.body.destroy();
            throw new RemoteIndexError('ERR_CLI_INDEX_DOWNLOAD', `${current}: the index is larger than ${maxBytes} bytes`);
          }
          chunks.push(chunk);
        }
        const bytes = Buffer.concat(chunks);
        const decoded = decodeAnyIndex(bytes, { source: current });
        return { ...decoded, url: current, bytes: bytes.length, requests };
      }
    } catch (e) {
      if (options.signal?.aborted === true) throw options.signal.reason;
      if (e instanceof GosyncError) throw e;
      last = e instanceof TooSlow ? e.message : `GET ${current}: ${e instanceof Error ? e.message : String(e)}`;
    }
    if (attempt < retries) await sleep(Math.min(retryAfter ?? backoffDelay(attempt + 1, 250, 8000), 60_000), options.signal);
  }
  throw new RemoteIndexError('ERR_CLI_INDEX_DOWNLOAD', `cannot download the index after ${retries + 1} attempt${retries === 0 ? '' : 's'}: ${last}`);
}
