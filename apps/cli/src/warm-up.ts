// Work a sync can start before its index arrives.
import { prepareZstd } from '@gosync/compress';
import { Md4Kernel, prepareStrongHashers, Xxh128Kernel, type StrongHashName } from '@gosync/index';
import { WeakScanner, WeakSumFilter } from '@gosync/rollsum';

/** The block hashes of the formats a sync most often reads: native (.gsi) and .zsync. */
const LIKELY_HASHES: readonly StrongHashName[] = ['xxh128', 'md4'];

/** Bytes hashed by each block-hash kernel at the start: enough to use up V8's budget for optimising it. */
const WARM_BYTES = 256 << 10;

/**
 * Makes the block hashers of the likely formats while the index downloads (a few ms of CPU in
 * time the process would spend waiting). Made after the download, the first one waited 70–90 ms
 * for V8 (see `prepareStrongHashers`); a sync over HTTP makes one right after the index arrives.
 * Also compiles the scan's WebAssembly kernels (the rolling loop, xxh128 and md4 of block runs),
 * which are generated at run time: 5–8 ms of a cold process, once, and has the block-hash kernels
 * hash 256 KiB each (under 1 ms) so that V8 optimises them now; and starts loading zstd, in case
 * the index is compressed.
 */
export function warmUp(): void {
  prepareStrongHashers(LIKELY_HASHES);
  prepareZstd();
  // Some work for each block-hash kernel, so that V8 starts optimising its hash function now (on
  // a background thread) rather than in the middle of the scan.
  const block = new Uint8Array(WARM_BYTES);
  const digest = new Uint8Array(16);
  new Xxh128Kernel(1).hash(block, digest, 0);
  new Md4Kernel(1).hash(block, digest, 0);
  new WeakScanner({ windowSize: 2048, filter: new WeakSumFilter(1) });
}
