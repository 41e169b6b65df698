import { describe, expect, it } from 'vitest';
import { collectRanges, errorCode, errorMessage } from './outcomes.js';

const coded = (code: string): Error => Object.assign(new Error(`failed with ${code}`), { code });

describe('outcomes', () => {
  it('collects what a source yields, in order, and passes the signal on', async () => {
    const seen: (AbortSignal | undefined)[] = [];
    const source = {
      async *fetch(ranges: readonly number[], options?: { readonly signal?: AbortSignal }): AsyncIterable<string> {
        seen.push(options?.signal);
        for (const r of ranges) yield `#${r}`;
        await Promise.resolve();
      },
    };
    const signal = new AbortController().signal;
    expect(await collectRanges(source, [3, 1, 2], signal)).toEqual(['#3', '#1', '#2']);
    expect(await collectRanges(source, [])).toEqual([]);
    expect(seen).toEqual([signal, undefined]);
  });

  it('tells the code and message of a failure, from a promise or a function', async () => {
    expect(await errorCode(Promise.reject(coded('ERR_X')))).toBe('ERR_X');
    expect(await errorCode(() => { throw coded('ERR_Y'); })).toBe('ERR_Y');
    expect(await errorCode(Promise.resolve(1))).toBe('no error');
    expect(await errorCode(() => Promise.reject(new Error('plain')))).toBe('not a coded error: Error: plain');
    expect(await errorMessage(() => Promise.reject(coded('ERR_Z')))).toBe('failed with ERR_Z');
    expect(await errorMessage(() => 1)).toBe('no error');
  });
});
