import { createHash } from 'node:crypto';
import { throwIfAborted, toHex } from '@gosync/core';
import type { AbortOptions, BlockSource, ByteRange, RangeData, RangeVerifier } from '@gosync/core';
import { decompressBytes, zstdDictionaryId } from './codecs.js';
import { CompressError, describeRange } from './errors.js';
import { DEFAULT_RANGE_OVERHEAD, DEFAULT_REQUEST_OVERHEAD, checkWanted, overheadOf, splitHybrid } from './hybrid.js';
import type { HybridSegment } from './hybrid.js';
import { checkLayout, groupArtifactRange, groupTargetRange, layoutRangesFor } from './layout.js';
import type { CompressedLayout, LayoutSpan } from './layout.js';

/** Options of {@link CompressedSource}. */
export interface CompressedSourceOptions {
  /** How the target was compressed (from {@link compressFile} or {@link decodeLayout}). */
  readonly layout: CompressedLayout;
  /** Any source over the artifact file: an `HttpSource`, a `FileSource`, a `MemorySource`… */
  readonly artifact: BlockSource;
  /** Checks every target range before it is yielded; a bad one fails with `ERR_COMPRESS_VERIFY_FAILED`. */
  readonly verifier?: RangeVerifier | undefined;
  /** Names the source in error messages (default `compressed artifact`). */
  readonly name?: string | undefined;
  /**
   * A source over the plain target (the file itself: an `HttpSource` over its URL, a
   * `FileSource`…). With it, every fetch fetches each group that holds wanted bytes either
   * compressed from `artifact` or as the plain bytes wanted from it from here, whichever
   * {@link planHybridFetch} estimates cheaper on the wire. Its errors pass through unchanged.
   */
  readonly plain?: BlockSource | undefined;
  /** Names the plain source in error messages (default `plain source`). */
  readonly plainName?: string | undefined;
  /** The bytes each range is assumed to cost besides its own when choosing (default {@link DEFAULT_RANGE_OVERHEAD}). */
  readonly rangeOverhead?: number | undefined;
  /** The bytes assumed for using both sources in one fetch (default {@link DEFAULT_REQUEST_OVERHEAD}). */
  readonly requestOverhead?: number | undefined;
}

interface Wanted {
  readonly range: ByteRange;
  data: Uint8Array;
}

/** A wanted range being assembled from several segments. */
interface Assembly {
  readonly range: ByteRange;
  readonly data: Uint8Array;
  missing: number;
  plain: boolean;
  compressed: boolean;
}

/** A piece of target bytes from one of the two inner streams, not verified yet. */
interface Piece {
  readonly compressed: boolean;
  readonly range: ByteRange;
  readonly data: Uint8Array;
}

/**
 * A {@link BlockSource} over the target that reads a compressed artifact: it maps the wanted
 * target ranges to artifact ranges ({@link layoutRangesFor}), fetches those through the inner
 * source, decompresses each group with its output bounded by the group's recorded size (safe
 * against decompression bombs), cuts out the wanted ranges, verifies them and yields them. Whoever
 * uses it (the patcher) sees target bytes only.
 *
 * Given a `plain` source over the target itself as well, it fetches each group that holds wanted
 * bytes the cheaper way ({@link planHybridFetch}): the compressed group from the artifact, or the
 * plain bytes wanted from it from `plain`, both at once. A wanted range that crosses groups fetched
 * both ways is put together from its pieces; every yielded range is checked with the verifier.
 *
 * @example
 * ```ts
 * const source = new CompressedSource({
 *   layout: decodeLayout(layoutBytes),
 *   artifact: new HttpSource({ urls: ['https://cdn.example.com/app-2.0.tar.zst-groups'] }),
 *   verifier,
 * });
 * ```
 */
export class CompressedSource implements BlockSource {
  readonly #layout: CompressedLayout;
  readonly #artifact: BlockSource;
  readonly #verifier: RangeVerifier | undefined;
  readonly #name: string;
  readonly #plain: BlockSource | undefined;
  readonly #plainName: string;
  readonly #rangeOverhead: number;
  readonly #requestOverhead: number;
  #closed = false;
  /** The layout's dictionary once fetched and checked (shared by concurrent fetches). */
  #dictionary: Promise<Uint8Array> | undefined;

