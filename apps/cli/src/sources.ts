import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BLOCK_STORE_MANIFEST_NAME, BlockStoreSource, FileSource, HttpSource, type HttpSourceOptions } from '@gosync/blocksources';
import { CompressedSource, decodeLayout, type CompressedLayout } from '@gosync/compress';
import { isGosyncError, type BlockSource, type RangeVerifier } from '@gosync/core';
import { UsageError } from './usage.js';

const HTTP = /^https?:\/\//i;
/**
 * Failures of a compressed group itself (a damaged frame, one that inflates too far, one that
 * names a missing dictionary): after one of these a hybrid's artifact is not read again on its
 * own; the file's own source serves the rest.
 */
const ARTIFACT_DAMAGED = ['ERR_COMPRESS_CORRUPT', 'ERR_COMPRESS_TOO_LARGE', 'ERR_COMPRESS_UNSUPPORTED'] as const;
const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/** Where the index came from: a local path, or the URL it was downloaded from (after redirects). */
export type IndexLocation = { readonly path: string } | { readonly url: string };

/**
 * The sources of a sync, in order of preference: the `--source` arguments when given, else the
 * index's own `URL` entries, relative ones resolved against the index's location (as zsync does).
 *
 * @returns absolute paths and http(s) URLs
 * @throws {@link UsageError} for a scheme other than http(s) and file
 */
export function resolveSources(explicit: readonly string[] | undefined, indexUrls: readonly string[], at: IndexLocation): string[] {
  const specs = explicit ?? indexUrls;
  const out: string[] = [];
  for (const spec of specs) {
    if (HTTP.test(spec)) out.push(spec);
    else if (/^file:/i.test(spec)) out.push(fileURLToPath(spec));
    else if (SCHEME.test(spec) && !/^[a-z]:[\\/]/i.test(spec)) {
      if (explicit !== undefined) throw new UsageError(`--source ${spec}: only http(s) URLs and local paths are supported`);
    } else if (explicit !== undefined || isAbsolute(spec)) out.push(resolve(spec));
    else if ('url' in at) out.push(new URL(spec, at.url).href);
    else out.push(resolve(dirname(at.path), spec));
  }
  return out;
}

/** What the HTTP part of a sync did, for the summary. */
export interface SourceStats {
  /** HTTP requests sent. */
  readonly requests: number;
  /** Response body bytes received. */
  readonly bytesReceived: number;
  /** Retries after failures. */
  readonly retries: number;
}

/** A block source over several places, with the counters of its HTTP part. */
export interface SyncSource extends BlockSource {
  stats(): SourceStats;
  close(): Promise<void>;
}

/** Whether a location names a block store's manifest rather than the file itself. */
function isStore(location: string): boolean {
  return location.endsWith(`/${BLOCK_STORE_MANIFEST_NAME}`) || location === BLOCK_STORE_MANIFEST_NAME;
}

/** The extension of a compressed artifact (`gosync index --compress`). */
export const ARTIFACT_EXTENSION = '.gsz';

/** The name of the index attachment holding a compressed artifact's layout. */
export const COMPRESS_ATTACHMENT = 'compress';

/** Whether a location names a compressed artifact of the file (its path ends in `.gsz`). */
export function isArtifact(location: string): boolean {
  if (!HTTP.test(location)) return location.endsWith(ARTIFACT_EXTENSION);
  try {
    return new URL(location).pathname.endsWith(ARTIFACT_EXTENSION);
  } catch {
    return location.endsWith(ARTIFACT_EXTENSION);
  }
}

/**
 * One source over every location: all http(s) URLs of the file become one {@link HttpSource}
 * whose mirrors they are (in order); a location ending in `manifest.gbs` is a block store read by
 * a {@link BlockStoreSource}; a location ending in `.gsz` is a compressed artifact, read through
 * a {@link CompressedSource} with the layout from the index's `compress` attachment (its http(s)
 * URLs are mirrors of one another, like the file's); other local paths are {@link FileSource}s.
 * Ranges one source cannot serve are asked of the next, in the order the locations were given.
 *
 * When the file itself is there too, on the same side (http(s) URLs of both, or local paths of
 * both), the artifact's source also gets the file's source as its `plain` source: for every group
 * that holds wanted bytes it fetches whichever is smaller on the wire, the compressed group or the
 * plain bytes wanted from it (`planHybridFetch`). That source takes the place of the earlier of
 * the two in the order, followed by the artifact's source alone (for a file that is listed but not
 * published); the file's own source stays in its place, as the fallback it was.
 *
 * @param compressLayout - the index's `compress` attachment, if any
 * @throws {@link UsageError} for a `.gsz` location when the index has no `compress` attachment;
 *   a `CompressError` (`ERR_COMPRESS_LAYOUT…`) for a bad layout
 */
