/**
 * Per-block compression for the `@gosync` toolkit: the zstd (default), brotli and gzip codecs, the
 * compressed-artifact layout, and a block source that reads such an artifact.
 *
 * A publisher calls {@link compressFile} to write the artifact (the target cut into groups of
 * consecutive blocks, each compressed on its own) and stores {@link encodeLayout}'s bytes next to
 * the index. A client wraps any source over the artifact in a {@link CompressedSource}, which maps
 * target ranges to artifact ranges, decompresses with bounded output, verifies and yields target
 * bytes, so the patcher never knows that compression exists. Given a source over the plain target
 * as well, it fetches each group the cheaper way ({@link planHybridFetch}).
 *
 * @packageDocumentation
 */
export { CompressError } from './errors.js';
export type { CompressErrorCode } from './errors.js';
export {
  COMPRESSION_CODECS,
  DEFAULT_LEVELS,
  LEVEL_RANGES,
  MAX_DICTIONARY_SIZE,
  compressBytes,
  decompressBytes,
  prepareZstd,
  zstdBackend,
} from './codecs.js';
export type { CompressBytesOptions, CompressionCodec, DecompressBytesOptions, ZstdBackend } from './codecs.js';
export {
  MAX_GROUP_SIZE,
  artifactLength,
  decodeLayout,
  encodeLayout,
  groupArtifactRange,
  groupTargetRange,
  layoutRangesFor,
} from './layout.js';
export type { CompressedLayout, DecodeLayoutOptions, LayoutDictionary, LayoutSpan } from './layout.js';
export { compressFile } from './compress-file.js';
export { defaultGroupSize } from './group-size.js';
export { sampleDictionary } from './dictionary.js';
export type { SampleDictionaryOptions } from './dictionary.js';
export type { CompressFileOptions } from './compress-file.js';
export { CompressedSource } from './compressed-source.js';
export { DEFAULT_RANGE_OVERHEAD, DEFAULT_REQUEST_OVERHEAD, planHybridFetch } from './hybrid.js';
export type { HybridPlan, PlanHybridOptions } from './hybrid.js';
export type { CompressedSourceOptions } from './compressed-source.js';
