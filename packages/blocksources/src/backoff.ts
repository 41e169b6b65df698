/**
 * The delay before retry number `attempt` (1 for the first retry): "full jitter" exponential
 * back-off, a uniformly random delay in `[0, min(maxDelay, baseDelay × 2^(attempt-1))]`.
 *
 * @param attempt - the retry number, from 1
 * @param baseDelay - milliseconds
 * @param maxDelay - milliseconds, the cap
 * @param random - a random number in [0, 1) (injected by tests)
 * @returns milliseconds to wait
 * @example
 * ```ts
 * backoffDelay(3, 100, 5000); // between 0 and 400
 * ```
 */
export function backoffDelay(
  attempt: number,
  baseDelay: number,
  maxDelay: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxDelay, baseDelay * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  return Math.floor(random() * ceiling);
}

/**
 * Parses a `Retry-After` header: delta seconds or an HTTP date.
 *
 * @param value - the header value
 * @param now - the current time in milliseconds since the epoch
 * @returns milliseconds to wait (≥ 0), or undefined when absent or unparseable
 * @example
 * ```ts
 * parseRetryAfter('2', Date.now()); // 2000
 * ```
 */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * Waits `ms` milliseconds, or rejects with the signal's reason when it aborts first (the wait
 * between retries of the HTTP sources; a client's own retry loop can use it too).
 *
 * @param ms - milliseconds
 * @param signal - optional abort signal
 * @returns a promise that resolves after the delay
 * @throws the signal's abort reason
 * @example
 * ```ts
 * await sleep(backoffDelay(1, 250, 8000), AbortSignal.timeout(10_000));
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
