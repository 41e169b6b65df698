import { BlockSourceError } from './errors.js';

/** A parsed `Content-Range: bytes start-last/total` value, with `end` exclusive. */
export interface ContentRange {
  /** First byte offset. */
  readonly start: number;
  /** Offset one past the last byte (`last + 1`). */
  readonly end: number;
  /** The complete length, or undefined for `/*`. */
  readonly total: number | undefined;
}

const CONTENT_RANGE = /^\s*bytes\s+(\d+)\s*-\s*(\d+)\s*\/\s*(\d+|\*)\s*$/i;
const UNSATISFIED = /^\s*bytes\s+\*\s*\/\s*(\d+)\s*$/i;

function toOffset(text: string): number | undefined {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Parses a `Content-Range` value (`bytes 0-99/1000`, `bytes 0-99/*`), tolerating case and
 * extra whitespace.
 *
 * @param value - the header value
 * @returns the range (end exclusive), or undefined when the value is not a satisfied byte range
 *   or is inconsistent (last < first, or end past the total)
 * @example
 * ```ts
 * parseContentRange('bytes 0-99/1000'); // { start: 0, end: 100, total: 1000 }
 * ```
 */
export function parseContentRange(value: string): ContentRange | undefined {
  const m = CONTENT_RANGE.exec(value);
  if (m === null) return undefined;
  const start = toOffset(m[1] ?? '');
  const last = toOffset(m[2] ?? '');
  const total = m[3] === '*' ? undefined : toOffset(m[3] ?? '');
  if (start === undefined || last === undefined || last < start) return undefined;
  if (m[3] !== '*' && (total === undefined || last >= total)) return undefined;
  return { start, end: last + 1, total };
}

/**
 * Parses the complete length of an unsatisfied `Content-Range: bytes *\/1000` (sent with 416).
 *
 * @param value - the header value
 * @returns the length, or undefined
 * @example
 * ```ts
 * parseUnsatisfiedRange('bytes *\/1000'); // 1000
 * ```
 */
export function parseUnsatisfiedRange(value: string): number | undefined {
  const m = UNSATISFIED.exec(value);
  return m === null ? undefined : toOffset(m[1] ?? '');
}

/**
 * Reads the boundary of a `multipart/byteranges` content type, quoted or not.
 *
 * @param contentType - the `Content-Type` header value
 * @returns the boundary, or undefined when the type is not `multipart/byteranges` with a boundary
 * @example
 * ```ts
 * parseMultipartBoundary('multipart/byteranges; boundary="a b"'); // 'a b'
 * ```
 */
export function parseMultipartBoundary(contentType: string): string | undefined {
  const [type, ...params] = contentType.split(';');
  if (type?.trim().toLowerCase() !== 'multipart/byteranges') return undefined;
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'boundary') continue;
    let value = param.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    }
    return value.length > 0 && value.length <= 200 ? value : undefined;
  }
  return undefined;
}

/** One event of {@link MultipartByterangesParser}: a part starts, or bytes of the current part. */
export type MultipartEvent =
  | { readonly type: 'part'; readonly range: ContentRange }
  | { readonly type: 'data'; readonly offset: number; readonly data: Uint8Array };

const LF = 0x0a;
const MAX_LINE = 8192;
const MAX_HEADER_LINES = 64;

type State = 'preamble' | 'headers' | 'body' | 'between' | 'done';

/**
 * A streaming parser of `multipart/byteranges` bodies (RFC 9110 §14.6). It never buffers a part:
 * part bytes are passed on as views of the input chunks; only one header line (≤ 8 KiB) is held.
 *
 * Tolerant of what servers send: CRLF or bare LF line ends, whitespace around delimiters and
 * headers, a preamble, parts in any order, a missing epilogue or closing delimiter. Each part's
 * length comes from its `Content-Range`, so boundary-like bytes inside data are harmless and a
 * short or shifted part is detected at the next delimiter.
 *
 * @example
 * ```ts
 * const parser = new MultipartByterangesParser('XYZ');
 * for (const event of parser.push(chunk)) console.log(event.type);
 * parser.end();
 * ```
 */
