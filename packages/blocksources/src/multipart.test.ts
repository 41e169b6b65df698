import { fc, test as fcTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import {
  MultipartByterangesParser,
  parseContentRange,
  parseMultipartBoundary,
  parseUnsatisfiedRange,
} from './multipart.js';
import type { MultipartEvent } from './multipart.js';

const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

interface Part {
  readonly start: number;
  readonly data: Uint8Array;
}

/** Writes a multipart/byteranges body the way servers do, in one of several styles. */
function body(boundary: string, parts: readonly Part[], total: number, nl = '\r\n', preamble = ''): Uint8Array {
  const chunks: Uint8Array[] = [latin1(preamble)];
  for (const p of parts) {
    chunks.push(
      latin1(
        `${nl}--${boundary}${nl}Content-Type: application/octet-stream${nl}Content-Range: bytes ${p.start}-${p.start + p.data.length - 1}/${total}${nl}${nl}`,
      ),
      p.data,
    );
  }
  chunks.push(latin1(`${nl}--${boundary}--${nl}`));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Feeds `bytes` in pieces cut at `cuts` and collects each part's bytes by offset. */
function parse(boundary: string, bytes: Uint8Array, cuts: readonly number[] = []): Part[] {
  const parser = new MultipartByterangesParser(boundary);
  const parts: { start: number; bytes: number[] }[] = [];
  const points = [0, ...[...cuts].filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length];
  const onEvent = (e: MultipartEvent): void => {
    if (e.type === 'part') parts.push({ start: e.range.start, bytes: [] });
    else {
      const current = parts.at(-1);
      if (current === undefined) throw new Error('data before a part');
      expect(e.offset).toBe(current.start + current.bytes.length);
      current.bytes.push(...e.data);
    }
  };
  for (let i = 0; i + 1 < points.length; i++) {
    for (const e of parser.push(bytes.subarray(points[i], points[i + 1]))) onEvent(e);
  }
  parser.end();
  return parts.map((p) => ({ start: p.start, data: Uint8Array.from(p.bytes) }));
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('parseContentRange', () => {
  it.each([
    ['bytes 0-99/1000', { start: 0, end: 100, total: 1000 }],
    ['bytes 0-0/1', { start: 0, end: 1, total: 1 }],
    ['BYTES  5 - 9 / *', { start: 5, end: 10, total: undefined }],
    [' bytes 4294967296-4294967300/5000000000 ', { start: 4294967296, end: 4294967301, total: 5e9 }],
  ])('parses %j', (value, expected) => {
    expect(parseContentRange(value)).toEqual(expected);
  });

  it.each(['bytes 10-5/100', 'bytes 0-100/100', 'bytes */100', 'items 0-1/2', 'bytes 0-1', 'bytes a-b/c', 'bytes 0-99999999999999999999/1'])(
    'rejects %j',
    (value) => {
      expect(parseContentRange(value)).toBeUndefined();
    },
  );
});

describe('parseUnsatisfiedRange and parseMultipartBoundary', () => {
  it('reads the length of a 416 answer', () => {
    expect(parseUnsatisfiedRange('bytes */1000')).toBe(1000);
    expect(parseUnsatisfiedRange('bytes 0-1/1000')).toBeUndefined();
  });

  it('reads quoted and bare boundaries, and only of multipart/byteranges', () => {
    expect(parseMultipartBoundary('multipart/byteranges; boundary=00000000000000000001')).toBe('00000000000000000001');
    expect(parseMultipartBoundary('Multipart/ByteRanges;charset=x; Boundary="a b\\"c"')).toBe('a b"c');
    expect(parseMultipartBoundary('multipart/mixed; boundary=x')).toBeUndefined();
    expect(parseMultipartBoundary('multipart/byteranges')).toBeUndefined();
    expect(parseMultipartBoundary('multipart/byteranges; boundary=""')).toBeUndefined();
  });
});

describe('MultipartByterangesParser', () => {
  const a = latin1('hello, world');
  const b = latin1('\r\n--XYZ\r\n'); // a part whose data looks like a delimiter

  it('parses nginx-style bodies (CRLF, leading CRLF, closing delimiter)', () => {
    const bytes = body('XYZ', [{ start: 0, data: a }, { start: 100, data: b }], 200);
    expect(parse('XYZ', bytes)).toEqual([{ start: 0, data: a }, { start: 100, data: b }]);
  });

  it('parses bare-LF bodies, a preamble, parts in reverse order', () => {
    const bytes = body('b0', [{ start: 100, data: b }, { start: 0, data: a }], 200, '\n', 'This is a preamble.\n');
    expect(parse('b0', bytes)).toEqual([{ start: 100, data: b }, { start: 0, data: a }]);
  });

  it('accepts a body without the closing delimiter', () => {
    const full = body('XYZ', [{ start: 7, data: a }], 100);
    const cut = full.subarray(0, full.length - '\r\n--XYZ--\r\n'.length);
    expect(parse('XYZ', cut)).toEqual([{ start: 7, data: a }]);
  });

  it('fails on a body truncated inside a part', () => {
    const full = body('XYZ', [{ start: 0, data: a }], 100);
    const cut = full.subarray(0, full.length - '\r\n--XYZ--\r\n'.length - 3);
    expect(codeOf(() => parse('XYZ', cut))).toBe('ERR_BLOCKSOURCE_PROTOCOL');
  });

  it('fails on a part longer than its Content-Range', () => {
    const bytes = latin1('--XYZ\r\nContent-Range: bytes 0-1/10\r\n\r\nabcdef\r\n--XYZ--\r\n');
    expect(codeOf(() => parse('XYZ', bytes))).toBe('ERR_BLOCKSOURCE_PROTOCOL');
  });

  it('fails on a part without or with a bad Content-Range, and on endless lines', () => {
    expect(codeOf(() => parse('XYZ', latin1('--XYZ\r\nContent-Type: x\r\n\r\nab')))).toBe('ERR_BLOCKSOURCE_PROTOCOL');
    expect(codeOf(() => parse('XYZ', latin1('--XYZ\r\nContent-Range: bytes 5-1/10\r\n\r\n')))).toBe(
      'ERR_BLOCKSOURCE_PROTOCOL',
    );
    expect(codeOf(() => parse('XYZ', new Uint8Array(9000).fill(0x41)))).toBe('ERR_BLOCKSOURCE_PROTOCOL');
  });

  it('fails when the body ends inside part headers', () => {
    expect(codeOf(() => parse('XYZ', latin1('--XYZ\r\nContent-Range: bytes 0-1/10\r\n')))).toBe(
      'ERR_BLOCKSOURCE_PROTOCOL',
    );
  });

  fcTest.prop(
    [
      fc.array(fc.record({ start: fc.nat(1_000_000), data: fc.uint8Array({ minLength: 1, maxLength: 300 }) }), {
        minLength: 1,
        maxLength: 8,
      }),
      fc.constantFrom('\r\n', '\n'),
      fc.array(fc.nat(4000), { maxLength: 12 }),
      fc.stringMatching(/^[0-9A-Za-z'()+_,./:=?-]{1,40}$/),
    ],
    { numRuns: 300 },
  )('parses any body, split anywhere, like a naive whole-body parser', (parts, nl, cuts, boundary) => {
    const bytes = body(boundary, parts, 2_000_000, nl);
    expect(parse(boundary, bytes, cuts)).toEqual(naiveParse(boundary, bytes));
    expect(parse(boundary, bytes, cuts)).toEqual(parts);
  });
});

/** The model: find each part header, read Content-Range, take that many bytes. */
function naiveParse(boundary: string, bytes: Uint8Array): Part[] {
  const text = String.fromCharCode(...bytes);
  const out: Part[] = [];
  let at = 0;
  for (;;) {
    const d = text.indexOf(`--${boundary}`, at);
    if (d < 0 || text.startsWith(`--${boundary}--`, d)) return out;
    const headersEnd = /\r?\n\r?\n/.exec(text.slice(d));
    if (headersEnd === null) return out;
    const headers = text.slice(d, d + headersEnd.index);
    const m = /Content-Range: bytes (\d+)-(\d+)\/\d+/.exec(headers);
    if (m === null) throw new Error('no Content-Range');
    const start = Number(m[1]);
    const length = Number(m[2]) - start + 1;
    const dataStart = d + headersEnd.index + headersEnd[0].length;
    out.push({ start, data: bytes.slice(dataStart, dataStart + length) });
    at = dataStart + length;
  }
}
