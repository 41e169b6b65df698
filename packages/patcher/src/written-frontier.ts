/**
 * How far the output is written without a gap: the writes of a patch (copies, fetches and
 * duplicates, several in flight at once) are marked as they finish, in any order,
 * and {@link WrittenFrontier.upTo} is the end of the written prefix. Writes must not overlap.
 *
 * @internal
 */
export class WrittenFrontier {
  #upTo = 0;
  /** Ends of written ranges past the frontier, by their start. */
  readonly #ahead = new Map<number, number>();

  /** The written prefix is `[0, upTo)`. */
  get upTo(): number {
    return this.#upTo;
  }

  /**
   * Records that `[start, end)` is written.
   *
   * @returns the end of the written prefix after it
   */
  mark(start: number, end: number): number {
    if (end <= start) return this.#upTo;
    if (start !== this.#upTo) {
      this.#ahead.set(start, end);
      return this.#upTo;
    }
    let upTo = end;
    for (let next = this.#ahead.get(upTo); next !== undefined; next = this.#ahead.get(upTo)) {
      this.#ahead.delete(upTo);
      upTo = next;
    }
    this.#upTo = upTo;
    return upTo;
  }
}
