import type { RangeData } from '@gosync/core';

/**
 * A queue of fetched ranges between the request workers and the consumer of `fetch`, bounded
 * by bytes: `push` waits while more than `maxBytes` are queued (so a slow consumer slows the
 * sockets down instead of filling memory). `fail` wakes everyone with an error.
 *
 * @internal
 */
export class RangeChannel {
  readonly #maxBytes: number;
  readonly #items: RangeData[] = [];
  #bytes = 0;
  #error: { readonly reason: unknown } | undefined;
  #wakeReader: (() => void) | undefined;
  #wakeWriters: (() => void)[] = [];

  /** @param maxBytes - how many bytes may wait for the consumer */
  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Whether `fail` was called. */
  get failed(): boolean {
    return this.#error !== undefined;
  }

  /** Queues one range; waits while the queue is over its byte bound. */
  async push(item: RangeData): Promise<void> {
    while (this.#error === undefined && this.#bytes > 0 && this.#bytes + item.data.length > this.#maxBytes) {
      await new Promise<void>((resolve) => this.#wakeWriters.push(resolve));
    }
    if (this.#error !== undefined) throw this.#error.reason;
    this.#items.push(item);
    this.#bytes += item.data.length;
    this.#wakeReader?.();
  }

  /** The next range, waiting for one; rejects with the failure reason once failed. */
  async next(): Promise<RangeData> {
    for (;;) {
      if (this.#error !== undefined) throw this.#error.reason;
      const item = this.#items.shift();
      if (item !== undefined) {
        this.#bytes -= item.data.length;
        const writers = this.#wakeWriters;
        this.#wakeWriters = [];
        for (const wake of writers) wake();
        return item;
      }
      await new Promise<void>((resolve) => {
        this.#wakeReader = resolve;
      });
      this.#wakeReader = undefined;
    }
  }

  /** Fails the channel: the reader and every writer see `reason`. The first reason wins. */
  fail(reason: unknown): void {
    this.#error ??= { reason };
    this.#wakeReader?.();
    const writers = this.#wakeWriters;
    this.#wakeWriters = [];
    for (const wake of writers) wake();
  }
}
