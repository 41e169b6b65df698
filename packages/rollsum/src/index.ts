/**
 * Rolling checksums and content-defined chunking for the `@gosync` toolkit.
 *
 * - {@link Rollsum32}, {@link weakSum}, {@link rollingSums}: go-sync's 32-bit rolling checksum.
 * - {@link encodeZsyncRsum}, {@link decodeZsyncRsum}, {@link zsyncRsumMask}: zsync's rsum layout
 *   (the same sums, stored big-endian and truncatable to 2–4 bytes).
 * - {@link WeakScanner} with a {@link WeakSumFilter}: the rolling scan over a seed stream that
 *   reports candidate block offsets.
 * - {@link Chunker}, {@link chunkBoundaries}: a FastCDC-style content-defined chunker.
 *
 * @packageDocumentation
 */
export { RollsumError } from './errors.js';
export type { RollsumErrorCode } from './errors.js';
export { Rollsum32, rollingSums, weakSum, weakSumValue } from './rollsum32.js';
export { decodeZsyncRsum, encodeZsyncRsum, zsyncRsumMask } from './zsync-rsum.js';
export type { ZsyncRsumBytes } from './zsync-rsum.js';
export { FILTER_CONFIRM, FILTER_FIRST, FILTER_SECOND, WeakSumFilter } from './weak-sum-filter.js';
export type { WeakSumFilterOptions } from './weak-sum-filter.js';
export { WeakScanner } from './weak-scanner.js';
export type { WeakScanHit, WeakScannerOptions } from './weak-scanner.js';
export { Chunker, chunkBoundaries } from './chunker.js';
export type { ChunkerOptions } from './chunker.js';
export { GEAR_TABLE } from './gear.js';
