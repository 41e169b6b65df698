import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { startWorkerBeside } from './worker.js';

async function ask(worker: Worker, message: unknown): Promise<unknown> {
  try {
    const reply = new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    worker.postMessage(message);
    return await reply;
  } finally {
    await worker.terminate();
  }
}

describe('startWorkerBeside', { timeout: 60_000 }, () => {
  it('runs the .ts worker beside a module that runs from TypeScript sources, with its options', async () => {
    const worker = startWorkerBeside(import.meta.url, 'test-echo-worker', { workerData: 7 });
    expect(await ask(worker, 'hi')).toEqual({ message: 'hi', workerData: 7 });
  });

  it('runs the .js worker beside a built module', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gosync-worker-'));
    try {
      await writeFile(
        join(dir, 'echo.js'),
        "import { parentPort, workerData } from 'node:worker_threads';\nparentPort.on('message', (m) => parentPort.postMessage([m, workerData]));\n",
      );
      await writeFile(join(dir, 'package.json'), '{ "type": "module" }');
      const worker = startWorkerBeside(pathToFileURL(join(dir, 'module.js')).href, 'echo', { workerData: 'data' });
      expect(await ask(worker, 5)).toEqual([5, 'data']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
