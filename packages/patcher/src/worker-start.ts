import { Worker } from 'node:worker_threads';

/**
 * Starts one of the patcher's worker scripts, which sit beside this module: `.js` when built
 * (or bundled, with the worker bundled under the same name beside the bundle), `.ts` from the
 * sources in tests, loaded through tsx.
 *
 * @internal
 */
export function startPatcherWorker(name: 'scan-worker' | 'verify-worker'): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const url = new URL(`./${name}.ts`, here).href;
    return new Worker(`import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(url)}); });`, { eval: true, resourceLimits: LIMITS });
  }
  return new Worker(new URL(`./${name}.js`, here), { resourceLimits: LIMITS });
}

/**
 * The workers keep their data in typed arrays outside V8's heap and allocate few objects: a
 * small young generation (V8's default lets it grow to tens of MB per thread) keeps a sync of a
 * 557 MB file under 200 MB of memory.
 */
const LIMITS = { maxYoungGenerationSizeMb: 8 };
