// Worker-thread entry of the output hasher (output-hasher.ts): hashes the output file's written
// prefix as it grows, on another core than the one fetching and writing.
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';

/** A message to the worker: where to read, then how far the prefix is written, then finish. @internal */
export type VerifyRequest =
  | { readonly kind: 'start'; readonly path: string; readonly algorithms: readonly string[] }
  | { readonly kind: 'upTo'; readonly upTo: number }
  | { readonly kind: 'finish'; readonly length: number };

/** The worker's answer to `finish`, or to any failure. @internal */
export type VerifyReply =
  | { readonly kind: 'digests'; readonly digests: readonly Uint8Array[]; readonly hashed: number }
  | { readonly kind: 'error'; readonly message: string; readonly code?: string | undefined };

const READ = 1 << 20;
const port = parentPort;
if (port !== null) {
  let file: FileHandle | undefined;
  let path = '';
  let hashes: Hash[] = [];
  let hashed = 0;
  let failed = false;
  const buffer = new Uint8Array(READ);
  // Messages are handled one at a time, in order.
  let queue: Promise<void> = Promise.resolve();
  const hashTo = async (upTo: number): Promise<void> => {
    const handle = file;
    if (handle === undefined) throw new Error('hash before start');
    while (hashed < upTo) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(READ, upTo - hashed), hashed);
      if (bytesRead === 0) throw Object.assign(new Error(`${path} ended at ${hashed} while being checked, expected at least ${upTo} bytes`), { code: 'ERR_PATCHER_VERIFY_FAILED' });
      for (const h of hashes) h.update(buffer.subarray(0, bytesRead));
      hashed += bytesRead;
    }
  };
  const handle = async (request: VerifyRequest): Promise<void> => {
    if (failed) return;
    if (request.kind === 'start') {
      path = request.path;
      hashes = request.algorithms.map((a) => createHash(a));
      file = await open(request.path, 'r');
    } else if (request.kind === 'upTo') {
      await hashTo(request.upTo);
    } else {
      await hashTo(request.length);
      await file?.close();
      file = undefined;
      const reply: VerifyReply = { kind: 'digests', digests: hashes.map((h) => new Uint8Array(h.digest())), hashed };
      port.postMessage(reply);
    }
  };
  port.on('message', (request: VerifyRequest) => {
    queue = queue.then(
      () => handle(request),
    ).catch((error: unknown) => {
      failed = true;
      const e = error as { message?: string; code?: string };
      port.postMessage({ kind: 'error', message: e.message ?? String(error), code: e.code } satisfies VerifyReply);
    });
  });
}
