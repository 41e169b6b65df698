// What a test most often asks of a block source or a failing call: everything it yields, or the
// stable `code` of what it throws. Structural types, so the kit needs no @gosync package.

/** A block source as far as {@link collectRanges} uses it. */
export interface FetchesRanges<R, T> {
  fetch(ranges: readonly R[], options?: { readonly signal?: AbortSignal }): AsyncIterable<T>;
}

/**
 * Everything `source.fetch(ranges)` yields, in the order it yields it.
 *
 * @param source - a block source
 * @param ranges - the ranges to fetch
 * @param signal - passed on to `fetch`
 * @returns the items
 */
export async function collectRanges<R, T>(source: FetchesRanges<R, T>, ranges: readonly R[], signal?: AbortSignal): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source.fetch(ranges, signal === undefined ? {} : { signal })) out.push(item);
  return out;
}

/**
 * The `code` of the error that `run` (a promise, or a function called and awaited) fails with:
 * `'no error'` when it does not fail, `not a coded error: …` for an error without a string code.
 *
 * @param run - what to await
 * @returns the code
 */
export async function errorCode(run: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof run === 'function' ? run() : run);
  } catch (e) {
    const code = (e as { code?: unknown } | null)?.code;
    return e instanceof Error && typeof code === 'string' ? code : `not a coded error: ${String(e)}`;
  }
  return 'no error';
}

/**
 * The message of the error that `run` fails with, `'no error'` when it does not fail.
 *
 * @param run - what to await
 * @returns the message
 */
export async function errorMessage(run: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof run === 'function' ? run() : run);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  return 'no error';
}
