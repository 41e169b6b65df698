/** The default low-speed limit of the HTTP sources, in bytes per second (see {@link LowSpeedMeter}). */
export const DEFAULT_LOW_SPEED_BYTES_PER_SECOND = 1024;

/** The default low-speed window of the HTTP sources, in seconds (see {@link LowSpeedMeter}). */
export const DEFAULT_LOW_SPEED_SECONDS = 30;

/** Options of {@link LowSpeedMeter}. */
export interface LowSpeedMeterOptions {
  /** The slowest average accepted, in bytes per second; 0 turns the check off. */
  readonly bytesPerSecond: number;
  /** The length of the sliding window, in seconds; 0 turns the check off. */
  readonly seconds: number;
  /**
   * Called once, when the body averaged less than `bytesPerSecond` over the last `seconds` of
   * waiting; typically destroys the body with an error that names the URL and the speed.
   *
   * @param measured - the average over that window, in bytes per second
   */
  readonly onSlow: (measured: number) => void;
}

interface Sample {
  /** Waiting time (ms) at the sample. */
  readonly t: number;
  /** Bytes received by then. */
  readonly b: number;
}

/**
 * Part of the window between two samples kept: samples closer than this are skipped, so at most
 * about this many are held whatever the speed. Skipping only ever makes the check later (by at
 * most this fraction of the window), never earlier.
 */
const SAMPLES_PER_WINDOW = 64;

/**
 * A low-speed check for a response body, as curl's `--speed-limit`/`--speed-time`: it calls
 * `onSlow` when the body averaged fewer than `bytesPerSecond` over a sliding window of `seconds`.
 *
 * Only time spent waiting for the server counts. {@link LowSpeedMeter.watch} stops the clock
 * while the consumer holds a chunk (a rate limiter's wait, a slow disk, a full queue), so a
 * client that reads slowly on purpose is never taken for a slow server; and it starts the clock
 * with the body, so time before the response headers (a request queue, the first-byte timeout's
 * business) is not counted either. A body shorter than one window is never judged. One timer
 * per body, armed only while waiting; memory is bounded.
 *
 * @example
 * ```ts
 * const res = await request(url, { signal });
 * const meter = new LowSpeedMeter({
 *   bytesPerSecond: 1024,
 *   seconds: 30,
 *   onSlow: (speed) => res.body.destroy(new Error(`${url}: ${speed.toFixed(0)} B/s over 30 s`)),
 * });
 * for await (const chunk of meter.watch(res.body)) await write(chunk);
 * ```
 */
export class LowSpeedMeter {
  readonly #limit: number;
  readonly #windowMs: number;
  /** Bytes a window must hold. */
  readonly #threshold: number;
  readonly #onSlow: (measured: number) => void;
  readonly #enabled: boolean;
  /** Waiting time (ms) of the stretches that ended. */
  #waited = 0;
  /** When the current stretch of waiting began (`performance.now()`), or undefined while paused. */
  #since: number | undefined;
  #bytes = 0;
  /**
   * Samples that could still start a slow window: ascending in time and bytes, each with more
   * than `bytes - threshold` bytes (older ones can never matter again, since bytes only grow).
   */
  #samples: Sample[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #done = false;
  #fired: number | undefined;

