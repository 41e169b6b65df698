/**
 * Build, encode, decode and look up block indexes for the `@gosync` toolkit.
 *
 * - {@link buildIndex}: one streaming pass over a target (file or stream), optionally on
 *   worker threads, giving a {@link BlockIndex}.
 * - Formats: native `.gsi` ({@link encodeIndex} / {@link decodeIndex}), `.zsync`
 *   ({@link encodeZsync} / {@link decodeZsync}), go-sync's `.gosync`
 *   ({@link encodeGosync} / {@link decodeGosync}), and {@link decodeAnyIndex} by magic.
 * - {@link WeakSumTable}: weak sum → blocks, for the rolling scan.
 * - Strong hashes ({@link createStrongHasher}, made ahead of time with {@link prepareStrongHashers}) and hash lengths ({@link zsyncHashLengths}).
 * - {@link Xxh128Kernel} and {@link Md4Kernel}: `xxh128` and `md4` of index-sized blocks in WebAssembly,
 *   a run of them checked in one call (both {@link BlockHashKernel}s).
 *
 * Every failure is an {@link IndexError} with a stable `ERR_INDEX_*` code.
 *
 * @packageDocumentation
 */
export { IndexError } from './errors.js';
export type { IndexErrorCode } from './errors.js';
export { BlockIndex } from './block-index.js';
export type {
  BlockIndexInit,
  ChunkParameters,
  FileHash,
  FileHashName,
  IndexKind,
  IndexMetadata,
} from './block-index.js';
export {
  createStrongHasher,
  prepareStrongHashers,
  isStrongHashName,
  STRONG_HASH_NAMES,
  strongHashInfo,
} from './hashes.js';
export type { StrongHasher, StrongHashInfo, StrongHashName } from './hashes.js';
export {
  defaultBlockSize,
  expectedFalseMatches,
  MAX_BLOCK_SIZE,
  nativeHashLengths,
  zsyncHashLengths,
} from './hash-lengths.js';
export type { BlockSizeRule } from './hash-lengths.js';
export type { HashLengths } from './hash-lengths.js';
export { buildIndex } from './build.js';
export type { BuildIndexOptions, BuildProfile } from './build.js';
export { decodeIndex, encodeIndex, GSI_FEATURES, GSI_MAGIC, GSI_VERSION } from './gsi.js';
export { decodeZsync, encodeZsync, ZSYNC_MAX_HEADER } from './zsync.js';
export type { EncodeZsyncOptions } from './zsync.js';
export { decodeGosync, encodeGosync, GOSYNC_MAGIC } from './gosync-format.js';
export { decodeAnyIndex, detectIndexFormat, readIndexFile } from './detect.js';
export type { IndexFormat } from './detect.js';
export { DEFAULT_MAX_BLOCKS } from './limits.js';
export type { DecodeOptions } from './limits.js';
export { WeakSumTable, filterBitsPerEntry } from './weak-sum-table.js';
export { BlockHashKernel } from './block-hash-kernel.js';
export type { KernelLayout, KernelSpec } from './block-hash-kernel.js';
export { Md4Kernel } from './md4-kernel.js';
export { Xxh128Kernel, XXH128_KERNEL_MIN } from './xxh128-kernel.js';
