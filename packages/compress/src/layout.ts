import { createHash } from 'node:crypto';
import { isByteRange, toHex } from '@gosync/core';
import type { ByteRange } from '@gosync/core';
import { COMPRESSION_CODECS, LEVEL_RANGES, MAX_DICTIONARY_SIZE } from './codecs.js';
import type { CompressionCodec } from './codecs.js';
import { CompressError, describeRange } from './errors.js';

/**
 * A zstd dictionary that every group of an artifact was compressed with. Its bytes are the
 * artifact's first `length` bytes; the frames follow them. A client fetches them once and checks
 * them against `sha256` before it decompresses any group.
 */
export interface LayoutDictionary {
  /**
   * The dictionary ID that frames name (a u32): the one in the header of a dictionary in zstd's
   * format, 0 for raw content.
   */
  readonly id: number;
  /** The dictionary's length in bytes, in [1, {@link MAX_DICTIONARY_SIZE}]. */
  readonly length: number;
  /** The SHA-256 of the dictionary's bytes (32 bytes). */
  readonly sha256: Uint8Array;
}

/**
 * How a target was compressed into an artifact. The target's bytes are cut into groups of
 * `groupSize` consecutive bytes (`blocksPerGroup × blockSize`; the last group may be short); each
 * group is compressed on its own into one frame, and the frames are stored one after another, so
 * group `g` is the artifact's bytes `[d + sizes[0] + … + sizes[g − 1], … + sizes[g])`, where `d`
 * is the dictionary's length (0 without one): a dictionary comes first.
 */
export interface CompressedLayout {
  /** The codec of every frame. */
  readonly codec: CompressionCodec;
  /** The level the frames were written with (informational: decoding does not need it). */
  readonly level: number;
  /** The target's block size in bytes, in [1, 2^26]. */
  readonly blockSize: number;
  /** Target bytes per group, a multiple of `blockSize`, in [1, 2^26]. */
  readonly groupSize: number;
  /** The target's length in bytes (a safe integer; targets over 4 GiB work). */
  readonly length: number;
  /** The compressed size of every group, `⌈length / groupSize⌉` entries. Do not change it. */
  readonly sizes: Uint32Array;
  /** The dictionary the frames need, if any (zstd only). */
  readonly dictionary?: LayoutDictionary | undefined;
}

/** The largest block and group size: 64 MiB. */
export const MAX_GROUP_SIZE: number = 2 ** 26;

const MAGIC = Uint8Array.of(0x89, 0x47, 0x43, 0x4c, 0x0d, 0x0a, 0x1a, 0x0a);
const VERSION = 1;
const HEADER = 36;
const DICTIONARY = 40;
const TRAILER = 8;
const FLAG_DICTIONARY = 1;
const DEFAULT_MAX_GROUPS = 2 ** 24;
const CODEC_IDS: Readonly<Record<CompressionCodec, number>> = { zstd: 1, brotli: 2, gzip: 3 };

/**
 * The largest frame accepted for a group of `n` bytes: every codec's worst case (stored data plus
 * framing) fits.
 *
 * @internal
 */
export function maxFrameSize(n: number): number {
  return Math.min(0xffff_ffff, n + Math.floor(n / 64) + 1024);
}

function fail(name: string, message: string): CompressError {
  return new CompressError('ERR_COMPRESS_LAYOUT', `${name}: ${message}`);
}

/**
 * Checks that a layout's fields agree with each other.
 *
 * @param layout - the layout
 * @param name - names it in error messages
 * @throws {@link CompressError} `ERR_COMPRESS_LAYOUT`
 * @internal
 */
