// `pnpm demo`: the story so far, on a real file. Takes TypeScript's compiler (a ~9 MB file that
// is already in node_modules), makes a "new version" with a few edits that shift everything after
// them, and shows the rolling checksum finding the old bytes at their new offsets: only the edited
// blocks would have to be fetched. It grows into publish → serve → sync as the packages land.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { WeakScanner, WeakSumFilter, weakSum } from '@gosync/rollsum';

const BLOCK = 4096;
const require = createRequire(import.meta.url);
const path = require.resolve('typescript/lib/typescript.js');
const seed = new Uint8Array(readFileSync(path));

// The new version: three edits (an insertion, a deletion, a replacement) at fixed places.
function edit(old: Uint8Array): Uint8Array {
  const enc = new TextEncoder();
  const at = (f: number): number => Math.floor(old.length * f);
  return Buffer.concat([
    old.subarray(0, at(0.2)),
    enc.encode('/* inserted by the demo: a patch release changes a few lines */\n'),
    old.subarray(at(0.2), at(0.5)),
    old.subarray(at(0.5) + 1000, at(0.8)),
    enc.encode('// replaced'),
    old.subarray(at(0.8) + 11),
  ]);
}
const target = new Uint8Array(edit(seed));

// Publish: a weak sum and a strong hash per block of the new version.
const blocks = Math.ceil(target.length / BLOCK);
const strong = (bytes: Uint8Array): string => createHash('md5').update(bytes).digest('hex');
const bySum = new Map<number, number[]>();
const hashes: string[] = [];
for (let i = 0; i < blocks; i++) {
  const block = target.subarray(i * BLOCK, Math.min(target.length, (i + 1) * BLOCK));
  const sum = weakSum(block, BLOCK);
  bySum.set(sum, [...(bySum.get(sum) ?? []), i]);
  hashes.push(strong(block));
}
const filter = new WeakSumFilter(blocks);
for (const sum of bySum.keys()) filter.add(sum);

// Scan the old version: roll the weak sum over every offset, confirm hits with the strong hash,
// jump one block after a match.
const found = new Map<number, number>();
const t0 = performance.now();
const scanner = new WeakScanner({ windowSize: BLOCK, filter });
for (let off = 0; off < seed.length; off += 1 << 20) {
  scanner.update(seed.subarray(off, off + (1 << 20)), (offset, sum, buffer, index) => {
    const candidates = bySum.get(sum);
    if (candidates === undefined) return 0;
    const h = strong(buffer.subarray(index, index + BLOCK));
    const block = candidates.find((b) => hashes[b] === h && !found.has(b));
    if (block === undefined) return 0;
    found.set(block, offset);
    return BLOCK;
  });
}
// A short last block cannot fill a rolling window: look for it at the end of the old version.
const lastLength = target.length - (blocks - 1) * BLOCK;
if (lastLength < BLOCK && !found.has(blocks - 1) && seed.length >= lastLength) {
  const tail = seed.subarray(seed.length - lastLength);
  if (strong(tail) === hashes[blocks - 1]) found.set(blocks - 1, seed.length - lastLength);
}
const ms = performance.now() - t0;

const missing = [...Array(blocks).keys()].filter((b) => !found.has(b));
const shifted = [...found].filter(([b, off]) => off !== b * BLOCK).length;
const mb = (n: number): string => `${(n / 1e6).toFixed(2)} MB`;
console.log(`old version  ${path}  ${mb(seed.length)}`);
console.log(`new version  3 edits (insert 66 B, delete 1000 B, replace 11 B)  ${mb(target.length)}, ${blocks} blocks of ${BLOCK} B`);
console.log(`scan         ${mb(seed.length)} in ${ms.toFixed(0)} ms (${(seed.length / 1e3 / ms).toFixed(0)} MB/s)`);
console.log(`found        ${found.size} of ${blocks} blocks in the old version, ${shifted} of them at shifted offsets`);
console.log(`to fetch     ${missing.length} blocks = ${mb(missing.length * BLOCK)} (${((100 * missing.length) / blocks).toFixed(2)} % of the new version): blocks ${missing.join(', ')}`);
if (found.size + missing.length !== blocks || missing.length > 4) process.exit(1);
