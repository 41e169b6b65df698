// Throughput of the content-defined chunker over pseudo-random data, fed in 1 MiB pushes.
// Run: cd packages/rollsum && npx tsx src/chunker.bench.ts   (GOSYNC_BENCH_MB sets the size, default 256)
import { Chunker } from './chunker.js';
import { randomBytes } from './test-random.js';

const MB = Number(process.env['GOSYNC_BENCH_MB'] ?? 256);
const PIECE = 1 << 20;
const AVG = 64 * 1024;


const data = randomBytes(MB * 2 ** 20, 0x9e3779b9);
const chunker = new Chunker({ avgSize: AVG });

function run(): number {
  chunker.reset();
  let chunks = 0;
  for (let off = 0; off < data.length; off += PIECE) {
    chunks += chunker.push(data.subarray(off, off + PIECE)).length;
  }
  if (chunker.finish() !== undefined) chunks++;
  return chunks;
}

run(); // warm-up
let bestMs = Infinity;
let chunks = 0;
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  chunks = run();
  bestMs = Math.min(bestMs, performance.now() - t0);
}
const mbps = data.length / 1e6 / (bestMs / 1000);
const meanKiB = data.length / chunks / 1024;
console.log(
  `chunker  avg=${AVG / 1024}KiB  ${mbps.toFixed(0)} MB/s  (${chunks} chunks, mean ${meanKiB.toFixed(1)} KiB)`,
);