export function checkLayout(layout: CompressedLayout, name = 'compressed layout'): void {
  const { codec, level, blockSize, groupSize, length, sizes, dictionary } = layout;
  if (!(COMPRESSION_CODECS as readonly string[]).includes(codec)) {
    throw fail(name, `codec must be one of ${COMPRESSION_CODECS.join(', ')}, got ${JSON.stringify(codec)}`);
  }
  const [low, high] = LEVEL_RANGES[codec];
  if (!Number.isInteger(level) || level < low || level > high) {
    throw fail(name, `level of ${codec} must be an integer in [${low}, ${high}], got ${String(level)}`);
  }
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > MAX_GROUP_SIZE) {
    throw fail(name, `blockSize must be an integer in [1, 2^26], got ${String(blockSize)}`);
  }
  if (!Number.isInteger(groupSize) || groupSize < blockSize || groupSize > MAX_GROUP_SIZE || groupSize % blockSize !== 0) {
    throw fail(name, `groupSize must be a multiple of blockSize ${blockSize} in [1, 2^26], got ${String(groupSize)}`);
  }
  if (!Number.isSafeInteger(length) || length < 0) {
    throw fail(name, `length must be a safe integer ≥ 0, got ${String(length)}`);
  }
  const count = Math.ceil(length / groupSize);
  if (!(sizes instanceof Uint32Array) || sizes.length !== count) {
    throw fail(name, `sizes must be a Uint32Array of ⌈${length} / ${groupSize}⌉ = ${count} entries`);
  }
  for (let g = 0; g < count; g++) {
    const size = sizes[g] as number;
    const max = maxFrameSize(groupLength(layout, g));
    if (size < 1 || size > max) throw fail(name, `group ${g}: compressed size ${size} is outside [1, ${max}]`);
  }
  if (dictionary !== undefined) {
    const { id, length: dictLength, sha256 } = dictionary;
    if (codec !== 'zstd') throw fail(name, `a dictionary works with zstd only, not ${codec}`);
    if (!Number.isInteger(id) || id < 0 || id > 0xffff_ffff || !Number.isInteger(dictLength) || dictLength < 1 || dictLength > MAX_DICTIONARY_SIZE) {
      throw fail(name, `dictionary id must be a u32 integer and its length in [1, ${MAX_DICTIONARY_SIZE}], got ${String(id)} and ${String(dictLength)}`);
    }
    if (!(sha256 instanceof Uint8Array) || sha256.length !== 32) throw fail(name, 'dictionary sha256 must be 32 bytes');
  }
}

function groupLength(layout: CompressedLayout, g: number): number {
  return Math.min(layout.groupSize, layout.length - g * layout.groupSize);
}

const offsetCache = new WeakMap<Uint32Array, Float64Array>();

/** Artifact offset of every group, plus the artifact's length at the end. */
function artifactOffsets(layout: CompressedLayout): Float64Array {
  const first = layout.dictionary?.length ?? 0;
  let offsets = offsetCache.get(layout.sizes);
  // The same sizes may serve layouts with and without a dictionary: the first offset tells.
  if (offsets !== undefined && offsets[0] !== first) offsets = undefined;
  if (offsets === undefined) {
    const { sizes } = layout;
    offsets = new Float64Array(sizes.length + 1);
    let sum = first;
    for (let g = 0; g < sizes.length; g++) {
      offsets[g] = sum;
      sum += sizes[g] as number;
    }
    offsets[sizes.length] = sum;
    offsetCache.set(sizes, offsets);
  }
  return offsets;
}

/**
 * The artifact's length: the dictionary's length, if any, plus the sum of the compressed sizes.
 *
 * @param layout - the layout
 * @returns bytes
 * @example
 * ```ts
 * console.log(`${(100 * artifactLength(layout)) / layout.length} % of the target`);
 * ```
 */
export function artifactLength(layout: CompressedLayout): number {
  return artifactOffsets(layout)[layout.sizes.length] as number;
}

/**
 * The target bytes that group `g` holds.
 *
 * @param layout - the layout
 * @param g - the group number, from 0
 * @returns `[g × groupSize, min((g + 1) × groupSize, length))`
 * @example
 * ```ts
 * groupTargetRange(layout, 0); // { start: 0, end: 65536 }
 * ```
 */
