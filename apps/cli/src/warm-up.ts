// Work a sync can start before its index arrives.
import { prepareStrongHashers, type StrongHashName } from '@gosync/index';

/** The block hashes of the formats a sync most often reads: native (.gsi) and .zsync. */
const LIKELY_HASHES: readonly StrongHashName[] = ['xxh128', 'md4'];

/**
 * Makes the block hashers of the likely formats while the index downloads (a few ms of CPU in
 * time the process would spend waiting). Made after the download, the first one waited 70–90 ms
 * for V8 (see `prepareStrongHashers`); a sync over HTTP makes one right after the index arrives.
 */
export function warmUp(): void {
  prepareStrongHashers(LIKELY_HASHES);
}