export class MultipartByterangesParser {
  readonly #delimiter: string;
  #state: State = 'preamble';
  #line: number[] = [];
  #headerLines = 0;
  #range: ContentRange | undefined;
  #offset = 0;
  #remaining = 0;
  #parts = 0;

  /**
   * @param boundary - the boundary from the `Content-Type` header (see {@link parseMultipartBoundary})
   */
  constructor(boundary: string) {
    this.#delimiter = `--${boundary}`;
  }

  /** The number of parts started so far. */
  get parts(): number {
    return this.#parts;
  }

  /**
   * Feeds the next chunk of the body.
   *
   * @param chunk - body bytes
   * @returns the events in this chunk, in order; `data` views alias `chunk`
   * @throws {@link BlockSourceError} `ERR_BLOCKSOURCE_PROTOCOL` for a malformed body
   */
  *push(chunk: Uint8Array): Generator<MultipartEvent> {
    let i = 0;
    while (i < chunk.length) {
      if (this.#state === 'done') return;
      if (this.#state === 'body') {
        const n = Math.min(this.#remaining, chunk.length - i);
        const data = chunk.subarray(i, i + n);
        const offset = this.#offset;
        i += n;
        this.#offset += n;
        this.#remaining -= n;
        if (this.#remaining === 0) this.#state = 'between';
        yield { type: 'data', offset, data };
        continue;
      }
      const lf = chunk.indexOf(LF, i);
      const stop = lf < 0 ? chunk.length : lf;
      if (this.#line.length + (stop - i) > MAX_LINE) {
        throw protocol(`a multipart line is longer than ${MAX_LINE} bytes`);
      }
      for (let k = i; k < stop; k++) this.#line.push(chunk[k] as number);
      if (lf < 0) return;
      i = lf + 1;
      const line = String.fromCharCode(...this.#line).trim();
      this.#line = [];
      const event = this.#onLine(line);
      if (event !== undefined) yield event;
    }
  }

  #onLine(line: string): MultipartEvent | undefined {
    switch (this.#state) {
      case 'preamble':
      case 'between':
        if (line === this.#delimiter) {
          this.#state = 'headers';
          this.#headerLines = 0;
          this.#range = undefined;
        } else if (line === `${this.#delimiter}--`) {
          this.#state = 'done';
        } else if (this.#state === 'between' && line !== '') {
          throw protocol(
            `expected the delimiter ${JSON.stringify(this.#delimiter)} after part ${this.#parts}, found ${JSON.stringify(line.slice(0, 80))} (the part was longer than its Content-Range)`,
          );
        }
        return undefined;
      case 'headers': {
        if (line === '') {
          const range = this.#range;
          if (range === undefined) throw protocol(`part ${this.#parts + 1} has no valid Content-Range`);
          this.#parts++;
          this.#offset = range.start;
          this.#remaining = range.end - range.start;
          this.#state = 'body';
          return { type: 'part', range };
        }
        if (++this.#headerLines > MAX_HEADER_LINES) throw protocol('too many part header lines');
        const colon = line.indexOf(':');
        if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === 'content-range') {
          const value = line.slice(colon + 1);
          const range = parseContentRange(value);
          if (range === undefined) {
            throw protocol(`part ${this.#parts + 1} has a bad Content-Range: ${JSON.stringify(value.trim())}`);
          }
          this.#range = range;
        }
        return undefined;
      }
      default:
        return undefined;
    }
  }

  /**
   * Declares the end of the body.
   *
   * @throws {@link BlockSourceError} `ERR_BLOCKSOURCE_PROTOCOL` when the body ended inside a
   *   part or its headers (a truncated body)
   */
  end(): void {
    if (this.#state === 'body') {
      throw protocol(
        `the multipart body ended ${this.#remaining} bytes before the end of part ${this.#parts} (bytes ${this.#range?.start ?? 0}-${(this.#range?.end ?? 1) - 1})`,
      );
    }
    if (this.#state === 'headers') throw protocol(`the multipart body ended inside the headers of part ${this.#parts + 1}`);
  }
}

function protocol(message: string): BlockSourceError {
  return new BlockSourceError('ERR_BLOCKSOURCE_PROTOCOL', message);
}
