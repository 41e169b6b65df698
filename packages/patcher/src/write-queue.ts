/**
 * Writes started without waiting for each to end, at most `limit` at once: the next range is
 * received and checked while the last ones are written. A failed write is passed to `onFailure`
 * at once (to stop whatever feeds the queue) and thrown by the next {@link WriteQueue.add} or by
 * {@link WriteQueue.drain}; after a failure, {@link WriteQueue.settle} waits for the others before
 * the file is closed.
 *
 * @internal
 */
export class WriteQueue {
  readonly #limit: number;
  readonly #onFailure: ((error: unknown) => void) | undefined;
  readonly #writes = new Set<Promise<void>>();
  #failure: { readonly error: unknown } | undefined;

  /**
   * @param limit - writes in flight at most (each holds its bytes until it ends)
   * @param onFailure - called with the first failure, as soon as it happens
   */
  constructor(limit: number, onFailure?: (error: unknown) => void) {
    this.#limit = limit;
    this.#onFailure = onFailure;
  }

  /** Starts `write()` once fewer than `limit` writes are in flight; `then()` runs when it ends. */
  async add(write: () => Promise<void>, then: () => void): Promise<void> {
    while (this.#writes.size >= this.#limit && this.#failure === undefined) await Promise.race(this.#writes);
    this.#throwFailure();
    const writing: Promise<void> = write()
      .then(then)
      .then(
        () => {
          this.#writes.delete(writing);
        },
        (error: unknown) => {
          this.#writes.delete(writing);
          if (this.#failure !== undefined) return;
          this.#failure = { error };
          this.#onFailure?.(error);
        },
      );
    this.#writes.add(writing);
  }

  /** Waits for every write in flight; throws the first failure. */
  async drain(): Promise<void> {
    await Promise.all(this.#writes);
    this.#throwFailure();
  }

  /** Waits for every write in flight, failed or not. */
  async settle(): Promise<void> {
    await Promise.all(this.#writes);
  }

  #throwFailure(): void {
    if (this.#failure !== undefined) throw this.#failure.error;
  }
}