export function openSources(
  locations: readonly string[],
  verifier: RangeVerifier,
  http: Omit<HttpSourceOptions, 'urls' | 'verifier'>,
  compressLayout?: Uint8Array,
): SyncSource {
  const urls = locations.filter((l) => HTTP.test(l) && !isStore(l) && !isArtifact(l));
  const httpSource = urls.length === 0 ? undefined : new HttpSource({ ...http, urls, verifier });
  const artifactUrls = locations.filter((l) => HTTP.test(l) && isArtifact(l));
  let layout: CompressedLayout | undefined;
  if (locations.some(isArtifact)) {
    const first = locations.find(isArtifact) ?? '';
    if (compressLayout === undefined) {
      throw new UsageError(`${first}: a compressed artifact (${ARTIFACT_EXTENSION}), but the index has no "${COMPRESS_ATTACHMENT}" attachment describing it (make it with gosync index --compress)`);
    }
    layout = decodeLayout(compressLayout, { name: `the index's ${COMPRESS_ATTACHMENT} attachment` });
  }
  // The artifact's bytes are not the target's: CompressedSource verifies the target ranges.
  const artifactHttp = artifactUrls.length === 0 ? undefined : new HttpSource({ ...http, urls: artifactUrls });
  const stores: BlockStoreSource[] = [];
  // Each hybrid source, and the source over its artifact alone that stands in when it fails.
  const aloneAfter = new Map<BlockSource, BlockSource>();
  // The sources in order; an artifact's is made once its plain partner is known.
  type Entry =
    | { readonly kind: 'other'; readonly source: BlockSource }
    | { readonly kind: 'plain'; readonly source: BlockSource; readonly local: boolean; readonly name: string }
    | { readonly kind: 'artifact'; readonly artifact: BlockSource; readonly layout: CompressedLayout; readonly local: boolean; readonly name: string };
  const entries: Entry[] = [];
  let httpAdded = false;
  let artifactHttpAdded = false;
  for (const location of locations) {
    if (isArtifact(location) && layout !== undefined) {
      if (!HTTP.test(location)) {
        entries.push({ kind: 'artifact', artifact: new FileSource(location), layout, local: true, name: location });
      } else if (!artifactHttpAdded && artifactHttp !== undefined) {
        entries.push({ kind: 'artifact', artifact: artifactHttp, layout, local: false, name: artifactUrls.join(', ') });
        artifactHttpAdded = true;
      }
    } else if (isStore(location)) {
      const store = new BlockStoreSource({
        url: location.slice(0, -BLOCK_STORE_MANIFEST_NAME.length),
        verifier,
        retries: http.retries,
        timeouts: http.timeouts,
        maxInFlight: http.maxInFlight,
        rateLimit: http.rateLimit,
        dispatcher: http.dispatcher,
      });
      stores.push(store);
      entries.push({ kind: 'other', source: store });
    } else if (!HTTP.test(location)) entries.push({ kind: 'plain', source: new FileSource(location, { verifier }), local: true, name: location });
    else if (!httpAdded && httpSource !== undefined) {
      entries.push({ kind: 'plain', source: httpSource, local: false, name: urls.join(', ') });
      httpAdded = true;
    }
  }
  // The first artifact with a source of the file on its side (both local or both HTTP) gets it as
  // its plain source, and goes before it if the file came first.
  const sources: BlockSource[] = [];
  let paired = false;
  for (const entry of entries) {
    if (entry.kind !== 'artifact') {
      sources.push(entry.source);
      continue;
    }
    const plain = paired ? undefined : entries.find((e) => e.kind === 'plain' && e.local === entry.local);
    const { artifact, name } = entry;
    if (plain?.kind !== 'plain') {
      sources.push(new CompressedSource({ layout: entry.layout, artifact, verifier, name }));
      continue;
    }
    paired = true;
    const hybrid = new CompressedSource({ layout: entry.layout, artifact, verifier, name, plain: plain.source, plainName: plain.name });
    // If the hybrid fails (a file listed but not published: 404), the artifact alone serves the
    // rest; not if the artifact itself is damaged (see ARTIFACT_DAMAGED).
    const alone = new CompressedSource({ layout: entry.layout, artifact, verifier, name });
    aloneAfter.set(hybrid, alone);
    const before = sources.indexOf(plain.source);
    if (before < 0) sources.push(hybrid, alone);
    else sources.splice(before, 0, hybrid, alone);
  }
  return {
    async *fetch(ranges, options) {
      let remaining = ranges;
      let lastError: unknown;
      const skip = new Set<BlockSource>();
      for (const source of sources) {
        if (skip.has(source)) continue;
        const served = new Set<number>();
        try {
          for await (const item of source.fetch(remaining, options)) {
            served.add(item.range.start);
            yield item;
          }
          return;
        } catch (error) {
          if (options?.signal?.aborted === true) throw error;
          lastError = error;
          remaining = remaining.filter((r) => !served.has(r.start));
          // A damaged artifact would fail the same way read alone: go on to the next source.
          const alone = aloneAfter.get(source);
          if (alone !== undefined && ARTIFACT_DAMAGED.some((code) => isGosyncError(error, code))) skip.add(alone);
        }
      }
      throw lastError;
    },
    stats() {
      const all = [
        ...stores.map((s) => s.stats),
        ...(httpSource === undefined ? [] : [httpSource.stats]),
        ...(artifactHttp === undefined ? [] : [artifactHttp.stats]),
      ];
      return {
        requests: all.reduce((n, s) => n + s.requests, 0),
        bytesReceived: all.reduce((n, s) => n + s.bytesReceived, 0),
        retries: all.reduce((n, s) => n + s.retries, 0),
      };
    },
    async close() {
      await Promise.all(sources.map((s) => s.close?.() ?? Promise.resolve()));
    },
  };
}
