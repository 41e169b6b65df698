import { compressBytes } from './codecs.js';
import type { CompressionCodec } from './codecs.js';

/**
 * The frames of consecutive groups, back to back, and the size of each.
 *
 * @internal
 */
export interface CompressedBatch {
  readonly frames: Uint8Array;
  readonly sizes: Uint32Array;
}

/**
 * Compresses `data`, consecutive groups of `groupSize` bytes (the last may be short), each into one
 * frame on its own (with `dictionary`, if given). The groups are compressed at once (zlib codecs and Node's zstd run on libuv's
 * thread pool; the wasm zstd runs on this thread, one group after another).
 *
 * @internal
 */
export async function compressGroups(
  codec: CompressionCodec,
  level: number,
  groupSize: number,
  data: Uint8Array,
  dictionary: Uint8Array | undefined,
): Promise<CompressedBatch> {
  const jobs: Promise<Uint8Array>[] = [];
  for (let offset = 0; offset < data.length; offset += groupSize) {
    jobs.push(compressBytes(codec, data.subarray(offset, Math.min(data.length, offset + groupSize)), { level, dictionary }));
  }
  const frames = await Promise.all(jobs);
  if (frames.length === 1) return { frames: frames[0] as Uint8Array, sizes: Uint32Array.of((frames[0] as Uint8Array).length) };
  const sizes = new Uint32Array(frames.length);
  let total = 0;
  for (let i = 0; i < frames.length; i++) total += sizes[i] = (frames[i] as Uint8Array).length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const frame of frames) {
    out.set(frame, at);
    at += frame.length;
  }
  return { frames: out, sizes };
}
