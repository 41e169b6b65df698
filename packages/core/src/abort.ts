/**
 * Throws `signal.reason` unchanged when `signal` is aborted; does nothing otherwise. Call it on
 * entry to an async API and between chunks of work.
 *
 * @param signal - an optional abort signal
 * @throws the signal's abort reason
 * @example
 * ```ts
 * const controller = new AbortController();
 * throwIfAborted(controller.signal); // no-op
 * ```
 */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw signal.reason;
}
