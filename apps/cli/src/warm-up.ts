// Work a sync can start before its index arrives.
import { prepareZstd } from '@gosync/compress';
import { prepareStrongHashers, Xxh128Kernel, type StrongHashName } from '@gosync/index';
import { WeakScanner, WeakSumFilter } from '@gosync/rollsum';

/** The block hashes of the formats a sync most often reads: native (.gsi) and .zsync. */
const LIKELY_HASHES: readonly StrongHashName[] = ['xxh128', 'md4'];

/**
 * Makes the block hashers of the likely formats while the index downloads (a few ms of CPU in
 * time the process would spend waiting). Made after the download, the first one waited 70–90 ms
 * for V8 (see `prepareStrongHashers`); a sync over HTTP makes one right after the index arrives.
 * Also compiles the scan's two WebAssembly kernels (the rolling loop and xxh128 of block runs),
 * which are generated at run time: 5–8 ms of a cold process, once; and starts loading zstd, in
 * case the index is compressed.
 */
export function warmUp(): void {
  prepareStrongHashers(LIKELY_HASHES);
  prepareZstd();
  new Xxh128Kernel(1);
  new WeakScanner({ windowSize: 2048, filter: new WeakSumFilter(1) });
}
