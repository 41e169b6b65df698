import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fc, test } from '@fast-check/vitest';
import type { BlockSource, ProgressEvent } from '@gosync/core';
import { BlockIndex } from '@gosync/index';
import { errorCode } from '@gosync/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patch, planPatch } from './patch.js';
import { TestSource, applyEdits, arbEdit, checkPlanCovers, indexOf, pseudoRandom, text } from './test-support.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gosync-patcher-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let counter = 0;
async function sync(
  target: Uint8Array,
  seeds: Uint8Array[],
  options: Parameters<typeof indexOf>[1] = {},
): Promise<{ out: Uint8Array; fetched: number; result: Awaited<ReturnType<typeof patch>> }> {
  const index = await indexOf(target, options);
  const output = join(dir, `out-${counter++}`);
  const source = new TestSource(target);
  const result = await patch(index, { seeds, output, source });
  const out = new Uint8Array(await readFile(output));
  return { out, fetched: source.fetchedBytes, result };
}

const gosync = { profile: 'gosync', hashLengths: 'full' } as const;

describe('go-sync reference cases (REFERENCE.md §1, block size 4)', () => {
  it('canonical scan: fetches only "quic", "ed over ", " dog"', async () => {
    const target = text('The quick brown fox jumped over the lazy dog');
    const seed = text('The qwik brown fox jumped 0v3r the lazy');
    const index = await indexOf(target, { ...gosync, blockSize: 4 });
    const plan = await planPatch(index, { seeds: [seed] });
    expect(plan.fetchRanges).toEqual([
      { start: 4, end: 8 },
      { start: 24, end: 32 },
      { start: 40, end: 44 },
    ]);
    expect(plan.fetchBytes).toBe(16);
    expect(plan.operations).toEqual([
      { kind: 'copy', seed: 0, from: 0, to: 0, length: 4 },
      { kind: 'fetch', to: 4, length: 4 },
      { kind: 'copy', seed: 0, from: 7, to: 8, length: 16 },
      { kind: 'fetch', to: 24, length: 8 },
      { kind: 'copy', seed: 0, from: 31, to: 32, length: 8 },
      { kind: 'fetch', to: 40, length: 4 },
    ]);
    const { out, fetched } = await sync(target, [seed], { ...gosync, blockSize: 4 });
    expect(Buffer.from(out).toString()).toBe('The quick brown fox jumped over the lazy dog');
    expect(fetched).toBe(16);
  });

  it.each([
    ['prepend "12"', '12abcdefghijklmnop', 0],
    ['insert "23" after abcdefgh', 'abcdefgh23ijklmnop', 0],
    ['append "23"', 'abcdefghijklmnop23', 0],
    ['change one byte of ijkl', 'abcdefghiXklmnop', 4],
  ])('reference abcdefghijklmnop, %s: fetches %#', async (_name, local, missing) => {
    const target = text('abcdefghijklmnop');
    const index = await indexOf(target, { ...gosync, blockSize: 4 });
    const plan = await planPatch(index, { seeds: [text(local)] });
    expect(plan.fetchBytes).toBe(missing);
    if (missing > 0) expect(plan.fetchRanges).toEqual([{ start: 8, end: 12 }]);
  });

  it('26-letter alphabet: 6 full blocks plus the short "yz" are found', async () => {
    const target = text('abcdefghijklmnopqrstuvwxyz');
    const index = await indexOf(target, { ...gosync, blockSize: 4 });
    const plan = await planPatch(index, { seeds: [target] });
    expect(plan.blocks).toEqual({ total: 7, found: 7 });
    expect(plan.reusedBytes).toBe(26);
  });

  it('reference abcdabcd vs local abcd: both blocks copy from offset 0', async () => {
    const target = text('abcdabcd');
    const index = await indexOf(target, { ...gosync, blockSize: 4 });
    const plan = await planPatch(index, { seeds: [text('abcd')] });
    expect(plan.operations).toEqual([
      { kind: 'copy', seed: 0, from: 0, to: 0, length: 4 },
      { kind: 'copy', seed: 0, from: 0, to: 4, length: 4 },
    ]);
  });

  it('bug 1 (ring-buffer wrap) gives the right output', async () => {
    const target = text('bacbabacacbcbababccaaaccbacbccc');
    const { out } = await sync(target, [text('bababacacbcababccaaaccbacbaccc')], { ...gosync, blockSize: 5 });
    expect(Buffer.from(out).toString()).toBe('bacbabacacbcbababccaaaccbacbccc');
  });

  it('bug 3: a short last block matched mid-file is copied at its own length', async () => {
    const target = text('abcdefghij'); // last block "ij" (2 bytes)
    const { out, fetched } = await sync(target, [text('abcdefghijklmnop')], { ...gosync, blockSize: 4 });
    expect(Buffer.from(out).toString()).toBe('abcdefghij');
    expect(out.length).toBe(10);
    expect(fetched).toBe(0);
  });

  it('bug 4: seed data past the target length is scanned', async () => {
    const target = text('WXYZ');
    const { fetched } = await sync(target, [text('0123456789abcdefWXYZ')], { ...gosync, blockSize: 4 });
    expect(fetched).toBe(0);
  });

  it('bug 5: an empty target and an empty seed work; outputs are truncated', async () => {
    const output = join(dir, 'empty-out');
    await writeFile(output, 'old and much longer content');
    const index = await indexOf(new Uint8Array(0), gosync);
    const result = await patch(index, { seeds: [new Uint8Array(0)], output });
    expect((await stat(output)).size).toBe(0);
    expect(result.plan.operations).toEqual([]);
    expect(existsSync(`${output}.gosync-part`)).toBe(false);
    const { out } = await sync(text('hello world'), [new Uint8Array(0)], { ...gosync, blockSize: 4 });
    expect(Buffer.from(out).toString()).toBe('hello world');
  });
});

