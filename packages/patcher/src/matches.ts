/**
 * Where each target block was found: per block, the seed and the offset in it (or −1). The
 * first match of a block wins. @internal
 */
export class Matches {
  /** Seed number per block, −1 when not found. */
  readonly seedOf: Int32Array;
  /** Offset in that seed per block. */
  readonly offsetOf: Float64Array;
  #found = 0;
  /**
   * The matches recorded since {@link Matches.startLog}: block, offset, … (the first
   * `#logLength` numbers). The buffer is kept from one log to the next: a section of a disk
   * image records a million zero blocks at once, and a list grown anew each time was much of a
   * parallel scan's garbage.
   */
  #log: Float64Array = new Float64Array(0);
  #logLength = 0;
  #logging = false;
  /** See {@link Matches.startLog}; `#leftOut`: some record was not listed. */
  #reported: Float64Array | undefined;
  #leftOut = false;

  constructor(count: number) {
    this.seedOf = new Int32Array(count).fill(-1);
    this.offsetOf = new Float64Array(count);
  }

  /** Matches holding a copy of `seedOf` and `offsetOf` (as another Matches has them). */
  static of(seedOf: Int32Array, offsetOf: Float64Array): Matches {
    const matches = new Matches(seedOf.length);
    matches.seedOf.set(seedOf);
    matches.offsetOf.set(offsetOf);
    // An indexed loop: this runs once per re-scan, before V8 optimises it, and an iterator per
    // element made it 5–13 ms for 136 000 blocks in a scan thread (the re-scans' critical path).
    let found = 0;
    for (let b = 0; b < seedOf.length; b++) if ((seedOf[b] as number) >= 0) found++;
    matches.#found = found;
    return matches;
  }

  /** Number of blocks found so far. */
  get found(): number {
    return this.#found;
  }

  has(block: number): boolean {
    return (this.seedOf[block] as number) >= 0;
  }

  /** Records a match unless the block already has one; returns whether it was new. */
  record(block: number, seed: number, offset: number): boolean {
    if ((this.seedOf[block] as number) >= 0) return false;
    this.seedOf[block] = seed;
    this.offsetOf[block] = offset;
    this.#found++;
    if (this.#logging) this.#logRecord(block, offset);
    return true;
  }

  #logRecord(block: number, offset: number): void {
    const reported = this.#reported;
    if (reported !== undefined && (reported[block] as number) >= 0) {
      this.#leftOut = true;
      return;
    }
    if (this.#logLength + 2 > this.#log.length) {
      const grown = new Float64Array(Math.max(1024, 2 * this.#log.length));
      grown.set(this.#log.subarray(0, this.#logLength));
      this.#log = grown;
    }
    this.#log[this.#logLength++] = block;
    this.#log[this.#logLength++] = offset;
  }

  /**
   * From now on, keeps a list of the matches recorded, for {@link Matches.takeLog}.
   *
   * @param reported - per block, an offset where the block is known already (−1: not): such
   *   blocks are left out of the list. Only for matches that hold nothing now (a scan thread's
   *   scratch for its sections: a block an earlier section of the thread found is reported
   *   already, at a smaller offset).
   */
  startLog(reported?: Float64Array): void {
    if (reported !== undefined && this.#found !== 0) throw new Error('Matches.startLog: `reported` needs empty matches');
    this.#logging = true;
    this.#logLength = 0;
    this.#reported = reported;
    this.#leftOut = false;
  }

  /**
   * Takes back every match recorded since {@link Matches.startLog} and returns them (block,
   * offset, …): the matches are as they were then. A thread looks at several shares of windows
   * in turn, each from the same start, without a copy of the matches per share.
   */
  takeLog(): Float64Array {
    const n = this.#logging ? this.#logLength : 0;
    this.#logging = false;
    const log = this.#log;
    if (this.#leftOut) {
      // Some were not listed: the matches were empty at the start, so empty them.
      this.seedOf.fill(-1);
      this.#found = 0;
    } else {
      for (let i = 0; i < n; i += 2) this.seedOf[log[i] as number] = -1;
      this.#found -= n / 2;
    }
    this.#reported = undefined;
    this.#leftOut = false;
    return log.slice(0, n);
  }
}
