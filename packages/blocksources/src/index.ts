/**
 * Where missing bytes come from: block sources for the `@gosync` toolkit. Every source
 * implements `BlockSource` from `@gosync/core` and can check what it yields with a
 * `RangeVerifier`, so bad data never reaches the patcher.
 *
 * This release has the local sources, {@link FileSource} and {@link MemorySource}; the HTTP
 * source (multi-range, parallel, retried, verified) and the block store follow.
 *
 * @packageDocumentation
 */
export { BlockSourceError } from './errors.js';
export type { BlockSourceErrorCode } from './errors.js';
export { FileSource } from './file-source.js';
export type { FileSourceOptions } from './file-source.js';
export { MemorySource } from './memory-source.js';
export type { MemorySourceOptions } from './memory-source.js';
