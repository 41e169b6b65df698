/**
 * Where missing bytes come from: block sources for the `@gosync` toolkit. Every source
 * implements `BlockSource` from `@gosync/core` and can check what it yields with a
 * `RangeVerifier`, so bad data never reaches the patcher.
 *
 * {@link HttpSource} reads any HTTP(S) server or CDN with range requests (multi-range, parallel,
 * retried, verified, with mirrors); {@link BlockStoreSource} reads a content-addressed block store
 * (written by {@link writeBlockStore}) from any static host, even one without Range support;
 * {@link FileSource} and {@link MemorySource} read local bytes.
 *
 * @packageDocumentation
 */
export { BlockSourceError } from './errors.js';
export type { BlockSourceErrorCode } from './errors.js';
export { FileSource } from './file-source.js';
export type { FileSourceOptions } from './file-source.js';
export { MemorySource } from './memory-source.js';
export type { MemorySourceOptions } from './memory-source.js';
export { HttpSource } from './http-source.js';
export type { HttpSourceOptions, HttpSourceStats, WholeBodyPolicy } from './http-source.js';
export type { HttpClientOptions, HttpRetryOptions, HttpTimeouts } from './http-options.js';
export {
  MultipartByterangesParser,
  parseContentRange,
  parseMultipartBoundary,
  parseUnsatisfiedRange,
} from './multipart.js';
export type { ContentRange, MultipartEvent } from './multipart.js';
export { RateLimiter } from './rate-limiter.js';
export { DEFAULT_LOW_SPEED_BYTES_PER_SECOND, DEFAULT_LOW_SPEED_SECONDS, LowSpeedMeter } from './low-speed.js';
export type { LowSpeedMeterOptions } from './low-speed.js';
export { backoffDelay, parseRetryAfter, sleep } from './backoff.js';
export {
  BLOCK_STORE_MANIFEST_NAME,
  DEFAULT_BLOCK_STORE_OBJECT_SIZE,
  MAX_BLOCK_STORE_OBJECT_SIZE,
  blockStoreDigestLength,
  blockStoreObjectDigest,
  blockStoreObjectPath,
  blockStoreObjectRange,
  decodeBlockStoreManifest,
  encodeBlockStoreManifest,
} from './block-store-manifest.js';
export type { BlockStoreHash, BlockStoreManifest, DecodeBlockStoreManifestOptions } from './block-store-manifest.js';
export { writeBlockStore } from './block-store-writer.js';
export type { WriteBlockStoreOptions } from './block-store-writer.js';
export { BlockStoreSource } from './block-store-source.js';
export type {
  BlockStoreRetryOptions,
  BlockStoreSourceOptions,
  BlockStoreSourceStats,
  BlockStoreTimeouts,
} from './block-store-source.js';
