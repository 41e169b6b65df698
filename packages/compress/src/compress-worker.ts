/**
 * Worker-thread entry of {@link compressFile}'s worker pool: compresses the batches of groups it
 * is sent, each group into one frame, and sends the frames back. Internal to `@gosync/compress`.
 *
 * @internal
 * @packageDocumentation
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { CompressionCodec } from './codecs.js';
import { compressGroups } from './compress-batch.js';

/** @internal */
export interface CompressRequest {
  readonly id: number;
  readonly codec: CompressionCodec;
  readonly level: number;
  readonly groupSize: number;
  /** Consecutive groups: `length` bytes of `buffer` from `offset`; the buffer moves to the worker. */
  readonly buffer: ArrayBuffer;
  readonly offset: number;
  readonly length: number;
}

/** What a worker is started with. @internal */
export interface CompressWorkerData {
  /** The dictionary every group is compressed with, if any. */
  readonly dictionary: Uint8Array | undefined;
}

/** @internal */
export interface CompressReply {
  readonly id: number;
  readonly frames: Uint8Array;
  readonly sizes: Uint32Array;
  readonly error?: string;
}

function movable(bytes: Uint8Array): ArrayBuffer[] {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? [bytes.buffer as ArrayBuffer] : [];
}

const port = parentPort;
const { dictionary } = (workerData ?? { dictionary: undefined }) as CompressWorkerData;
port?.on('message', (request: CompressRequest) => {
  const data = new Uint8Array(request.buffer, request.offset, request.length);
  compressGroups(request.codec, request.level, request.groupSize, data, dictionary).then(
    ({ frames, sizes }) => {
      const reply: CompressReply = { id: request.id, frames, sizes };
      port.postMessage(reply, [...movable(frames), sizes.buffer as ArrayBuffer]);
    },
    (error: unknown) => {
      const reply: CompressReply = {
        id: request.id,
        frames: new Uint8Array(0),
        sizes: new Uint32Array(0),
        error: error instanceof Error ? error.message : String(error),
      };
      port.postMessage(reply);
    },
  );
});
