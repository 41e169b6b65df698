/**
 * Rebuilds a target from seeds and an index: scan the seeds with the rolling checksum, plan
 * copies and fetches, fetch through any `BlockSource`, check every block, write atomically.
 *
 * @packageDocumentation
 */
export { PatcherError } from './errors.js';
export type { PatcherErrorCode } from './errors.js';
export { patch, planPatch } from './patch.js';
export { endScanThreads, startScanThreads } from './scan-threads.js';
export type { PatchOptions, PatchResult, PlanOptions } from './patch.js';
export type { CopyOperation, DuplicateOperation, FetchOperation, Plan, PlanOperation } from './plan.js';
export type { SeedInput } from './seed-reader.js';
export { createRangeVerifier } from './block-check.js';