  /**
   * @param options - the limit, the window and what to do when the body is too slow
   * @throws RangeError when `bytesPerSecond` or `seconds` is negative or not a finite number
   */
  constructor(options: LowSpeedMeterOptions) {
    const { bytesPerSecond, seconds } = options;
    if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 0 || !Number.isFinite(seconds) || seconds < 0) {
      throw new RangeError(`LowSpeedMeter: bytesPerSecond and seconds must be finite numbers ≥ 0, got ${bytesPerSecond} and ${seconds}`);
    }
    this.#limit = bytesPerSecond;
    this.#windowMs = seconds * 1000;
    this.#threshold = bytesPerSecond * seconds;
    this.#onSlow = options.onSlow;
    this.#enabled = bytesPerSecond > 0 && seconds > 0;
  }

  /** Body bytes counted so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The measured speed in bytes per second when `onSlow` was called, else undefined. */
  get fired(): number | undefined {
    return this.#fired;
  }

  /**
   * The rule and, once it fired, the measured speed in words, for error messages: "the body
   * slowed to 12 B/s over the last 30 s of waiting (4096 bytes received), below the low-speed
   * limit of 1024 B/s".
   *
   * @returns the words
   */
  describe(): string {
    const limit = `the low-speed limit of ${this.#limit} B/s`;
    const measured = this.#fired;
    if (measured === undefined) return `${this.#bytes} bytes received, within ${limit}`;
    return `the body slowed to ${measured.toFixed(measured < 10 ? 1 : 0)} B/s over the last ${this.#windowMs / 1000} s of waiting (${this.#bytes} bytes received), below ${limit}`;
  }

  /**
   * Yields the chunks of `body`, with the clock running only while it waits for the next one.
   * Ending the loop early (or an error) stops the meter.
   *
   * @param body - the response body
   * @returns the same chunks
   */
  async *watch(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined> {
    try {
      this.resume();
      for await (const chunk of body) {
        this.pause(chunk.length);
        yield chunk;
        this.resume();
      }
    } finally {
      this.stop();
    }
  }

  /** The clock runs: waiting for the server. */
  resume(): void {
    if (!this.#enabled || this.#done || this.#since !== undefined) return;
    this.#since = performance.now();
    if (this.#samples.length === 0) this.#samples.push({ t: this.#waited, b: this.#bytes });
    this.#arm();
  }

  /**
   * `bytes` arrived and the clock stops: what follows is the consumer's time.
   *
   * @param bytes - bytes received since the last call
   */
  pause(bytes = 0): void {
    this.#bytes += bytes;
    if (!this.#enabled || this.#done) return;
    if (this.#since !== undefined) {
      this.#waited += performance.now() - this.#since;
      this.#since = undefined;
    }
    this.#disarm();
    const last = this.#samples[this.#samples.length - 1];
    if (last === undefined || this.#waited - last.t >= this.#windowMs / SAMPLES_PER_WINDOW) {
      this.#samples.push({ t: this.#waited, b: this.#bytes });
    }
    this.#prune();
  }

  /** Stops the meter for good (the body ended or was abandoned). */
  stop(): void {
    this.#done = true;
    this.#since = undefined;
    this.#disarm();
  }

  #prune(): void {
    let drop = 0;
    while (drop < this.#samples.length && (this.#samples[drop] as Sample).b <= this.#bytes - this.#threshold) drop++;
    if (drop > 0) this.#samples.splice(0, drop);
  }

  #now(): number {
    return this.#waited + (this.#since === undefined ? 0 : performance.now() - this.#since);
  }

  /**
   * Sets the timer for the moment the window would hold too few bytes if no more arrive: when
   * the first sample kept (one with more than `bytes - threshold` bytes) leaves the window. The
   * first sample of a body is taken at 0 ms of waiting, so no body is judged before one window.
   */
  #arm(): void {
    this.#disarm();
    if (this.#samples.length === 0) this.#samples.push({ t: this.#now(), b: this.#bytes });
    const first = this.#samples[0] as Sample;
    // The first whole millisecond after the sample leaves the window.
    const delay = Math.max(0, Math.floor(first.t + this.#windowMs - this.#now()) + 1);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#check();
    }, delay);
    this.#timer.unref();
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #check(): void {
    if (this.#done || this.#since === undefined) return;
    const now = this.#now();
    const start = now - this.#windowMs;
    // The newest sample before the window's start: the bytes received since then. (Bytes that
    // came exactly at the start count in the window, so a steady body at the limit passes.)
    let at: Sample | undefined;
    for (const s of this.#samples) {
      if (s.t < start) at = s;
      else break;
    }
    if (at === undefined) {
      this.#arm();
      return;
    }
    const measured = ((this.#bytes - at.b) * 1000) / (now - at.t);
    this.#fired = measured;
    this.stop();
    this.#onSlow(measured);
  }
}
