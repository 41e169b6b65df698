import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts the worker script `<name>` that sits beside a module: `<name>.js` beside built code
 * (or beside a bundle that keeps the worker's file name), `<name>.ts` when the module itself
 * runs from TypeScript sources, as in the tests, loaded through tsx's loader (tsx must then be
 * installed).
 *
 * @param moduleUrl - the calling module's `import.meta.url`
 * @param name - the worker script's file name without extension, e.g. `'scan-worker'`
 * @param options - passed to `Worker` (`workerData`, `resourceLimits`, …)
 * @returns the started worker
 * @example
 * ```ts
 * import { startWorkerBeside } from '@gosync/core';
 * const worker = startWorkerBeside(import.meta.url, 'hash-worker');
 * worker.postMessage({ id: 1 });
 * ```
 */
export function startWorkerBeside(moduleUrl: string, name: string, options: WorkerOptions = {}): Worker {
  if (moduleUrl.endsWith('.ts')) {
    const url = new URL(`./${name}.ts`, moduleUrl).href;
    return new Worker(`import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(url)}); });`, {
      ...options,
      eval: true,
    });
  }
  return new Worker(new URL(`./${name}.js`, moduleUrl), options);
}
