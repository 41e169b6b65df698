import type { WeakSumFilter } from '@gosync/rollsum';
import { PairKernel } from './pair-kernel.js';

/**
 * What the pair scan of `.zsync` indexes keeps from one scan to the next of one thread (the
 * sections it claims, the windows it looks at again, the next seed): its kernel, with the pair
 * filter copied in, and its two read buffers. Each scan made its own before: a WebAssembly
 * instance and some 7 MiB of fresh memory per section and per window, which on the 557 MB swc
 * pair cost a parallel scan's threads 0.3 s of CPU more than one thread's scan.
 *
 * Scans that use one must take turns (a thread scans one stretch at a time): the buffers hold a
 * scan's bytes across its reads.
 *
 * @internal
 */
export class PairScanMemory {
  #kernel: PairKernel | undefined;
  #key: { readonly filter: WeakSumFilter; readonly version: number; readonly mask: number; readonly slice: number; readonly w: number } | undefined;
  #buffers: readonly [Uint8Array<ArrayBuffer>, Uint8Array<ArrayBuffer>] | undefined;

  /**
   * The kernel for this pair filter (as it is now: the kernel holds a copy), mask, slice and
   * block size: the last one if they are the same.
   */
  kernel(filter: WeakSumFilter, mask: number, slice: number, w: number): PairKernel {
    const key = this.#key;
    const version = filter.version;
    if (this.#kernel !== undefined && key?.filter === filter && key.version === version && key.mask === mask && key.slice === slice && key.w === w) return this.#kernel;
    this.#kernel = new PairKernel(filter, mask, slice, w);
    this.#key = { filter, version, mask, slice, w };
    return this.#kernel;
  }

  /** Two buffers of at least `length` bytes (the last ones, if they are long enough). */
  buffers(length: number): readonly [Uint8Array<ArrayBuffer>, Uint8Array<ArrayBuffer>] {
    const buffers = this.#buffers;
    if (buffers !== undefined && buffers[0].length >= length) return buffers;
    this.#buffers = [new Uint8Array(length), new Uint8Array(length)];
    return this.#buffers;
  }
}
