import { createHash } from 'node:crypto';
import { isByteRange, sortedDisjoint, throwIfAborted, toHex } from '@gosync/core';
import type { AbortOptions, BlockSource, ByteRange, RangeData, RangeVerifier } from '@gosync/core';
import { decompressBytes, zstdDictionaryId } from './codecs.js';
import { CompressError, describeRange } from './errors.js';
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
}

interface Wanted {
  readonly range: ByteRange;
  data: Uint8Array;
}

/**
 * A {@link BlockSource} over the target that reads a compressed artifact: it maps the wanted
 * target ranges to artifact ranges ({@link layoutRangesFor}), fetches those through the inner
 * source, decompresses each group with its output bounded by the group's recorded size (safe
 * against decompression bombs), cuts out the wanted ranges, verifies them and yields them. Whoever
 * uses it (the patcher) sees target bytes only.
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
  #closed = false;
  /** The layout's dictionary once fetched and checked (shared by concurrent fetches). */
  #dictionary: Promise<Uint8Array> | undefined;

  /**
   * @param options - the layout, the artifact's source, a verifier and a name
   * @throws {@link CompressError} `ERR_COMPRESS_LAYOUT` for an inconsistent layout
   */
  constructor(options: CompressedSourceOptions) {
    this.#name = options.name ?? 'compressed artifact';
    checkLayout(options.layout, this.#name);
    this.#layout = options.layout;
    this.#artifact = options.artifact;
    this.#verifier = options.verifier;
  }

  /** The target's length in bytes. */
  get size(): number {
    return this.#layout.length;
  }

  /**
   * Yields the target bytes of each requested range (ranges inside one span of consecutive groups
   * come out in ascending order as soon as their last group is decompressed). With a layout that
   * has a dictionary, the first fetch that needs a group first fetches the dictionary (the
   * artifact's first bytes) in a request of its own and checks it against the layout's SHA-256.
   *
   * @param ranges - non-overlapping target ranges
   * @param options - abort signal, checked between groups and passed to the inner source
   * @returns the ranges' bytes
   * @throws {@link CompressError} `ERR_COMPRESS_INVALID_RANGE`, `ERR_COMPRESS_CORRUPT` and
   *   `ERR_COMPRESS_TOO_LARGE` (naming the group, its target range and its artifact range),
   *   `ERR_COMPRESS_CORRUPT` for a dictionary that does not match the layout's SHA-256 or ID,
   *   `ERR_COMPRESS_SOURCE`, `ERR_COMPRESS_VERIFY_FAILED`, `ERR_COMPRESS_CLOSED`; the inner
   *   source's errors unchanged; the abort reason on abort
   */
  async *fetch(ranges: readonly ByteRange[], options: AbortOptions = {}): AsyncGenerator<RangeData> {
    const { signal } = options;
    throwIfAborted(signal);
    if (this.#closed) throw new CompressError('ERR_COMPRESS_CLOSED', `${this.#name}: fetch after close()`);
    const sorted = this.#check(ranges);
    const spans = layoutRangesFor(this.#layout, sorted);
    for (const range of sorted) {
      if (range.end === range.start) yield { range, data: new Uint8Array(0) };
    }
    if (spans.length === 0) return;
    const dictionary = await this.#loadDictionary(signal);
    const byStart = new Map<number, { span: LayoutSpan; wanted: Wanted[] }>();
    let s = 0;
    for (const span of spans) {
      const wanted: Wanted[] = [];
      for (const range of sorted) {
        if (range.end > range.start && range.start >= span.targetRange.start && range.end <= span.targetRange.end) {
          wanted.push({ range, data: new Uint8Array(0) });
        }
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
  ): AsyncGenerator<RangeData> {
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
        if (this.#verifier !== undefined && !this.#verifier.verify(w.range, data)) {
          throw new CompressError(
            'ERR_COMPRESS_VERIFY_FAILED',
            `${this.#name}: target range ${describeRange(w.range)} failed verification after decompression`,
          );
        }
        yield { range: w.range, data };
      }
    }
  }

  #check(ranges: readonly ByteRange[]): ByteRange[] {
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i];
      if (!isByteRange(r)) {
        throw new CompressError(
          'ERR_COMPRESS_INVALID_RANGE',
          `${this.#name}: ranges[${i}] is not a byte range with integer offsets 0 ≤ start ≤ end: ${JSON.stringify(r) as string | undefined ?? String(r)}`,
        );
      }
      if (r.end > this.#layout.length) {
        throw new CompressError(
          'ERR_COMPRESS_INVALID_RANGE',
          `${this.#name}: range ${describeRange(r)} ends past the end of the target (${this.#layout.length} bytes)`,
        );
      }
    }
    const { sorted, overlap } = sortedDisjoint(ranges);
    if (overlap !== undefined) {
      throw new CompressError(
        'ERR_COMPRESS_INVALID_RANGE',
        `${this.#name}: requested ranges overlap: ${describeRange(overlap[0])} and ${describeRange(overlap[1])}`,
      );
    }
    return sorted;
  }

  /** Closes the artifact's source too; later fetches fail with `ERR_COMPRESS_CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#artifact.close?.();
  }
}