  /**
   * @param options - the layout, the artifact's source, a verifier and a name
   * @throws {@link CompressError} `ERR_COMPRESS_LAYOUT` for an inconsistent layout,
   *   `ERR_COMPRESS_INVALID_OPTION` for a bad `rangeOverhead` or `requestOverhead`
   */
  constructor(options: CompressedSourceOptions) {
    this.#name = options.name ?? 'compressed artifact';
    checkLayout(options.layout, this.#name);
    this.#layout = options.layout;
    this.#artifact = options.artifact;
    this.#verifier = options.verifier;
    this.#plain = options.plain;
    this.#plainName = options.plainName ?? 'plain source';
    this.#rangeOverhead = overheadOf('rangeOverhead', options.rangeOverhead, DEFAULT_RANGE_OVERHEAD);
    this.#requestOverhead = overheadOf('requestOverhead', options.requestOverhead, DEFAULT_REQUEST_OVERHEAD);
  }

  /** The target's length in bytes. */
  get size(): number {
    return this.#layout.length;
  }

  /**
   * Yields the target bytes of each requested range, in no particular order (ranges inside one span
   * of consecutive groups come out in ascending order as soon as their last group is
   * decompressed). With a layout that has a dictionary, the first fetch that needs a group first
   * fetches the dictionary (the artifact's first bytes) in a request of its own and checks it
   * against the layout's SHA-256. With a `plain` source, the groups chosen plain are fetched from
   * it at the same time.
   *
   * @param ranges - non-overlapping target ranges
   * @param options - abort signal, checked between groups and passed to the inner sources
   * @returns the ranges' bytes
   * @throws {@link CompressError} `ERR_COMPRESS_INVALID_RANGE`, `ERR_COMPRESS_CORRUPT` and
   *   `ERR_COMPRESS_TOO_LARGE` (naming the group, its target range and its artifact range),
   *   `ERR_COMPRESS_CORRUPT` for a dictionary that does not match the layout's SHA-256 or ID,
   *   `ERR_COMPRESS_SOURCE` (either inner source yielded a range not asked for, bytes of the wrong
   *   length, or ended early), `ERR_COMPRESS_VERIFY_FAILED` (naming the range and where its bytes
   *   came from), `ERR_COMPRESS_CLOSED`; the inner sources' errors unchanged; the abort reason on
   *   abort
   */
  async *fetch(ranges: readonly ByteRange[], options: AbortOptions = {}): AsyncGenerator<RangeData> {
    const { signal } = options;
    throwIfAborted(signal);
    if (this.#closed) throw new CompressError('ERR_COMPRESS_CLOSED', `${this.#name}: fetch after close()`);
    const sorted = checkWanted(this.#layout, ranges, this.#name);
    const wanted: ByteRange[] = [];
    for (const range of sorted) {
      if (range.end === range.start) yield { range, data: new Uint8Array(0) };
      else wanted.push(range);
    }
    if (wanted.length === 0) return;
    const plainSource = this.#plain;
    if (plainSource === undefined) {
      for await (const piece of this.#fetchCompressed(wanted, signal)) yield this.#checked(piece.range, piece.data, 'compressed');
      return;
    }
    const { segments } = splitHybrid(this.#layout, wanted, this.#rangeOverhead, this.#requestOverhead);
    // Segments by kind and start; a wanted range cut into several is assembled.
    const compressed = new Map<number, HybridSegment>();
    const plain = new Map<number, HybridSegment>();
    const assemblies = new Map<number, Assembly>();
    for (const segment of segments) {
      (segment.compressed ? compressed : plain).set(segment.part.start, segment);
      const range = wanted[segment.wanted] as ByteRange;
      if (segment.part.start !== range.start || segment.part.end !== range.end) {
        const assembly = assemblies.get(segment.wanted);
        if (assembly === undefined) {
          assemblies.set(segment.wanted, { range, data: new Uint8Array(range.end - range.start), missing: 1, plain: false, compressed: false });
        } else assembly.missing++;
      }
    }
    // Both at once; when one fails (or the consumer stops), the other is stopped through `inner`.
    const stop = new AbortController();
    const inner = signal === undefined ? stop.signal : AbortSignal.any([signal, stop.signal]);
    const streams: AsyncIterable<Piece>[] = [];
    if (compressed.size > 0) streams.push(this.#fetchCompressed([...compressed.values()].map((s) => s.part), inner));
    if (plain.size > 0) streams.push(this.#fetchPlain(plainSource, [...plain.values()].map((s) => s.part), inner));
    for await (const piece of merge(streams, signal, stop)) {
      const segment = (piece.compressed ? compressed : plain).get(piece.range.start) as HybridSegment;
      const assembly = assemblies.get(segment.wanted);
      if (assembly === undefined) {
        yield this.#checked(piece.range, piece.data, piece.compressed ? 'compressed' : 'plain');
        continue;
      }
      assembly.data.set(piece.data, piece.range.start - assembly.range.start);
      if (piece.compressed) assembly.compressed = true;
      else assembly.plain = true;
      if (--assembly.missing === 0) {
        assemblies.delete(segment.wanted);
        yield this.#checked(assembly.range, assembly.data, assembly.compressed && assembly.plain ? 'both' : piece.compressed ? 'compressed' : 'plain');
      }
    }
  }

  /** Verifies a wanted range's bytes; `from` names where they came from in the error. */
  #checked(range: ByteRange, data: Uint8Array, from: 'compressed' | 'plain' | 'both'): RangeData {
    if (this.#verifier !== undefined && !this.#verifier.verify(range, data)) {
      const where =
        from === 'compressed'
          ? `${this.#name}: target range ${describeRange(range)} failed verification after decompression`
          : from === 'plain'
            ? `${this.#plainName}: target range ${describeRange(range)} failed verification (plain bytes, not from ${this.#name})`
            : `${this.#name}: target range ${describeRange(range)}, put together from decompressed groups and plain bytes from ${this.#plainName}, failed verification`;
      throw new CompressError('ERR_COMPRESS_VERIFY_FAILED', where);
    }
    return { range, data };
  }

  /** Fetches sorted, disjoint, non-empty target ranges from the plain source and checks that it answers each exactly once. */
  async *#fetchPlain(source: BlockSource, ranges: readonly ByteRange[], signal: AbortSignal | undefined): AsyncGenerator<Piece> {
    const pending = new Map<number, number>();
    for (const r of ranges) pending.set(r.start, r.end);
    for await (const { range, data } of source.fetch(ranges, signal === undefined ? {} : { signal })) {
      throwIfAborted(signal);
      if (pending.get(range.start) !== range.end) {
        throw new CompressError('ERR_COMPRESS_SOURCE', `${this.#plainName}: the plain source yielded ${describeRange(range)}, which was not asked for or was already received`);
      }
      if (data.length !== range.end - range.start) {
        throw new CompressError('ERR_COMPRESS_SOURCE', `${this.#plainName}: the plain source yielded ${data.length} bytes for ${describeRange(range)}`);
      }
      pending.delete(range.start);
      yield { compressed: false, range, data };
    }
    if (pending.size > 0) {
      const [start, end] = pending.entries().next().value as [number, number];
      throw new CompressError(
        'ERR_COMPRESS_SOURCE',
        `${this.#plainName}: the plain source ended without ${pending.size} of ${ranges.length} ranges (first ${describeRange({ start, end })})`,
      );
    }
  }

  /** Fetches sorted, disjoint, non-empty target ranges through the artifact; the bytes are not verified yet. */
  async *#fetchCompressed(sorted: readonly ByteRange[], signal: AbortSignal | undefined): AsyncGenerator<Piece> {
    const spans = layoutRangesFor(this.#layout, sorted);
    const dictionary = await this.#loadDictionary(signal);
    const byStart = new Map<number, { span: LayoutSpan; wanted: Wanted[] }>();
    let s = 0;
    let next = 0;
    for (const span of spans) {
      const wanted: Wanted[] = [];
      while (next < sorted.length && (sorted[next] as ByteRange).end <= span.targetRange.end) {
        wanted.push({ range: sorted[next++] as ByteRange, data: new Uint8Array(0) });
      }
      byStart.set(span.artifactRange.start, { span, wanted });
      s++;
    }
    let received = 0;
    for await (const { range, data } of this.#artifact.fetch(
      spans.map((span) => span.artifactRange),
      signal === undefined ? {} : { signal },
    )) {
      throwIfAborted(signal);
      const entry = byStart.get(range.start);
      if (entry?.span.artifactRange.end !== range.end) {
        throw new CompressError('ERR_COMPRESS_SOURCE', `${this.#name}: the artifact source yielded ${describeRange(range)}, which was not asked for`);
      }
      byStart.delete(range.start);
      if (data.length !== range.end - range.start) {
        throw new CompressError(
          'ERR_COMPRESS_SOURCE',
          `${this.#name}: the artifact source yielded ${data.length} bytes for ${describeRange(range)}`,
        );
      }
      yield* this.#inflateSpan(entry.span, entry.wanted, data, dictionary, signal);
      received++;
    }
    if (received !== s) {
      throw new CompressError(
        'ERR_COMPRESS_SOURCE',
        `${this.#name}: the artifact source ended without ${s - received} of ${s} artifact ranges`,
      );
    }
  }

  /** The layout's dictionary, fetched and checked once; undefined without one. A failed load is retried by the next fetch. */
  async #loadDictionary(signal: AbortSignal | undefined): Promise<Uint8Array | undefined> {
    const reference = this.#layout.dictionary;
    if (reference === undefined) return undefined;
    const load = (this.#dictionary ??= (async () => {
      const range = { start: 0, end: reference.length };
      const where = `${this.#name}: the zstd dictionary (artifact ${describeRange(range)})`;
      let bytes: Uint8Array | undefined;
      for await (const item of this.#artifact.fetch([range], signal === undefined ? {} : { signal })) {
        if (bytes !== undefined || item.range.start !== range.start || item.range.end !== range.end || item.data.length !== reference.length) {
          throw new CompressError('ERR_COMPRESS_SOURCE', `${where}: the artifact source yielded ${describeRange(item.range)} with ${item.data.length} bytes`);
        }
        bytes = item.data;
      }
      if (bytes === undefined) throw new CompressError('ERR_COMPRESS_SOURCE', `${where}: the artifact source ended without it`);
      const digest = new Uint8Array(createHash('sha256').update(bytes).digest());
      if (digest.some((b, i) => reference.sha256[i] !== b)) {
        throw new CompressError(
          'ERR_COMPRESS_CORRUPT',
          `${where}: SHA-256 ${toHex(digest)}, the layout expects ${toHex(reference.sha256)} (a damaged artifact or another dictionary)`,
        );
      }
      if (zstdDictionaryId(bytes) !== reference.id) {
        throw new CompressError('ERR_COMPRESS_CORRUPT', `${where}: dictionary ID ${zstdDictionaryId(bytes)}, the layout expects ${reference.id}`);
      }
      return bytes;
    })());
    try {
      return await load;
    } catch (error) {
      if (this.#dictionary === load) this.#dictionary = undefined;
      throw error;
    }
  }

  async *#inflateSpan(
    span: LayoutSpan,
    wanted: Wanted[],
    bytes: Uint8Array,
    dictionary: Uint8Array | undefined,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<Piece> {
    const layout = this.#layout;
    const base = span.artifactRange.start;
    let next = 0;
    for (const g of span.groups) {
      throwIfAborted(signal);
      const target = groupTargetRange(layout, g);
      const artifact = groupArtifactRange(layout, g);
      const plain = await decompressBytes(layout.codec, bytes.subarray(artifact.start - base, artifact.end - base), {
        size: target.end - target.start,
        name: `${this.#name}: group ${g} (target ${describeRange(target)}, artifact ${describeRange(artifact)})`,
        dictionary,
      });
      throwIfAborted(signal);
      for (let i = next; i < wanted.length; i++) {
        const w = wanted[i] as Wanted;
        if (w.range.start >= target.end) break;
        const from = Math.max(w.range.start, target.start);
        const to = Math.min(w.range.end, target.end);
        if (from === w.range.start && to === w.range.end) {
          w.data = plain.slice(from - target.start, to - target.start);
        } else {
          if (from === w.range.start) w.data = new Uint8Array(w.range.end - w.range.start);
          w.data.set(plain.subarray(from - target.start, to - target.start), from - w.range.start);
        }
      }
      while (next < wanted.length && (wanted[next] as Wanted).range.end <= target.end) {
        const w = wanted[next++] as Wanted;
        const data = w.data;
        w.data = new Uint8Array(0);
        yield { compressed: true, range: w.range, data };
      }
    }
  }

  /** Closes the artifact's source and the plain source too; later fetches fail with `ERR_COMPRESS_CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.#artifact.close?.(), this.#plain?.close?.()]);
  }
}

/**
 * Yields the items of several async iterables as they come, pulling from all of them at once. When
 * one fails or the consumer stops, `stop` is aborted (the iterables were started with a signal
 * that follows it) and the others are closed; the first error is rethrown unchanged.
 */
async function* merge<T>(streams: readonly AsyncIterable<T>[], signal: AbortSignal | undefined, stop: AbortController): AsyncGenerator<T> {
  if (streams.length === 1) {
    yield* streams[0] as AsyncIterable<T>;
    return;
  }
  const iterators = streams.map((s) => s[Symbol.asyncIterator]());
  type Step = { readonly k: number; readonly step: IteratorResult<T> };
  const pending = new Map<number, Promise<Step>>();
  const pull = (k: number): void => {
    pending.set(k, (iterators[k] as AsyncIterator<T>).next().then((step) => ({ k, step })));
  };
  for (let k = 0; k < iterators.length; k++) pull(k);
  let finished = false;
  try {
    while (pending.size > 0) {
      const { k, step } = await Promise.race(pending.values());
      throwIfAborted(signal);
      if (step.done === true) {
        pending.delete(k);
        continue;
      }
      pull(k);
      yield step.value;
    }
    finished = true;
  } finally {
    if (!finished) {
      stop.abort(new CompressError('ERR_COMPRESS_CLOSED', 'stopped: the other inner source failed or the consumer stopped'));
      // Let the unfinished ones end (their errors are dropped: the first one is on its way).
      await Promise.allSettled([...pending.keys()].map(async (k) => (iterators[k] as AsyncIterator<T>).return?.()));
      await Promise.allSettled(pending.values());
    }
  }
}
