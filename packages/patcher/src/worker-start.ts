import type { Worker } from 'node:worker_threads';
import { startWorkerBeside } from '@gosync/core';

/**
 * The workers keep their data in typed arrays outside V8's heap and allocate few objects: a
 * small young generation (V8's default lets it grow to tens of MB per thread) keeps a sync of a
 * 557 MB file under 200 MB of memory.
 */
const LIMITS = { maxYoungGenerationSizeMb: 8 };

/**
 * Starts one of the patcher's worker scripts, which sit beside this module (or, bundled, under
 * the same name beside the bundle).
 *
 * @internal
 */
export function startPatcherWorker(name: 'scan-worker' | 'verify-worker'): Worker {
  return startWorkerBeside(import.meta.url, name, { resourceLimits: LIMITS });
}
