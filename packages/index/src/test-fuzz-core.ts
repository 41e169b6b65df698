import { createHash } from 'node:crypto';
import { isGosyncError } from '@gosync/core';
import { BlockIndex } from './block-index.js';
import { decodeAnyIndex } from './detect.js';
import { decodeGosync, encodeGosync } from './gosync-format.js';
import { decodeIndex, encodeIndex } from './gsi.js';
import { decodeZsync, encodeZsync } from './zsync.js';

/** What a fuzz run found. */
export interface FuzzReport {
  cases: number;
  decoded: number;
  codes: Record<string, number>;
  failures: string[];
}

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function sample(strong: 'md4' | 'md5' | 'xxh128', count: number, blockSize: number, weakBytes: 2 | 3 | 4, strongBytes: number, pad: boolean, seed: number): BlockIndex {
  const r = rng(seed);
  const fileLength = count === 0 ? 0 : (count - 1) * blockSize + 1 + Math.floor(r() * blockSize);
  const mask = weakBytes === 4 ? 0xffffffff : weakBytes === 3 ? 0xffff00ff : 0xffff0000;
  return new BlockIndex({
    kind: 'blocks', fileLength, blockSize,
    weakSums: Uint32Array.from({ length: count }, () => ((r() * 2 ** 32) & mask) >>> 0),
    strongHashes: Uint8Array.from({ length: count * strongBytes }, () => Math.floor(r() * 256)),
    strongHash: strong, strongBytes, weakBytes, seqMatches: count > 1 ? 2 : 1, padLastBlock: pad,
    fileHashes: [{ algorithm: 'sha1', digest: new Uint8Array(20).fill(7) }],
    metadata: { filename: 'f.bin', mtime: 1_700_000_000, urls: ['f.bin', 'http://x/f.bin'] },
  });
}

function corpus(): { kind: 'native' | 'zsync' | 'gosync'; bytes: Uint8Array }[] {
  const chunks = new BlockIndex({
    kind: 'chunks', fileLength: 600, blockSize: 256, offsets: Float64Array.of(0, 100, 350, 351, 600),
    weakSums: Uint32Array.of(1, 2, 3, 4), strongHashes: new Uint8Array(16).fill(9), strongHash: 'xxh128',
    strongBytes: 4, weakBytes: 4, seqMatches: 1, padLastBlock: false,
    chunking: { minSize: 1, avgSize: 128, maxSize: 256, normalization: 2 },
  });
  return [
    { kind: 'native', bytes: encodeIndex(sample('xxh128', 5, 64, 3, 5, false, 1)) },
    { kind: 'native', bytes: encodeIndex(sample('md5', 0, 64, 4, 16, false, 2)) },
    { kind: 'native', bytes: encodeIndex(chunks) },
    { kind: 'zsync', bytes: encodeZsync(sample('md4', 6, 32, 2, 3, true, 3)) },
    { kind: 'zsync', bytes: encodeZsync(sample('md4', 3, 16, 4, 16, true, 4)) },
    { kind: 'gosync', bytes: encodeGosync(sample('md5', 4, 8, 4, 16, false, 5)) },
  ];
}

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x0a, 0x3a, 0x20, 0x30, 0x39, 0xc1, 0xdc, 0xdd, 0xcf, 0xd3];

function mutate(input: Uint8Array, r: () => number): Uint8Array {
  let b = input.slice();
  const rounds = 1 + Math.floor(r() * 4);
  for (let k = 0; k < rounds; k++) {
    const at = Math.floor(r() * Math.max(1, b.length));
    const op = Math.floor(r() * 7);
    if (op === 0 && b.length > 0) b[at] = (b[at] ?? 0) ^ (1 << Math.floor(r() * 8));
    else if (op === 1 && b.length > 0) b[at] = INTERESTING[Math.floor(r() * INTERESTING.length)] ?? 0;
    else if (op === 2) b = b.slice(0, at);
    else if (op === 3) {
      const extra = Uint8Array.from({ length: 1 + Math.floor(r() * 16) }, () => Math.floor(r() * 256));
      b = Uint8Array.from([...b.subarray(0, at), ...extra, ...b.subarray(at)]);
    } else if (op === 4) {
      const end = Math.min(b.length, at + 1 + Math.floor(r() * 32));
      b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(end)]);
    } else if (op === 5 && b.length > 4) {
      // Overwrite 4 bytes with a large little- or big-endian number (counts, lengths).
      const v = [0xff, 0xff, 0xff, 0x7f];
      for (let i = 0; i < 4 && at + i < b.length; i++) b[at + i] = v[r() < 0.5 ? i : 3 - i] ?? 0;
    } else if (op === 6) {
      // Digits in text headers.
      if (b.length > 0) b[at] = 0x30 + Math.floor(r() * 10);
    }
  }
  return b;
}

function reseal(b: Uint8Array): void {
  if (b.length < 20) return;
  const end = b.length - 8;
  b.set(createHash('sha256').update(b.subarray(0, end)).digest().subarray(0, 8), end);
}

/**
 * Mutates valid indexes of every format for `seconds` and decodes them, recording anything
 * other than a decoded index or an `ERR_INDEX_*` error, and any decoded index whose arrays are
 * out of proportion to its input.
 */
export function fuzzDecoders(seconds: number, seed: number): FuzzReport {
  const r = rng(seed);
  const inputs = corpus();
  const report: FuzzReport = { cases: 0, decoded: 0, codes: {}, failures: [] };
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline && report.failures.length < 10) {
    for (let batch = 0; batch < 50; batch++) {
      const source = inputs[Math.floor(r() * inputs.length)] ?? inputs[0];
      if (source === undefined) break;
      const bytes = mutate(source.bytes, r);
      if (source.kind === 'native' && r() < 0.7) reseal(bytes);
      const decoders = [
        () => decodeAnyIndex(bytes).index,
        source.kind === 'native' ? () => decodeIndex(bytes) : source.kind === 'zsync' ? () => decodeZsync(bytes) : () => decodeGosync(bytes),
      ];
      for (const decode of decoders) {
        report.cases++;
        try {
          const index = decode();
          report.decoded++;
          const held = index.weakSums.byteLength + index.strongHashes.byteLength + (index.offsets?.byteLength ?? 0);
          if (held > 8 * bytes.length + 64) {
            report.failures.push(`allocation ${held} bytes for a ${bytes.length}-byte input: ${Buffer.from(bytes).toString('base64')}`);
          }
        } catch (e) {
          if (isGosyncError(e) && e.code.startsWith('ERR_INDEX_')) {
            report.codes[e.code] = (report.codes[e.code] ?? 0) + 1;
          } else {
            report.failures.push(`${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} for ${Buffer.from(bytes).toString('base64')}`);
          }
        }
      }
    }
  }
  return report;
}
