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
  /** The matches recorded since {@link Matches.startLog}: block, offset, …. */
  #log: number[] | undefined;

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
    this.#log?.push(block, offset);
    return true;
  }

  /** From now on, keeps a list of the matches recorded, for {@link Matches.takeLog}. */
  startLog(): void {
    this.#log = [];
  }

  /**
   * Takes back every match recorded since {@link Matches.startLog} and returns them (block,
   * offset, …): the matches are as they were then. A thread looks at several shares of windows
   * in turn, each from the same start, without a copy of the matches per share.
   */
  takeLog(): Float64Array {
    const log = this.#log ?? [];
    this.#log = undefined;
    for (let i = 0; i < log.length; i += 2) this.seedOf[log[i] as number] = -1;
    this.#found -= log.length / 2;
    return Float64Array.from(log);
  }
}
