/**
 * A half-open byte range `[start, end)` in a file or URL. Offsets are non-negative safe
 * integers (files over 4 GiB work); `end` is exclusive, so `end - start` is the length.
 */
export interface ByteRange {
  /** First byte offset, inclusive. */
  readonly start: number;
  /** Offset one past the last byte. */
  readonly end: number;
}

/** The bytes of one {@link ByteRange}; `data.length === range.end - range.start`. */
export interface RangeData {
  /** The range these bytes belong to. */
  readonly range: ByteRange;
  /** The bytes; the receiver may keep them, the source must not reuse the buffer. */
  readonly data: Uint8Array;
}

/** Options accepted by every asynchronous `@gosync` API. */
export interface AbortOptions {
  /** Aborts the operation; the abort reason is rethrown unchanged. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Where missing bytes come from: a file, memory, an HTTP server, a block store, an SSH peer.
 *
 * The patcher talks to every source through this interface and never learns which it is.
 */
export interface BlockSource {
  /**
   * Yields the bytes of every requested range, in any order, each at most once, and ends when
   * all were yielded. Ranges may be merged or split internally, but each yielded
   * {@link RangeData} is exactly one of the requested ranges.
   *
   * @param ranges - the ranges wanted (non-overlapping)
   * @param options - abort signal
   */
  fetch(ranges: readonly ByteRange[], options?: AbortOptions): AsyncIterable<RangeData>;
  /** Releases connections, file handles and other resources. */
  close?(): Promise<void>;
}

/**
 * Says whether bytes fetched for a range are what the index promises. Sources use it to re-fetch
 * bad data (from another mirror) without knowing any index format.
 */
export interface RangeVerifier {
  /**
   * @param range - the range that was requested
   * @param data - the bytes received for it
   * @returns true when the bytes are correct
   */
  verify(range: ByteRange, data: Uint8Array): boolean;
}

/** The phases of a sync, in order. */
export type ProgressPhase = 'index' | 'scan' | 'fetch' | 'write' | 'verify';

/** A progress report: `done` of `total` units (bytes unless the phase says otherwise). */
export interface ProgressEvent {
  /** Which phase is progressing. */
  readonly phase: ProgressPhase;
  /** Units done so far, `0 ≤ done ≤ total`. */
  readonly done: number;
  /** Units in the whole phase. */
  readonly total: number;
}

/** Receives {@link ProgressEvent}s; must not throw. */
export type ProgressListener = (event: ProgressEvent) => void;