export function groupTargetRange(layout: CompressedLayout, g: number): ByteRange {
  const start = g * layout.groupSize;
  return { start, end: Math.min(layout.length, start + layout.groupSize) };
}

/**
 * The artifact bytes that hold group `g`'s frame.
 *
 * @param layout - the layout
 * @param g - the group number, from 0
 * @returns the frame's range in the artifact
 * @example
 * ```ts
 * groupArtifactRange(layout, 0); // { start: 0, end: layout.sizes[0] }
 * ```
 */
export function groupArtifactRange(layout: CompressedLayout, g: number): ByteRange {
  const offsets = artifactOffsets(layout);
  return { start: offsets[g] as number, end: offsets[g + 1] as number };
}

/** One artifact read that serves some wanted target ranges: consecutive groups. */
export interface LayoutSpan {
  /** The artifact bytes to fetch: the frames of `groups`, back to back. */
  readonly artifactRange: ByteRange;
  /** The target bytes these groups inflate to. */
  readonly targetRange: ByteRange;
  /** The group numbers, ascending and consecutive. */
  readonly groups: readonly number[];
}

/**
 * Maps wanted target ranges to the artifact ranges that hold them: every group a range touches is
 * needed whole; groups next to each other merge into one artifact range.
 *
 * @param layout - the layout
 * @param targetRanges - wanted target ranges, in any order (they may overlap; empty ones are ignored)
 * @returns spans in ascending order, disjoint and not touching
 * @throws {@link CompressError} `ERR_COMPRESS_INVALID_RANGE` for an invalid range or one past the target's end
 * @example
 * ```ts
 * for (const { artifactRange, groups } of layoutRangesFor(layout, [{ start: 0, end: 10 }])) {
 *   console.log(artifactRange, groups); // { start: 0, end: … } [0]
 * }
 * ```
 */
export function layoutRangesFor(layout: CompressedLayout, targetRanges: readonly ByteRange[]): LayoutSpan[] {
  const intervals: [number, number][] = [];
  for (let i = 0; i < targetRanges.length; i++) {
    const r = targetRanges[i];
    if (!isByteRange(r)) {
      throw new CompressError(
        'ERR_COMPRESS_INVALID_RANGE',
        `ranges[${i}] is not a byte range with integer offsets 0 ≤ start ≤ end: ${JSON.stringify(r) as string | undefined ?? String(r)}`,
      );
    }
    if (r.end > layout.length) {
      throw new CompressError(
        'ERR_COMPRESS_INVALID_RANGE',
        `ranges[${i}] ${describeRange(r)} ends past the end of the target (${layout.length} bytes)`,
      );
    }
    if (r.end > r.start) {
      intervals.push([Math.floor(r.start / layout.groupSize), Math.ceil(r.end / layout.groupSize)]);
    }
  }
  intervals.sort((a, b) => a[0] - b[0]);
  const offsets = artifactOffsets(layout);
  const spans: LayoutSpan[] = [];
  let current: [number, number] | undefined;
  const flush = (first: number, end: number): void => {
    const groups: number[] = [];
    for (let g = first; g < end; g++) groups.push(g);
    spans.push({
      artifactRange: { start: offsets[first] as number, end: offsets[end] as number },
      targetRange: { start: first * layout.groupSize, end: Math.min(layout.length, end * layout.groupSize) },
      groups,
    });
  };
  for (const interval of intervals) {
    if (current !== undefined && interval[0] <= current[1]) {
      current[1] = Math.max(current[1], interval[1]);
    } else {
      if (current !== undefined) flush(current[0], current[1]);
      current = [interval[0], interval[1]];
    }
  }
  if (current !== undefined) flush(current[0], current[1]);
  return spans;
}

function checksum(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest().subarray(0, TRAILER);
}