describe('plan', () => {
  it('plans in linear time however many fetched blocks share a weak sum and a strong-hash prefix', async () => {
    // 3000 different blocks that all look alike to the lookup key, and a last block equal to the
    // first: the duplicate is still found, nothing else counts as one.
    const count = 3001;
    const strongBytes = 5;
    const strong = new Uint8Array(count * strongBytes);
    for (let b = 0; b < count; b++) {
      const v = b === count - 1 ? 0 : b;
      strong.set([1, 2, 3, v & 0xff, v >>> 8], b * strongBytes);
    }
    const index = new BlockIndex({
      kind: 'blocks',
      fileLength: count * 16,
      blockSize: 16,
      weakSums: new Uint32Array(count).fill(7),
      strongHashes: strong,
      strongHash: 'md5',
      strongBytes,
      weakBytes: 4,
      seqMatches: 1,
      padLastBlock: false,
    });
    const plan = await planPatch(index, { seeds: [] });
    expect(plan.duplicateBytes).toBe(16);
    expect(plan.fetchBytes).toBe((count - 1) * 16);
    expect(plan.operations.at(-1)).toEqual({ kind: 'duplicate', from: 0, to: (count - 1) * 16, length: 16 });
    checkPlanCovers(plan, index.fileLength);
  });

  it('fetches a block that occurs several times once, and duplicates it', async () => {
    const target = text('WXYZ1234WXYZ5678WXYZ');
    const index = await indexOf(target, { ...gosync, blockSize: 4 });
    const plan = await planPatch(index, { seeds: [text('12345678')] });
    expect(plan.fetchRanges).toEqual([{ start: 0, end: 4 }]);
    expect(plan.duplicateBytes).toBe(8);
    const { out, fetched } = await sync(target, [text('12345678')], { ...gosync, blockSize: 4 });
    expect(Buffer.from(out).toString()).toBe('WXYZ1234WXYZ5678WXYZ');
    expect(fetched).toBe(4);
  });

  it('uses several seeds, preferring the first', async () => {
    const target = text('aaaabbbbccccdddd');
    const index = await indexOf(target, { ...gosync, blockSize: 4 });
    const plan = await planPatch(index, { seeds: [text('xxbbbbxx'), text('aaaabbbbdddd')] });
    expect(plan.fetchBytes).toBe(4);
    expect(plan.operations[1]).toEqual({ kind: 'copy', seed: 0, from: 2, to: 4, length: 4 });
  });

  it('does not jump over a needed block to match a block it already found', async () => {
    // Target blocks "CDEF" and "GHIJ" start inside the seed's second "ABCD"; "ABCDWXYZ" comes
    // first on its own, so at "ABCDEFGHIJ" the scan must not take the known "ABCD" and jump past
    // "CDEF" (with two-block matching, "CDEF" is confirmed by "GHIJ" right behind it).
    const target = text('ABCDWXYZCDEFGHIJ');
    const seed = text('ABCDWXYZ..ABCDEFGHIJ');
    for (const options of [{ ...gosync, blockSize: 4 }, { profile: 'zsync', blockSize: 4 } as const]) {
      const plan = await planPatch(await indexOf(target, options), { seeds: [seed] });
      expect(plan.fetchBytes).toBe(0);
    }
    const { out, fetched } = await sync(target, [seed], { ...gosync, blockSize: 4 });
    expect(Buffer.from(out).toString()).toBe('ABCDWXYZCDEFGHIJ');
    expect(fetched).toBe(0);
  });

  it("finds zsync's zero-padded short last block where the seed has it followed by zeros", async () => {
    const zsync = { profile: 'zsync', blockSize: 512 } as const;
    for (const length of [300, 700]) {
      const target = pseudoRandom(length, length);
      const seed = new Uint8Array(length + 512);
      seed.set(target);
      const plan = await planPatch(await indexOf(target, zsync), { seeds: [seed] });
      expect(plan.fetchBytes).toBe(0);
      const { out, fetched } = await sync(target, [seed], zsync);
      expect(Buffer.from(out).equals(Buffer.from(target))).toBe(true);
      expect(fetched).toBe(0);
    }
  });

  it('gets through long runs of zeros (a disk image) without matching them block by block', async () => {
    // 64 MiB of zeros with a change in the middle: 16 384 identical blocks. Matched anew at
    // every offset, this took minutes; it must take well under the test's time limit.
    const target = new Uint8Array(64 << 20);
    target.set(pseudoRandom(100, 5), 30 << 20);
    const seed = new Uint8Array(64 << 20);
    for (const options of [{ blockSize: 4096 }, { profile: 'zsync', blockSize: 4096 } as const]) {
      const plan = await planPatch(await indexOf(target, options), { seeds: [seed], workers: 1 });
      expect(plan.fetchBytes).toBeLessThanOrEqual(2 * 4096);
      expect(plan.reusedBytes + plan.duplicateBytes + plan.fetchBytes).toBe(target.length);
    }
  }, 60_000);

  it('splits fetches at maxFetchRange', async () => {
    const target = new Uint8Array(64).map((_, i) => i);
    const index = await indexOf(target, { ...gosync, blockSize: 4 });
    const plan = await planPatch(index, { seeds: [], maxFetchRange: 16 });
    expect(plan.fetchRanges.map((r) => r.end - r.start)).toEqual([16, 16, 16, 16]);
  });
});

