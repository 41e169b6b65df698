import { open } from 'node:fs/promises';
import type { Worker } from 'node:worker_threads';
import { throwIfAborted, type AbortOptions, type BlockSource, type ByteRange, type ProgressListener } from '@gosync/core';
import { WeakSumTable, type BlockIndex } from '@gosync/index';
import { BlockCheck } from './block-check.js';
import { PatcherError } from './errors.js';
import { Matches } from './matches.js';
import { checkOutputDirectory, OutputFile, removeFile, takeResumeFile } from './output-file.js';
import { CopyPipe } from './copy-pipe.js';
import { createOutputHasher, type OutputHasher } from './output-hasher.js';
import { makePlan, type Plan } from './plan.js';
import { prepareThreads, scanInParallel } from './parallel-scan.js';
import { scanThreads, workerCount } from './scan-threads.js';
import { PairScanMemory } from './pair-scan-memory.js';
import { ScanPrefilter } from './prefilter.js';
import { scanBlocks, scanChunks, type ScanContext } from './scan.js';
import { scanSection } from './section-scan.js';
import { SeedReader, type SeedInput } from './seed-reader.js';
import { WriteQueue } from './write-queue.js';
import { WrittenFrontier } from './written-frontier.js';

const COPY_BUFFER = 4 << 20;
const DEFAULT_MAX_FETCH_RANGE = 1 << 20;
/** Fetched ranges being written at once (each at most maxFetchRange bytes, held until written). */
const FETCH_WRITES = 4;

/** Options of {@link planPatch}. */
export interface PlanOptions extends AbortOptions {
  /** Local files (or bytes) whose contents may be reused, in order of preference. */
  readonly seeds: readonly SeedInput[];
  /** Receives `scan` progress in seed bytes. */
  readonly onProgress?: ProgressListener | undefined;
  /**
   * Largest single fetch range in bytes (adjacent missing blocks merge up to this). Default 1 MiB:
   * a source buffers each range whole before it hands it over, and up to four received ranges are
   * held while they are written, so this bounds memory per request in flight and per write.
   */
  readonly maxFetchRange?: number | undefined;
  /**
   * Threads scanning each seed file in parallel sections. Default: for seed files of 512 MiB or
   * more, `availableParallelism()` clamped to [1, 4]; otherwise 1 (the calling thread: starting a
   * thread costs about 0.1 s, more than it saves on smaller seeds). Threads are kept for the
   * next scan (see `startScanThreads`). The plan does not depend on timing; it may differ
   * slightly between thread counts (where matches fall at section boundaries), the output never
   * does.
   */
  readonly workers?: number | undefined;
}

/** Options of {@link patch}. */
export interface PatchOptions extends PlanOptions {
  /** Where the target is written. Replaced atomically; may be one of the seeds. */
  readonly output: string;
  /** Where missing bytes come from; required unless every block is found in the seeds. */
  readonly source?: BlockSource | undefined;
  /**
   * Reuse `<output>.gosync-part` left by an interrupted run as an extra seed (default true).
   */
  readonly resume?: boolean | undefined;
  /**
   * The source already checks every range it yields against this index (it was given
   * `createRangeVerifier(index)`, as the `@gosync/blocksources` sources take it, and re-fetches
   * or fails on bad bytes): skip the second strong hash of every fetched block. Lengths and the
   * whole-file hash are still checked. Default false.
   */
  readonly sourceVerifies?: boolean | undefined;
}

/** What {@link patch} did. */
export interface PatchResult {
  /** The plan that was carried out. */
  readonly plan: Plan;
  /** The output path. */
  readonly output: string;
  /** Bytes received from the block source. */
  readonly fetchedBytes: number;
  /** Ranges requested from the block source. */
  readonly requests: number;
  /** Whether a part file of an earlier run was reused. */
  readonly resumed: boolean;
}