/**
 * Encodes a layout as compact bytes to store next to an index: a 36-byte header (magic, version,
 * codec, level, block and group size, length, group count), an optional dictionary reference, the
 * compressed sizes as LEB128 varints, and an 8-byte SHA-256 checksum.
 *
 * @param layout - the layout
 * @returns the encoded bytes (about 2–3 bytes per group)
 * @throws {@link CompressError} `ERR_COMPRESS_LAYOUT` when the fields disagree
 * @example
 * ```ts
 * const bytes = encodeLayout(layout);
 * decodeLayout(bytes).sizes.length === layout.sizes.length; // true
 * ```
 */
export function encodeLayout(layout: CompressedLayout): Uint8Array {
  checkLayout(layout);
  const { sizes, dictionary } = layout;
  let tableLength = 0;
  for (const size of sizes) tableLength += varintLength(size);
  const head = HEADER + (dictionary === undefined ? 0 : DICTIONARY);
  const body = head + tableLength;
  const out = new Uint8Array(body + TRAILER);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint16(8, VERSION, true);
  view.setUint16(10, dictionary === undefined ? 0 : FLAG_DICTIONARY, true);
  out[12] = CODEC_IDS[layout.codec];
  view.setInt8(13, layout.level);
  view.setUint16(14, 0, true);
  view.setUint32(16, layout.blockSize, true);
  view.setUint32(20, layout.groupSize, true);
  view.setUint32(24, layout.length % 2 ** 32, true);
  view.setUint32(28, Math.floor(layout.length / 2 ** 32), true);
  view.setUint32(32, sizes.length, true);
  if (dictionary !== undefined) {
    view.setUint32(HEADER, dictionary.id, true);
    view.setUint32(HEADER + 4, dictionary.length, true);
    out.set(dictionary.sha256, HEADER + 8);
  }
  let pos = head;
  for (let value of sizes) {
    while (value >= 0x80) {
      out[pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    out[pos++] = value;
  }
  out.set(checksum(out.subarray(0, body)), body);
  return out;
}

function varintLength(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value >>>= 7;
    n++;
  }
  return n;
}

/** Options of {@link decodeLayout}. */
export interface DecodeLayoutOptions {
  /** The most groups accepted (default 2^24 = 16 Mi groups: 1 TiB at 64 KiB groups). */
  readonly maxGroups?: number | undefined;
  /** Names the layout (a file, a URL) in error messages (default `compressed layout`). */
  readonly name?: string | undefined;
}

/**
 * Decodes layout bytes strictly: the magic, the version and required features, every header
 * field, the group count against `maxGroups` and against the bytes present (before anything is
 * allocated), the checksum, then every size; trailing bytes are an error.
 *
 * @param bytes - exactly the bytes {@link encodeLayout} wrote
 * @param options - group limit and a name for messages
 * @returns the layout
 * @throws {@link CompressError} `ERR_COMPRESS_LAYOUT` (not a layout, truncated, trailing bytes, bad
 *   checksum, inconsistent fields, over `maxGroups`), `ERR_COMPRESS_LAYOUT_UNSUPPORTED` (newer
 *   version, unknown feature flags or codec)
 * @example
 * ```ts
 * const layout = decodeLayout(await readFile('app.tar.layout'));
 * ```
 */
export function decodeLayout(bytes: Uint8Array, options: DecodeLayoutOptions = {}): CompressedLayout {
  const name = options.name ?? 'compressed layout';
  const maxGroups = options.maxGroups ?? DEFAULT_MAX_GROUPS;
  if (!Number.isSafeInteger(maxGroups) || maxGroups < 0) {
    throw new CompressError('ERR_COMPRESS_INVALID_OPTION', `${name}: maxGroups must be a safe integer ≥ 0, got ${String(maxGroups)}`);
  }
  if (bytes.length < MAGIC.length || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw fail(name, `not a compressed layout: expected magic 89 47 43 4c 0d 0a 1a 0a, found ${toHex(bytes.subarray(0, 8))}`);
  }
  if (bytes.length < HEADER + TRAILER) {
    throw fail(name, `truncated: ${bytes.length} bytes, a layout has at least ${HEADER + TRAILER}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(8, true);
  if (version !== VERSION) {
    throw new CompressError('ERR_COMPRESS_LAYOUT_UNSUPPORTED', `${name}: format version ${version}; this reader knows version ${VERSION}`);
  }
  const flags = view.getUint16(10, true);
  if ((flags & ~FLAG_DICTIONARY) !== 0) {
    throw new CompressError('ERR_COMPRESS_LAYOUT_UNSUPPORTED', `${name}: unknown required feature flags 0x${flags.toString(16)}`);
  }
  const codecId = bytes[12] as number;
  const codec = COMPRESSION_CODECS.find((c) => CODEC_IDS[c] === codecId);
  if (codec === undefined) {
    throw new CompressError('ERR_COMPRESS_LAYOUT_UNSUPPORTED', `${name}: unknown codec id ${codecId}`);
  }
  const level = view.getInt8(13);
  if (view.getUint16(14, true) !== 0) throw fail(name, 'reserved bytes 14–15 are not zero');
  const blockSize = view.getUint32(16, true);
  const groupSize = view.getUint32(20, true);
  const high = view.getUint32(28, true);
  if (high > 0x1f_ffff) throw fail(name, `length exceeds 2^53 − 1 (high word 0x${high.toString(16)})`);
  const length = high * 2 ** 32 + view.getUint32(24, true);
  const count = view.getUint32(32, true);
  if (blockSize < 1 || blockSize > MAX_GROUP_SIZE || groupSize < blockSize || groupSize > MAX_GROUP_SIZE || groupSize % blockSize !== 0) {
    throw fail(name, `blockSize ${blockSize} and groupSize ${groupSize} must be in [1, 2^26], groupSize a multiple of blockSize`);
  }
  const expected = Math.ceil(length / groupSize);
  if (count !== expected) throw fail(name, `group count ${count} does not match ⌈${length} / ${groupSize}⌉ = ${expected}`);
  if (count > maxGroups) throw fail(name, `${count} groups, more than the limit maxGroups = ${maxGroups}`);
  const head = HEADER + ((flags & FLAG_DICTIONARY) !== 0 ? DICTIONARY : 0);
  const body = bytes.length - TRAILER;
  if (body < head + count) {
    throw fail(name, `truncated: ${bytes.length} bytes cannot hold ${count} group sizes (at least ${head + count + TRAILER})`);
  }
  if (body > head + count * 5) {
    throw fail(name, `${body - head - count * 5} trailing bytes after the largest possible size table`);
  }
  const want = checksum(bytes.subarray(0, body));
  const found = bytes.subarray(body);
  if (want.some((b, i) => found[i] !== b)) {
    throw fail(name, `checksum mismatch: expected ${toHex(want)}, found ${toHex(found)} (damaged or truncated layout)`);
  }
  let dictionary: LayoutDictionary | undefined;
  if (head > HEADER) {
    dictionary = {
      id: view.getUint32(HEADER, true),
      length: view.getUint32(HEADER + 4, true),
      sha256: new Uint8Array(bytes.subarray(HEADER + 8, HEADER + 40)),
    };
  }
  const sizes = new Uint32Array(count);
  let pos = head;
  for (let g = 0; g < count; g++) {
    let value = 0;
    let shift = 0;
    for (;;) {
      if (pos >= body) throw fail(name, `truncated size table at group ${g}`);
      const byte = bytes[pos++] as number;
      if (shift === 28 && byte > 0x0f) throw fail(name, `group ${g}: size varint exceeds 32 bits`);
      if (byte === 0 && shift > 0) throw fail(name, `group ${g}: size varint is not minimal`);
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) break;
      shift += 7;
    }
    sizes[g] = value;
  }
  if (pos !== body) throw fail(name, `${body - pos} trailing bytes after the size table`);
  const layout: CompressedLayout = dictionary === undefined
    ? { codec, level, blockSize, groupSize, length, sizes }
    : { codec, level, blockSize, groupSize, length, sizes, dictionary };
  checkLayout(layout, name);
  return layout;
}