describe('profiles and index kinds', () => {
  const base = pseudoRandom(300_000, 1);
  const edited = new Uint8Array([...base.subarray(0, 100_000), ...text('inserted!'), ...base.subarray(100_000, 299_990)]);

  it.each([
    ['native (xxh128, truncated sums, two-block matching)', { profile: 'native', blockSize: 2048 }],
    ['zsync (md4, padded last block, truncated sums)', { profile: 'zsync', blockSize: 2048 }],
    ['gosync (md5, full sums, no file hash)', { profile: 'gosync', blockSize: 2048 }],
    ['chunks (content-defined)', { kind: 'chunks', chunking: { minSize: 1024, avgSize: 4096, maxSize: 16384 } }],
  ] as const)('%s: rebuilds byte-exact and reuses the seed', async (_name, options) => {
    const { out, fetched } = await sync(edited, [base], options);
    expect(Buffer.from(out).equals(Buffer.from(edited))).toBe(true);
    expect(fetched).toBeLessThan(edited.length * 0.1);
  });
});

describe('failures keep everything intact', () => {
  const target = pseudoRandom(10_000, 2);
  const seedBytes = target.slice(0, 6000);

  async function setup(name: string): Promise<{ output: string; seedPath: string }> {
    const output = join(dir, `${name}.out`);
    const seedPath = join(dir, `${name}.seed`);
    await writeFile(seedPath, seedBytes);
    await writeFile(output, 'previous output');
    return { output, seedPath };
  }


  it.each([
    ['a corrupt fetched block', { corruptRange: 0 }, 'ERR_PATCHER_BLOCK_MISMATCH'],
    ['a missing range', { omitRange: 0 }, 'ERR_PATCHER_MISSING_RANGE'],
    ['a range not asked for', { extraRange: { start: 0, end: 4 } }, 'ERR_PATCHER_UNEXPECTED_RANGE'],
  ] as const)('%s → %s', async (name, faults, code) => {
    const { output, seedPath } = await setup(name.replaceAll(' ', '-'));
    const index = await indexOf(target, { blockSize: 512 });
    const source = new TestSource(target, faults);
    expect(await errorCode(patch(index, { seeds: [seedPath], output, source }))).toBe(code);
    expect(await readFile(output, 'utf8')).toBe('previous output');
    expect(Buffer.from(await readFile(seedPath)).equals(Buffer.from(seedBytes))).toBe(true);
  });

  it('a source trusted to verify that yields bad bytes still fails, on the file hash', async () => {
    const { output, seedPath } = await setup('trusted-liar');
    const index = await indexOf(target, { blockSize: 512 });
    const source = new TestSource(target, { corruptRange: 0 });
    expect(await errorCode(patch(index, { seeds: [seedPath], output, source, sourceVerifies: true }))).toBe('ERR_PATCHER_VERIFY_FAILED');
    expect(await readFile(output, 'utf8')).toBe('previous output');
  });

  it('no block source while blocks are missing → ERR_PATCHER_NO_SOURCE, and names the bytes', async () => {
    const { output, seedPath } = await setup('nosource');
    const index = await indexOf(target, { blockSize: 512 });
    await expect(patch(index, { seeds: [seedPath], output })).rejects.toThrow(/4368 bytes in 1 ranges/);
  });

  it('an output in a missing directory → ERR_PATCHER_IO naming it, before any scan', async () => {
    const { seedPath } = await setup('nodir');
    const index = await indexOf(target, { blockSize: 512 });
    const output = join(dir, 'no-such-directory', 'out');
    const phases: string[] = [];
    const run = patch(index, { seeds: [seedPath], output, source: new TestSource(target), onProgress: (e) => phases.push(e.phase) });
    await expect(run).rejects.toThrow(`its directory ${join(dir, 'no-such-directory')} is missing or not writable`);
    expect(await errorCode(run)).toBe('ERR_PATCHER_IO');
    expect(phases).toEqual([]);
    // An output named as a directory (a trailing slash): its part file would go inside it.
    await expect(patch(index, { seeds: [seedPath], output: `${join(dir, 'no-such-directory')}/`, source: new TestSource(target) })).rejects.toThrow(
      `its directory ${join(dir, 'no-such-directory')} is missing`,
    );
  });

  it('an unreadable seed → ERR_PATCHER_SEED naming it', async () => {
    const index = await indexOf(target, { blockSize: 512 });
    const missing = join(dir, 'does-not-exist');
    await expect(planPatch(index, { seeds: [missing] })).rejects.toThrow(missing);
    expect(await errorCode(planPatch(index, { seeds: [missing] }))).toBe('ERR_PATCHER_SEED');
  });

  it('an abort rethrows the reason unchanged', async () => {
    const { output, seedPath } = await setup('abort');
    const index = await indexOf(target, { blockSize: 512 });
    const controller = new AbortController();
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(patch(index, { seeds: [seedPath], output, source: new TestSource(target), signal: controller.signal })).rejects.toBe(reason);
  });

  it('an interrupted run resumes from its part file and fetches only the rest', async () => {
    const { output, seedPath } = await setup('resume');
    const index = await indexOf(target, { blockSize: 512 });
    const first = new TestSource(target, { failAfter: 3 });
    await expect(patch(index, { seeds: [seedPath], output, source: first, maxFetchRange: 512 })).rejects.toThrow(/connection reset/);
    expect(existsSync(`${output}.gosync-part`)).toBe(true);
    expect(await readFile(output, 'utf8')).toBe('previous output');
    const second = new TestSource(target);
    const result = await patch(index, { seeds: [seedPath], output, source: second, maxFetchRange: 512 });
    expect(result.resumed).toBe(true);
    expect(second.fetchedBytes).toBe(4368 - 3 * 512);
    expect(Buffer.from(await readFile(output)).equals(Buffer.from(target))).toBe(true);
    expect(existsSync(`${output}.gosync-part`)).toBe(false);
    expect(existsSync(`${output}.gosync-resume`)).toBe(false);
  });

  it('a resumed run that fails after copying leaves one part file that holds what both had', async () => {
    const { output, seedPath } = await setup('resume-twice');
    const index = await indexOf(target, { blockSize: 512 });
    await expect(patch(index, { seeds: [seedPath], output, source: new TestSource(target, { failAfter: 3 }), maxFetchRange: 512 })).rejects.toThrow(/connection reset/);
    // The second run fails after one more range, once its copying is done.
    let copied: () => void = () => undefined;
    const copying = new Promise<void>((resolve) => (copied = resolve));
    const late: BlockSource = {
      async *fetch(ranges, options) {
        await copying;
        yield* new TestSource(target, { failAfter: 1 }).fetch(ranges, options);
      },
    };
    const onProgress = (e: ProgressEvent): void => {
      if (e.phase === 'write' && e.done === e.total) copied();
    };
    await expect(patch(index, { seeds: [seedPath], output, source: late, maxFetchRange: 512, onProgress })).rejects.toThrow(/connection reset/);
    expect(existsSync(`${output}.gosync-resume`)).toBe(false);
    expect(existsSync(`${output}.gosync-part`)).toBe(true);
    // The third run finds the 4 ranges of the first two in the part file.
    const third = new TestSource(target);
    expect((await patch(index, { seeds: [seedPath], output, source: third, maxFetchRange: 512 })).resumed).toBe(true);
    expect(third.fetchedBytes).toBe(4368 - 4 * 512);
    expect(Buffer.from(await readFile(output)).equals(Buffer.from(target))).toBe(true);
  });

  it('a part file left beside a resume file (a run stopped before it had copied from it) is dropped, the resume file used', async () => {
    const { output, seedPath } = await setup('resume-and-part');
    const index = await indexOf(target, { blockSize: 512 });
    await writeFile(`${output}.gosync-resume`, target);
    await writeFile(`${output}.gosync-part`, new Uint8Array(target.length));
    const source = new TestSource(target);
    const result = await patch(index, { seeds: [seedPath], output, source });
    expect(result.resumed).toBe(true);
    expect(source.fetchedBytes).toBe(0);
    expect(Buffer.from(await readFile(output)).equals(Buffer.from(target))).toBe(true);
    expect(existsSync(`${output}.gosync-part`)).toBe(false);
    expect(existsSync(`${output}.gosync-resume`)).toBe(false);
  });

  it('in-place: the output may be the seed', async () => {
    const { seedPath } = await setup('inplace');
    const index = await indexOf(target, { blockSize: 512 });
    await patch(index, { seeds: [seedPath], output: seedPath, source: new TestSource(target) });
    expect(Buffer.from(await readFile(seedPath)).equals(Buffer.from(target))).toBe(true);
  });
});