async function openSeeds(seeds: readonly SeedInput[]): Promise<SeedReader[]> {
  const readers: SeedReader[] = [];
  try {
    for (const [i, seed] of seeds.entries()) readers.push(await SeedReader.open(seed, i));
  } catch (error) {
    await Promise.all(readers.map((r) => r.close()));
    throw error;
  }
  return readers;
}

/** How many threads scan this seed: 1, or `workers` when the seed is a file large enough. */
function threadsFor(index: BlockIndex, reader: SeedReader, options: PlanOptions): number {
  const workers = workerCount(options.workers, reader.length);
  const parallel = index.kind !== 'chunks' && workers > 1 && reader.path !== undefined && reader.length > workers * 4 * index.blockSize;
  return parallel ? workers : 1;
}

/**
 * Scans the seeds in turn. The scan threads of the first seed are taken before anything else and
 * sent the index, so that they load and build their tables while this thread waits for
 * `checking` and builds its own.
 */
async function scanAll(index: BlockIndex, readers: readonly SeedReader[], checking: Promise<BlockCheck>, options: PlanOptions): Promise<Matches> {
  const first = readers[0];
  // Awaited below; observed here too, in case taking the threads fails before that.
  checking.catch(() => undefined);
  // The first seed's parallel scan takes them out of this array; left over (a failure before
  // it), they go back to the pool.
  const early = first === undefined ? [] : scanThreads.take(threadsFor(index, first, options) - 1);
  prepareThreads(early, index);
  try {
    return await scanSeeds(index, readers, await checking, options, early);
  } finally {
    for (const thread of early.splice(0)) scanThreads.give(thread);
  }
}

/** Weak-sum tables by index: a program that plans or patches with one index again reuses it. */
const tables = new WeakMap<BlockIndex, WeakSumTable>();

function tableOf(index: BlockIndex): WeakSumTable {
  let table = tables.get(index);
  if (table === undefined) tables.set(index, (table = new WeakSumTable(index)));
  return table;
}

async function scanSeeds(
  index: BlockIndex,
  readers: readonly SeedReader[],
  check: BlockCheck,
  options: PlanOptions,
  early: Worker[],
): Promise<Matches> {
  const matches = new Matches(index.count);
  const total = readers.reduce((n, r) => n + r.length, 0);
  let done = 0;
  const table = tableOf(index);
  const ctx: ScanContext = {
    index,
    table,
    // One scanner for the seeds, sections and re-scans in turn, its filter kept to what is still
    // wanted (restarted for each section, which starts with nothing found).
    prefilter: new ScanPrefilter(index, table),
    pairMemory: new PairScanMemory(),
    check,
    matches,
    signal: options.signal,
    onBytes: (bytes) => {
      // Parallel sections overlap by a block or two, read by both threads: never report more
      // than the seeds hold.
      done = Math.min(total, done + bytes);
      options.onProgress?.({ phase: 'scan', done, total });
    },
  };
  /** The sections' matches, one for all the sections this thread scans (see scanSection). */
  let scratch: Matches | undefined;
  for (const [i, reader] of readers.entries()) {
    if (matches.found === index.count) break;
    throwIfAborted(options.signal);
    const workers = threadsFor(index, reader, options);
    if (index.kind === 'chunks') await scanChunks(ctx, i, reader);
    else if (workers > 1 && reader.path !== undefined) {
      await scanInParallel(
        index,
        reader.path,
        i,
        reader.length,
        workers,
        matches,
        ctx,
        (section, onBytes, reported) => scanSection({ ...ctx, onBytes }, reader, section, (scratch ??= new Matches(index.count)), reported),
        (section, onJump) => scanBlocks({ ...ctx, onBytes: undefined, onJump }, i, reader, section),
        i === 0 ? early : [],
      );
    } else await scanBlocks(ctx, i, reader);
  }
  return matches;
}

function checkMaxFetchRange(options: PlanOptions): number {
  const max = options.maxFetchRange ?? DEFAULT_MAX_FETCH_RANGE;
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new PatcherError('ERR_PATCHER_INVALID_OPTION', `maxFetchRange: expected a positive integer, got ${String(max)}`);
  }
  return max;
}

