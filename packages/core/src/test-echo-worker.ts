// A worker for worker.test.ts: answers every message with it, and with its workerData.
import { parentPort, workerData } from 'node:worker_threads';

parentPort?.on('message', (message: unknown) => {
  parentPort?.postMessage({ message, workerData: workerData as unknown });
});
