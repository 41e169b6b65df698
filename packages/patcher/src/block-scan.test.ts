import { describe, expect, it } from 'vitest';
import { PreviousBlocks } from './block-scan.js';

describe('PreviousBlocks', () => {
  it('answers for the blocks of the last hit only, listed or marked', () => {
    const previous = new PreviousBlocks();
    expect(previous.has(0)).toBe(false);
    previous.set([3, 9], 1000);
    expect([2, 3, 9, 10].map((b) => previous.has(b))).toEqual([false, true, true, false]);
    // Past 32 blocks: marked in an array.
    const many = Array.from({ length: 200 }, (_, i) => 2 * i + 1);
    previous.set(many, 1000);
    for (let b = -1; b < 1000; b++) expect(previous.has(b), `block ${b}`).toBe(b > 0 && b < 400 && b % 2 === 1);
    // Another hit: the marks of the one before no longer count, listed or marked.
    previous.set([4], 1000);
    expect([1, 3, 4, 399].map((b) => previous.has(b))).toEqual([false, false, true, false]);
    const others = Array.from({ length: 40 }, (_, i) => 500 + i);
    previous.set(others, 1000);
    expect([1, 4, 500, 539, 540].map((b) => previous.has(b))).toEqual([false, false, true, true, false]);
    previous.set([], 1000);
    expect(previous.has(500)).toBe(false);
  });
});
