// Long differential fuzz of the patcher: random targets and seeds built from edits, block sizes
// 1 B – 64 KiB, every profile; the output must equal the target every time.
// Run: pnpm --filter @gosync/patcher fuzz   (GOSYNC_FUZZ_SECONDS, default 60)
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fc } from '@fast-check/vitest';
import { patch } from './patch.js';
import { TestSource, applyEdits, arbEdit, checkPlanCovers, indexOf } from './test-support.js';

const seconds = Number(process.env['GOSYNC_FUZZ_SECONDS'] ?? 60);
const dir = await mkdtemp(join(tmpdir(), 'gosync-fuzz-'));
const deadline = Date.now() + seconds * 1000;
let cases = 0;
try {
  while (Date.now() < deadline) {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.uint8Array({ maxLength: 3000 }).map((d) => d.map((x) => x & 3)), fc.uint8Array({ maxLength: 20_000 })),
        fc.array(arbEdit, { maxLength: 10 }),
        fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constantFrom(512, 2048, 4096, 65536)),
        fc.constantFrom('native', 'zsync', 'gosync'),
        async (base, edits, blockSize, profile) => {
          const target = applyEdits(base, edits);
          const index = await indexOf(target, { profile, blockSize });
          const output = join(dir, 'out');
          const result = await patch(index, { seeds: [base], output, source: new TestSource(target) });
          const out = await readFile(output);
          if (!out.equals(Buffer.from(target))) throw new Error('output differs from the target');
          checkPlanCovers(result.plan, target.length);
          cases++;
        },
      ),
      { numRuns: 200 },
    );
  }
  console.log(`patcher fuzz: ${cases} cases in ${seconds} s, no failure`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