describe('differential fuzz against the target', () => {
  test.prop(
    [
      fc.uint8Array({ maxLength: 600 }).map((d) => d.map((x) => x & 7)),
      fc.array(arbEdit, { maxLength: 6 }),
      fc.integer({ min: 1, max: 64 }),
      fc.constantFrom('native', 'zsync', 'gosync'),
    ],
    { numRuns: 60 },
  )('the output always equals the target, and the seed in memory is left as it was', async (base, edits, blockSize, profile) => {
    const target = applyEdits(base, edits);
    const before = base.slice();
    const { out, result } = await sync(target, [base], { profile, blockSize });
    expect(Buffer.from(base).equals(Buffer.from(before))).toBe(true);
    expect(Buffer.from(out).equals(Buffer.from(target))).toBe(true);
    checkPlanCovers(result.plan, target.length);
    if (edits.length === 0) expect(result.plan.fetchBytes).toBe(0);
    // 0.3–0.4 s on an idle machine; CI runs every package's tests at once on two cores.
  }, 60_000);

  test.prop(
    [
      fc.integer({ min: 0, max: 200_000 }),
      fc.array(arbEdit, { maxLength: 8 }),
      fc.constantFrom(512, 1024, 4096, 16384, 65536),
      fc.constantFrom('native', 'zsync', 'gosync'),
    ],
    { numRuns: 12 },
  )('large blocks (512 B – 64 KiB) on up to 200 kB', async (length, edits, blockSize, profile) => {
    const base = pseudoRandom(length, length + 1);
    const target = applyEdits(base, edits);
    const { out, result } = await sync(target, [base], { profile, blockSize });
    expect(Buffer.from(out).equals(Buffer.from(target))).toBe(true);
    checkPlanCovers(result.plan, target.length);
  }, 60_000);
});