/**
 * Scans the seeds against an index and returns the plan, without fetching or writing anything:
 * how many bytes would be reused, how many fetched, and in how many ranges (`gosync diff`).
 *
 * @param index - the target's index
 * @param options - seeds, abort signal, progress
 * @returns the plan
 * @throws {@link PatcherError} `ERR_PATCHER_SEED` for an unreadable seed, `ERR_PATCHER_INVALID_OPTION`
 * @example
 * ```ts
 * const plan = await planPatch(index, { seeds: ['app-1.0.tar'] });
 * console.log(`${plan.reusedBytes} reused, ${plan.fetchBytes} to fetch in ${plan.fetchRanges.length} ranges`);
 * ```
 */
export async function planPatch(index: BlockIndex, options: PlanOptions): Promise<Plan> {
  throwIfAborted(options.signal);
  const maxFetchRange = checkMaxFetchRange(options);
  workerCount(options.workers, 0);
  const readers = await openSeeds(options.seeds);
  try {
    const matches = await scanAll(index, readers, BlockCheck.create(index), options);
    return makePlan(index, matches, maxFetchRange);
  } finally {
    await Promise.all(readers.map((r) => r.close()));
  }
}

/**
 * Rebuilds a target: scans the seeds, copies what they hold, fetches the rest through the block
 * source (checking every block against its strong hash before it is written), writes everything
 * into `<output>.gosync-part`, checks the length and the file hash, and renames the result over
 * the output. Seeds are never modified. If the run fails or is aborted, the part file stays and
 * the next run reuses it (resume); the output is never left half-written.
 *
 * @param index - the target's index
 * @param options - seeds, output, block source, abort signal, progress
 * @returns what was done
 * @throws {@link PatcherError} `ERR_PATCHER_NO_SOURCE`, `ERR_PATCHER_BLOCK_MISMATCH`,
 *   `ERR_PATCHER_UNEXPECTED_RANGE`, `ERR_PATCHER_MISSING_RANGE`, `ERR_PATCHER_VERIFY_FAILED`,
 *   `ERR_PATCHER_IO`, `ERR_PATCHER_SEED`; whatever the block source throws; the abort reason
 * @example
 * ```ts
 * const index = decodeIndex(await readFile('app-2.0.tar.gsi'));
 * await patch(index, { seeds: ['app-1.0.tar'], output: 'app-2.0.tar', source });
 * ```
 */
