// Throughput of the weak sum at every offset and of the prefiltered rolling scan.
// Run: pnpm --filter @gosync/rollsum bench   (GOSYNC_BENCH_MB sets the input size, default 256)
import { rollingSums } from './rollsum32.js';
import { WeakScanner } from './weak-scanner.js';
import { WeakSumFilter } from './weak-sum-filter.js';

const MB = Number(process.env['GOSYNC_BENCH_MB'] ?? 256);
const PIECE = 1 << 20;
const WINDOW = 2048;

function randomBytes(length: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, length);
}

function best(label: string, bytes: number, run: () => number): void {
  run(); // warm-up
  let bestMs = Infinity;
  let result = 0;
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    result = run();
    bestMs = Math.min(bestMs, performance.now() - t0);
  }
  const mbps = bytes / 1e6 / (bestMs / 1000);
  console.log(`${label.padEnd(44)} ${mbps.toFixed(0).padStart(6)} MB/s   (${(bytes / 2 ** 20).toFixed(0)} MiB, best of 7, check ${result})`);
}

const data = randomBytes(MB * 2 ** 20, 0x9e3779b9);

const sums = new Uint32Array(PIECE);
best(`rollingSums  window=${WINDOW}`, data.length, () => {
  let acc = 0;
  for (let off = 0; off + PIECE <= data.length; off += PIECE) {
    const piece = data.subarray(off, Math.min(data.length, off + PIECE + WINDOW - 1));
    const out = rollingSums(piece, WINDOW, sums);
    acc ^= out[out.length - 1] ?? 0;
  }
  return acc >>> 0;
});

const prefilter = WeakSumFilter.from(randomBytes(4 * 100_000, 7).length ? new Uint32Array(randomBytes(4 * 100_000, 7).buffer) : []);
best(`WeakScanner  window=${WINDOW} prefilter=100000 sums`, data.length, () => {
  const scanner = new WeakScanner({ windowSize: WINDOW, filter: prefilter });
  let hits = 0;
  const onHit = (): undefined => {
    hits++;
    return undefined;
  };
  for (let off = 0; off < data.length; off += PIECE) scanner.update(data.subarray(off, off + PIECE), onHit);
  return hits;
});
