// Test helpers (not part of the package build).
import { fc } from '@fast-check/vitest';
import type { BlockSource, ByteRange, RangeData } from '@gosync/core';
import { buildIndex, type BlockIndex, type BuildIndexOptions } from '@gosync/index';
import type { Plan } from './plan.js';

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);

export async function indexOf(target: Uint8Array, options: BuildIndexOptions = {}): Promise<BlockIndex> {
  async function* stream(): AsyncIterable<Uint8Array> {
    await Promise.resolve();
    yield target;
  }
  return buildIndex(stream(), { workers: 0, length: target.length, ...options });
}

/** A block source over bytes in memory, with knobs for misbehaviour. */
export class TestSource implements BlockSource {
  readonly requested: ByteRange[] = [];
  fetchedBytes = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly faults: {
      corruptRange?: number; // index (in request order) of a range to corrupt
      omitRange?: number; // index of a range to leave out
      extraRange?: ByteRange; // a range that was not asked for
      failAfter?: number; // throw after yielding this many ranges
    } = {},
  ) {}

  async *fetch(ranges: readonly ByteRange[], options?: { signal?: AbortSignal | undefined }): AsyncIterable<RangeData> {
    let i = 0;
    for (const range of ranges) {
      options?.signal?.throwIfAborted();
      await Promise.resolve();
      this.requested.push(range);
      if (this.faults.failAfter !== undefined && i >= this.faults.failAfter) throw new Error('connection reset by test');
      if (i === this.faults.omitRange) {
        i++;
        continue;
      }
      const data = this.bytes.slice(range.start, range.end);
      if (i === this.faults.corruptRange && data.length > 0) data[0] = (data[0]! + 1) & 0xff;
      this.fetchedBytes += data.length;
      i++;
      yield { range, data };
    }
    if (this.faults.extraRange !== undefined) {
      const r = this.faults.extraRange;
      yield { range: r, data: this.bytes.slice(r.start, r.end) };
    }
  }
}

/** Random edits: insertions, deletions, duplicated pieces, runs of zeros. */
export type Edit =
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'duplicate'; at: number; length: number; to: number }
  | { kind: 'zeros'; at: number; length: number };

export const arbEdit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 40 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.nat({ max: 40 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.nat({ max: 40 }), to: fc.nat() }),
  fc.record({ kind: fc.constant('zeros' as const), at: fc.nat(), length: fc.nat({ max: 64 }) }),
);

export function applyEdits(base: Uint8Array, edits: readonly Edit[]): Uint8Array {
  const data = Array.from(base);
  for (const e of edits) {
    const at = data.length === 0 ? 0 : e.at % (data.length + 1);
    if (e.kind === 'insert') data.splice(at, 0, ...e.bytes);
    else if (e.kind === 'delete') data.splice(at, e.length);
    else if (e.kind === 'zeros') data.splice(at, 0, ...new Array<number>(e.length).fill(0));
    else {
      const piece = data.slice(at, at + e.length);
      data.splice(data.length === 0 ? 0 : e.to % (data.length + 1), 0, ...piece);
    }
  }
  return new Uint8Array(data);
}

/** Throws unless the plan's operations cover `[0, length)` exactly once, in order. */
export function checkPlanCovers(plan: Plan, length: number): void {
  let next = 0;
  for (const op of plan.operations) {
    if (op.to !== next) throw new Error(`operation at ${op.to}, expected ${next}`);
    next += op.length;
  }
  if (next !== length || plan.reusedBytes + plan.fetchBytes + plan.duplicateBytes !== length) {
    throw new Error(`plan covers ${next} of ${length} bytes`);
  }
}

/** Deterministic pseudo-random bytes (xorshift32), with no short period. */
export function pseudoRandom(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x >>> 24;
  }
  return out;
}
