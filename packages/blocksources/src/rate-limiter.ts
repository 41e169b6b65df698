import { sleep } from './backoff.js';

/**
 * A token bucket that limits a byte rate: `take(n)` waits until `n` bytes may pass. The bucket
 * holds at most one second of tokens, so a pause never turns into a burst larger than that.
 * Waits are bounded (at most `n / rate` seconds) and abortable.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter(1_000_000); // 1 MB/s
 * await limiter.take(chunk.length);
 * ```
 */
export class RateLimiter {
  readonly #rate: number;
  #tokens: number;
  #last: number;

  /**
   * @param bytesPerSecond - the rate, a positive number
   */
  constructor(bytesPerSecond: number) {
    this.#rate = bytesPerSecond;
    this.#tokens = bytesPerSecond;
    this.#last = performance.now();
  }

  /**
   * Takes `n` tokens, waiting for them when the bucket is short.
   *
   * @param n - bytes about to pass
   * @param signal - aborts the wait
   * @returns when the bytes may pass
   * @throws the signal's abort reason
   */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    const now = performance.now();
    this.#tokens = Math.min(this.#rate, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
    this.#tokens -= n;
    if (this.#tokens < 0) await sleep(Math.ceil((-this.#tokens / this.#rate) * 1000), signal);
  }
}