export async function patch(index: BlockIndex, options: PatchOptions): Promise<PatchResult> {
  const { signal, onProgress, output } = options;
  throwIfAborted(signal);
  const maxFetchRange = checkMaxFetchRange(options);
  workerCount(options.workers, 0);
  await checkOutputDirectory(output);
  const resumeFile = options.resume === false ? undefined : await takeResumeFile(output);
  const readers = await openSeeds(resumeFile === undefined ? options.seeds : [...options.seeds, resumeFile]);
  let out: OutputFile | undefined;
  let hasher: OutputHasher | undefined;
  try {
    const checking = BlockCheck.create(index);
    const plan = makePlan(index, await scanAll(index, readers, checking, options), maxFetchRange);
    // The scan threads are not kept past the scan here: each holds some 30 MB more (its heap,
    // the index, its kernel's memory), and copying, fetching and checking need the room (on the
    // 557 MB swc pair with 2 threads, peak RSS 186–195 MB kept, 164–170 MB ended here).
    await scanThreads.end();
    const check = await checking;
    if (plan.fetchBytes > 0 && options.source === undefined) {
      throw new PatcherError(
        'ERR_PATCHER_NO_SOURCE',
        `${plan.fetchBytes} bytes in ${plan.fetchRanges.length} ranges are not in the seeds and no block source was given`,
      );
    }
    out = await OutputFile.create(output, index.fileLength);
    // The whole-file hashes are computed as the written prefix grows, not after the last write.
    hasher = index.fileHashes.length === 0 ? undefined : createOutputHasher(out, index.fileHashes.map((h) => h.algorithm), index.fileLength);
    const frontier = new WrittenFrontier();
    const onWritten = (start: number, end: number): void => {
      hasher?.advance(frontier.mark(start, end));
    };

    let written = 0;
    // Copying from the seeds and fetching run at once (they write disjoint parts of the output):
    // the network's round trips hide behind the disk. The first failure stops the other.
    const stop = new AbortController();
    const local = signal === undefined ? stop.signal : AbortSignal.any([signal, stop.signal]);
    // Reused bytes are copied through two buffers: a piece is read while the last is written.
    const target = out;
    const pipe = new CopyPipe(Math.min(COPY_BUFFER, Math.max(1, index.fileLength)), (bytes, offset) => target.write(bytes, offset));
    const onCopied = (start: number, end: number): void => {
      onWritten(start, end);
      written += end - start;
      onProgress?.({ phase: 'write', done: written, total: plan.reusedBytes + plan.duplicateBytes });
    };
    const copying = (async (): Promise<void> => {
      for (const op of plan.operations) {
        if (op.kind !== 'copy') continue;
        const reader = readers[op.seed] as SeedReader;
        await pipe.copy((offset, n, into) => reader.read(offset, n, into), op.from, op.to, op.length, local, onCopied);
      }
      await pipe.drain();
      // The part file now holds every block the resume file had for this target: should this run
      // fail too, the next resumes from the part file alone (see takeResumeFile). Where an open
      // file cannot be deleted, it goes at the end instead.
      if (resumeFile !== undefined) await removeFile(resumeFile).catch(() => undefined);
    })();
    const fetching = fetchInto(index, plan, out, check, { ...options, signal: local }, onWritten, (error) => {
      stop.abort(error);
    });
    const settled = await Promise.allSettled([copying.catch(stopOn(stop)), fetching.catch(stopOn(stop))]);
    for (const s of settled) if (s.status === 'rejected') throw signal?.aborted === true ? signal.reason : s.reason;
    const fetched = (settled[1] as PromiseFulfilledResult<number>).value;

    // Blocks that occur twice are copied within the output once their first copy is written.
    for (const op of plan.operations) {
      if (op.kind !== 'duplicate') continue;
      await pipe.copy((offset, n, into) => target.read(offset, n, into), op.from, op.to, op.length, signal, onCopied);
    }
    await pipe.drain();
    // The flush to disk (on libuv's threads) and the last of the hashing run at once; both end
    // before the rename.
    const synced = out.sync();
    const verified = verifyOutput(index, out, check, options, hasher);
    const [s, v] = await Promise.allSettled([synced, verified]);
    if (v.status === 'rejected') throw v.reason;
    if (s.status === 'rejected') throw s.reason;
    await out.commit(index.metadata.mtime);
    out = undefined;
    if (resumeFile !== undefined) await removeFile(resumeFile);
    return { plan, output, fetchedBytes: fetched, requests: plan.fetchRanges.length, resumed: resumeFile !== undefined };
  } finally {
    await hasher?.close();
    await out?.close();
    await Promise.all(readers.map((r) => r.close()));
  }
}

/** Aborts the other half of a pair of tasks when one fails, and passes the failure on. */
function stopOn(stop: AbortController): (error: unknown) => never {
  return (error) => {
    stop.abort(error);
    throw error;
  };
}

/**
 * Fetches the plan's ranges into the output; returns the bytes received. A failed write is passed
 * to `stop` at once, which aborts `options.signal` (so the source stops, throwing it).
 */
