/**
 * Worker-thread entry of the parallel index build: hashes whole blocks of the batches it is
 * sent and sends back the buffer with the sums. Internal to `@gosync/index`.
 *
 * @internal
 * @packageDocumentation
 */
import { parentPort } from 'node:worker_threads';
import { hashBlocks } from './block-hasher.js';
import { createStrongHasher, type StrongHasher, type StrongHashName } from './hashes.js';

/** @internal */
export interface HashRequest {
  readonly id: number;
  readonly buffer: ArrayBuffer;
  readonly length: number;
  readonly blockSize: number;
  readonly padLast: boolean;
  readonly strongHash: StrongHashName;
}

/** @internal */
export interface HashReply {
  readonly id: number;
  readonly buffer: ArrayBuffer;
  readonly weak: Uint32Array;
  readonly strong: Uint8Array;
  readonly error?: string;
}

const hashers = new Map<StrongHashName, StrongHasher>();

async function handle(req: HashRequest): Promise<void> {
  const port = parentPort;
  if (port === null) return;
  try {
    let hasher = hashers.get(req.strongHash);
    if (hasher === undefined) {
      hasher = await createStrongHasher(req.strongHash);
      hashers.set(req.strongHash, hasher);
    }
    const data = new Uint8Array(req.buffer, 0, req.length);
    const blocks = Math.ceil(req.length / req.blockSize);
    const weak = new Uint32Array(blocks);
    const strong = new Uint8Array(blocks * hasher.digestLength);
    hashBlocks(data, req.blockSize, req.padLast, hasher, weak, strong, 0);
    const reply: HashReply = { id: req.id, buffer: req.buffer, weak, strong };
    port.postMessage(reply, [req.buffer, weak.buffer, strong.buffer]);
  } catch (e) {
    const reply: HashReply = {
      id: req.id,
      buffer: req.buffer,
      weak: new Uint32Array(0),
      strong: new Uint8Array(0),
      error: e instanceof Error ? e.message : String(e),
    };
    port.postMessage(reply, [req.buffer]);
  }
}

// Requests are handled one at a time in arrival order.
let queue: Promise<void> = Promise.resolve();
parentPort?.on('message', (req: HashRequest) => {
  queue = queue.then(() => handle(req));
});