describe('parallel scan', () => {
  it('finds a block that overlaps the second copy of a block an earlier section found', async () => {
    // One thread knows block A from its first copy, so at A's second copy it rolls on and finds
    // Y, which starts 1000 bytes into it. The second section's thread did not see the first
    // copy: it matches A there and jumps over Y, unless the merge looks again.
    const w = 4096;
    const a = pseudoRandom(w, 11);
    const b = pseudoRandom(w, 12);
    const y = new Uint8Array([...a.subarray(1000), ...b.subarray(0, 1000)]);
    const target = new Uint8Array([...a, ...y]);
    const seed = new Uint8Array([...pseudoRandom(10_000, 13), ...a, ...pseudoRandom(200_000, 14), ...a, ...b, ...pseudoRandom(200_000, 15)]);
    const seedPath = join(dir, 'overlap.seed');
    await writeFile(seedPath, seed);
    const index = await indexOf(target, { ...gosync, blockSize: w });
    for (const workers of [1, 2]) {
      const plan = await planPatch(index, { seeds: [seedPath], workers });
      expect(plan.fetchBytes, `${workers} thread(s)`).toBe(0);
    }
  });

  it('finds a hundred identical blocks at once, with two-block matching too, whatever comes before them', async () => {
    // More identical blocks than the scan lists one by one at a hit (it marks them in an array).
    const w = 64;
    const zeros = new Uint8Array(100 * w);
    const target = Buffer.concat([pseudoRandom(w, 61), zeros, pseudoRandom(w, 62), zeros.subarray(0, 50 * w), pseudoRandom(w, 63)]);
    for (const options of [{ blockSize: w }, { profile: 'zsync', blockSize: w } as const, { ...gosync, blockSize: w }]) {
      const index = await indexOf(target, options);
      for (const seed of [target, Buffer.concat([text('shifted by some bytes'), target])]) {
        const plan = await planPatch(index, { seeds: [seed] });
        expect(plan.fetchBytes, `${JSON.stringify(options)}, seed of ${seed.length}`).toBe(0);
        const { out } = await sync(target, [seed], options);
        expect(Buffer.from(out).equals(target)).toBe(true);
      }
    }
  });

  it('finds the overlapping blocks when the windows to look at again are many and shared among threads', async () => {
    // As above, 600 times: more than 2 MiB of windows to look at again, dealt to two threads.
    const w = 4096;
    const pairs = Array.from({ length: 600 }, (_, i) => ({ a: pseudoRandom(w, 1000 + i), b: pseudoRandom(w, 5000 + i) }));
    const target = Buffer.concat(pairs.flatMap(({ a, b }) => [a, Buffer.concat([a.subarray(1000), b.subarray(0, 1000)])]));
    const seed = Buffer.concat([
      pseudoRandom(10_000, 21),
      ...pairs.map(({ a }) => a),
      pseudoRandom(3_000_000, 22),
      ...pairs.flatMap(({ a, b }) => [a, b]),
      pseudoRandom(100_000, 23),
    ]);
    const seedPath = join(dir, 'overlaps.seed');
    await writeFile(seedPath, seed);
    const index = await indexOf(target, { ...gosync, blockSize: w });
    for (const workers of [1, 2, 3]) {
      const plan = await planPatch(index, { seeds: [seedPath], workers });
      expect(plan.fetchBytes, `${workers} thread(s)`).toBe(0);
      // Whichever thread claims which share of the windows, the plan is the same.
      if (workers > 1) for (let again = 0; again < 3; again++) expect(await planPatch(index, { seeds: [seedPath], workers })).toEqual(plan);
    }
  }, 60_000);

  it('leaves a seed in memory as it was, over several read pieces, with truncated .zsync sums', async () => {
    // Larger than the 2 MiB pieces: the pair scan carries bytes from one piece to the next.
    const base = pseudoRandom(5_000_000, 31);
    const target = applyEdits(base, [{ kind: 'insert', at: 2_500_000, bytes: text('new') }]);
    const before = base.slice();
    const plan = await planPatch(await indexOf(target, { profile: 'zsync', blockSize: 4096 }), { seeds: [base] });
    expect(Buffer.from(base).equals(Buffer.from(before))).toBe(true);
    expect(plan.fetchBytes).toBeLessThanOrEqual(3 * 4096);
  }, 30_000);

  it('gives the same output with 1, 2 and 3 worker threads, and finds what one thread finds', async () => {
    // Larger than the 4 MiB read pieces, so matches also run across piece boundaries.
    const base = pseudoRandom(9_000_000, 3);
    const target = applyEdits(base, [
      { kind: 'insert', at: 700_000, bytes: text('a new line') },
      { kind: 'delete', at: 1_500_000, length: 3000 },
      { kind: 'duplicate', at: 100_000, length: 20_000, to: 8_900_000 },
    ]);
    const seedPath = join(dir, 'parallel.seed');
    await writeFile(seedPath, base);
    const plans = [];
    for (const workers of [1, 2, 3]) {
      const index = await indexOf(target, { blockSize: 4096 });
      const output = join(dir, `parallel-${workers}.out`);
      const result = await patch(index, { seeds: [seedPath], output, source: new TestSource(target), workers });
      expect(Buffer.from(await readFile(output)).equals(Buffer.from(target))).toBe(true);
      plans.push(result.plan);
    }
    // Section boundaries can only cost a block or two.
    for (const plan of plans) expect(plan.fetchBytes).toBeLessThanOrEqual(plans[0]!.fetchBytes + 2 * 2 * 4096);
    const again = await planPatch(await indexOf(target, { blockSize: 4096 }), { seeds: [seedPath], workers: 2 });
    expect(again).toEqual(plans[1]);
    // A seed equal to the target is found whole whatever the number of threads.
    const targetPath = join(dir, 'parallel.target');
    await writeFile(targetPath, target);
    for (const workers of [2, 3]) {
      const same = await planPatch(await indexOf(target, { blockSize: 4096 }), { seeds: [targetPath], workers });
      expect(same.fetchBytes).toBe(0);
    }
  }, 60_000);

  it('reports scan progress up to the seed size and no further, although sections overlap', async () => {
    const base = pseudoRandom(1_000_000, 5);
    const seedPath = join(dir, 'progress.seed');
    await writeFile(seedPath, base);
    const index = await indexOf(base.subarray(0, 600_000), { blockSize: 1024 });
    for (const workers of [1, 3]) {
      const seen: { done: number; total: number }[] = [];
      await planPatch(index, { seeds: [seedPath], workers, onProgress: (e) => { if (e.phase === 'scan') seen.push({ done: e.done, total: e.total }); } });
      expect(seen.length, `${workers} thread(s)`).toBeGreaterThan(0);
      for (const e of seen) expect(e.done).toBeLessThanOrEqual(e.total);
      expect(seen.at(-1)).toEqual({ done: base.length, total: base.length });
    }
  });

  it('rejects a bad worker count', async () => {
    const index = await indexOf(text('abc'));
    await expect(planPatch(index, { seeds: [], workers: 0 })).rejects.toThrow(/workers/);
  });
});