async function fetchInto(
  index: BlockIndex,
  plan: Plan,
  out: OutputFile,
  check: BlockCheck,
  options: PatchOptions,
  onWritten: (start: number, end: number) => void,
  stop: (error: unknown) => void,
): Promise<number> {
  const source = options.source;
  if (source === undefined || plan.fetchRanges.length === 0) return 0;
  const pending = new Map<number, number>();
  for (const r of plan.fetchRanges) pending.set(r.start, r.end);
  let fetched = 0;
  // The next range is received and checked while the last ones are written.
  const writes = new WriteQueue(FETCH_WRITES, stop);
  try {
    for await (const { range, data } of source.fetch(plan.fetchRanges, { signal: options.signal })) {
      throwIfAborted(options.signal);
      checkFetched(index, check, options, pending, range, data);
      pending.delete(range.start);
      await writes.add(
        () => out.write(data, range.start),
        () => {
          onWritten(range.start, range.end);
          fetched += data.length;
          options.onProgress?.({ phase: 'fetch', done: fetched, total: plan.fetchBytes });
        },
      );
    }
    await writes.drain();
  } catch (error) {
    await writes.settle();
    throw error;
  }
  if (pending.size > 0) {
    const [start, end] = pending.entries().next().value as [number, number];
    throw new PatcherError(
      'ERR_PATCHER_MISSING_RANGE',
      `the block source ended without ${pending.size} of ${plan.fetchRanges.length} ranges, the first [${start}, ${end})`,
    );
  }
  return fetched;
}

/** Throws unless `data` is a range still `pending` whose every block has its strong hash. */
function checkFetched(index: BlockIndex, check: BlockCheck, options: PatchOptions, pending: ReadonlyMap<number, number>, range: ByteRange, data: Uint8Array): void {
  if (pending.get(range.start) !== range.end) {
    throw new PatcherError(
      'ERR_PATCHER_UNEXPECTED_RANGE',
      `the block source yielded [${range.start}, ${range.end}), which was not asked for or was already received`,
    );
  }
  const bad = options.sourceVerifies === true && data.length === range.end - range.start ? -1 : check.firstBadBlock(range, data);
  if (bad >= 0) {
    throw new PatcherError(
      'ERR_PATCHER_BLOCK_MISMATCH',
      `block ${bad} (bytes ${index.blockStart(bad)}–${index.blockEnd(bad)}) fetched in range [${range.start}, ${range.end}) does not have the strong hash in the index` +
        (data.length !== range.end - range.start ? ` (got ${data.length} bytes for a ${range.end - range.start}-byte range)` : ''),
    );
  }
}

async function verifyOutput(
  index: BlockIndex,
  out: OutputFile,
  check: BlockCheck,
  options: PatchOptions,
  hasher: OutputHasher | undefined,
): Promise<void> {
  const handle = await open(out.path, 'r');
  try {
    const size = (await handle.stat()).size;
    if (size !== index.fileLength) {
      throw new PatcherError('ERR_PATCHER_VERIFY_FAILED', `${out.path} has ${size} bytes, the index says ${index.fileLength}`);
    }
    options.onProgress?.({ phase: 'verify', done: 0, total: size });
    if (hasher === undefined) {
      // No file hash (go-sync's format): check every block instead.
      const blockBuffer = new Uint8Array(index.blockSize);
      for (let block = 0; block < index.count; block++) {
        throwIfAborted(options.signal);
        const start = index.blockStart(block);
        const length = index.blockLength(block);
        const { bytesRead } = await handle.read(blockBuffer, 0, length, start);
        if (bytesRead !== length || !check.matches(block, blockBuffer.subarray(0, length))) {
          throw new PatcherError('ERR_PATCHER_VERIFY_FAILED', `${out.path}: block ${block} does not have its strong hash after writing`);
        }
        options.onProgress?.({ phase: 'verify', done: start + length, total: size });
      }
      return;
    }
    const digests = await hasher.digests(size, options.signal);
    options.onProgress?.({ phase: 'verify', done: size, total: size });
    index.fileHashes.forEach((h, i) => {
      const actual = digests[i] as Uint8Array;
      if (!Buffer.from(actual).equals(Buffer.from(h.digest))) {
        throw new PatcherError(
          'ERR_PATCHER_VERIFY_FAILED',
          `${out.path}: ${h.algorithm} is ${Buffer.from(actual).toString('hex')}, the index says ${Buffer.from(h.digest).toString('hex')}`,
        );
      }
    });
  } finally {
    await handle.close();
  }
}
