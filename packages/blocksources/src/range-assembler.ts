import type { ByteRange, RangeData } from '@gosync/core';

interface Slot {
  readonly range: ByteRange;
  buffer: Uint8Array | undefined;
  filled: number;
  done: boolean;
}

/**
 * Cuts the wanted ranges out of bytes that arrive by offset (a 206 part, a merged range, or a
 * whole 200 body): each wanted range is buffered only while it is being filled and is returned
 * as soon as it is complete. The caller guarantees that no byte offset arrives twice.
 *
 * @internal
 */
export class RangeAssembler {
  readonly #slots: Slot[];
  #pending: number;
  #frontier = 0;

  /**
   * @param wanted - disjoint ranges, sorted by start
   */
  constructor(wanted: readonly ByteRange[]) {
    this.#slots = wanted.map((range) => ({ range, buffer: undefined, filled: 0, done: false }));
    this.#pending = wanted.length;
  }

  /** The number of wanted ranges not yet complete. */
  get pending(): number {
    return this.#pending;
  }

  /** Whether some wanted range intersects `[start, end)`. */
  overlaps(start: number, end: number): boolean {
    const i = this.#first(start);
    const slot = this.#slots[i];
    return slot !== undefined && slot.range.start < end;
  }

  /** The highest offset written so far (for streams that arrive in order). */
  get frontier(): number {
    return this.#frontier;
  }

  /**
   * Adds a wanted range to a stream that arrives in order (a whole `200` body): possible only
   * while the stream has not passed the range's start and no slot overlaps it.
   *
   * @param range - the range to add
   * @returns whether it was added
   */
  adopt(range: ByteRange): boolean {
    if (range.start < this.#frontier) return false;
    const i = this.#first(range.start);
    const next = this.#slots[i];
    if (next !== undefined && next.range.start < range.end) return false;
    this.#slots.splice(i, 0, { range, buffer: undefined, filled: 0, done: false });
    this.#pending++;
    return true;
  }

  /** Wanted ranges not yet complete, in order. */
  missing(): ByteRange[] {
    return this.#slots.filter((s) => !s.done).map((s) => s.range);
  }

  // Index of the first slot whose range ends after `offset`.
  #first(offset: number): number {
    let lo = 0;
    let hi = this.#slots.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#slots[mid] as Slot).range.end <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Adds bytes that belong at `offset` of the file.
   *
   * @param offset - file offset of `data[0]`
   * @param data - the bytes (copied; may be reused by the caller)
   * @returns the wanted ranges completed by these bytes
   */
  write(offset: number, data: Uint8Array): RangeData[] {
    const done: RangeData[] = [];
    const end = offset + data.length;
    if (end > this.#frontier) this.#frontier = end;
    for (let i = this.#first(offset); i < this.#slots.length; i++) {
      const slot = this.#slots[i] as Slot;
      if (slot.range.start >= end) break;
      if (slot.done) continue;
      const from = Math.max(offset, slot.range.start);
      const to = Math.min(end, slot.range.end);
      const length = slot.range.end - slot.range.start;
      if (from === slot.range.start && to === slot.range.end && slot.filled === 0) {
        // The whole range in one piece: one copy, no staging buffer.
        slot.done = true;
        this.#pending--;
        done.push({ range: slot.range, data: data.slice(from - offset, to - offset) });
        continue;
      }
      slot.buffer ??= new Uint8Array(length);
      slot.buffer.set(data.subarray(from - offset, to - offset), from - slot.range.start);
      slot.filled += to - from;
      if (slot.filled >= length) {
        slot.done = true;
        this.#pending--;
        done.push({ range: slot.range, data: slot.buffer });
        slot.buffer = undefined;
      }
    }
    return done;
  }

  /** Drops the partly filled buffers (after a failed response). */
  reset(): void {
    for (const slot of this.#slots) {
      if (!slot.done) {
        slot.buffer = undefined;
        slot.filled = 0;
      }
    }
  }
}
