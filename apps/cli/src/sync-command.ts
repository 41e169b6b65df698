// `gosync sync` and `gosync diff`: rebuild a file from an index, local seeds and a source of
// missing bytes; or only show the plan.
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ProgressEvent } from '@gosync/core';
import { readIndexFile, type BlockIndex } from '@gosync/index';
import type { Dispatcher } from 'undici';
import { discardEarlyIndex, type EarlyIndex } from './early-index.js';
import { downloadIndex, type DownloadIndexOptions } from './remote-index.js';
import { checkSyncArgs, createSyncAgent, parseSyncArgs } from './sync-options.js';
import { COMPRESS_ATTACHMENT, openSources, resolveSources, type IndexLocation } from './sources.js';
import { PatcherError, createRangeVerifier, patch, planPatch, startScanThreads, type Plan } from '@gosync/patcher';
import { EXIT_OK, EXIT_TEXT, UsageError, formatBytes, parseInteger, type CliIo } from './usage.js';

export const SYNC_HELP: string = `gosync sync <index path or URL> -o <out> [--seed FILE]… [--source PATH or URL]… [options]

Rebuilds the file described by <index> (native .gsi, .zsync or .gosync, a local path or an
http(s) URL) into <out>: scans the seeds for blocks it already has, copies them, fetches the
rest with range requests, checks every fetched block against its strong hash and the whole file
against the index's file hash, then renames the result into place (with the index's mtime).
Seeds are never modified; an existing <out> is used as a seed too (after the ones given), so
running the same sync again fetches nothing. An interrupted run (Ctrl-C, a network failure)
leaves <out>.gosync-part, which the next run reuses (moved aside to <out>.gosync-resume until
it has copied from it).

Options:
  -o, --output <path>    the file to write (required)
  -s, --seed <file>      a local file whose bytes may be reused (repeatable; first wins)
      --source <where>   where missing bytes come from: an http(s) URL of the new file or a
                         local copy (repeatable: mirrors, tried in order). Default: the index's
                         URL entries, relative ones resolved against the index's own location.
                         A location ending in .gsz is the file's compressed artifact (from
                         gosync index --compress), read with the layout stored in the index.
      --workers <n>      threads scanning each seed (default: one per core, at most 4, for
                         seeds of 512 MiB or more; 1 below). Each thread more costs memory:
                         up to ~250 MB for a 5 GiB disk image
      --no-resume        ignore <out>.gosync-part from an earlier run
HTTP:
      --retries <n>      retries of a failed request, with back-off (default 5)
      --timeout <s>      seconds without response headers or body bytes before a request
                         is retried (default 30)
      --limit-rate <r>   the most bytes per second, e.g. 500k or 10M (default: unlimited)
      --speed-limit <r>  retry (then try the next mirror) a response whose body averages
                         fewer bytes per second than this over --speed-time seconds of waiting
                         for the server, e.g. 500 or 2k (default 1k; 0: off); catches servers
                         that drip bytes just fast enough to beat --timeout. Waits for
                         --limit-rate do not count, so --limit-rate may be below it
      --speed-time <s>   the window of --speed-limit, in whole seconds (default 30)
      --connections <n>  requests in flight at once (default 6)
Output:
      --json             print a JSON summary on stdout instead of the summary line
  -q, --quiet            no progress and no summary
  -h, --help             this help

The summary counts HTTP requests and bytes received, the index's bytes included; --json adds
"phases": when each phase (scan, write, fetch, verify) began, in seconds since the start.

${EXIT_TEXT}
  130, 143  interrupted by Ctrl-C (SIGINT) or SIGTERM; run the same command again to resume
`;

export const DIFF_HELP: string = `gosync diff <index path or URL> [--seed FILE]… [--json]

Scans the seeds against <index> and prints what a sync would do, without fetching or writing:
bytes reused from the seeds, bytes to fetch, and in how many ranges.

Options:
  -s, --seed <file>    a local file whose bytes may be reused (repeatable)
      --workers <n>    threads scanning each seed (default: one per core, at most 4, for
                       seeds of 512 MiB or more; 1 below). Each thread more costs memory:
                       up to ~250 MB for a 5 GiB disk image
      --json           print one JSON object
  -h, --help           this help

${EXIT_TEXT}
`;

function percent(part: number, whole: number): string {
  return whole === 0 ? '100.0 %' : `${((100 * part) / whole).toFixed(1)} %`;
}

/** A one-line progress display on stderr for terminals, redrawn at most 10 times a second. */
function progressLine(io: CliIo, enabled: boolean): { onProgress: (e: ProgressEvent) => void; done: () => void } {
  let last = 0;
  let drawn = false;
  return {
    onProgress: (e) => {
      if (!enabled) return;
      const now = Date.now();
      if (now - last < 100 && e.done < e.total) return;
      last = now;
      drawn = true;
      const width = 30;
      const fill = e.total === 0 ? width : Math.round((width * e.done) / e.total);
      io.stderr(`\r${e.phase.padEnd(6)} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${percent(e.done, e.total).padStart(7)}  ${formatBytes(e.done)}   `);
    },
    done: () => {
      if (drawn) io.stderr('\r\x1b[K');
    },
  };
}

/** Reads a local index, or downloads one from an http(s) URL. */
async function loadIndex(
  where: string,
  http: Pick<DownloadIndexOptions, 'retries' | 'timeout' | 'lowSpeedBytesPerSecond' | 'lowSpeedSeconds' | 'dispatcher' | 'first'>,
): Promise<{ index: BlockIndex; location: IndexLocation; bytes: number; requests: number }> {
  if (/^https?:\/\//i.test(where)) {
    const remote = await downloadIndex(where, http);
    return { index: remote.index, location: { url: remote.url }, bytes: remote.bytes, requests: remote.requests };
  }
  const { index } = await readIndexFile(where);
  return { index, location: { path: where }, bytes: (await stat(where)).size, requests: 0 };
}

function planSummary(plan: Plan): Record<string, number> {
  return {
    targetBytes: plan.targetLength,
    reusedBytes: plan.reusedBytes,
    fetchBytes: plan.fetchBytes,
    duplicateBytes: plan.duplicateBytes,
    ranges: plan.fetchRanges.length,
    blocks: plan.blocks.total,
    blocksFound: plan.blocks.found,
  };
}

/**
 * `gosync sync`. `early` is the index request main.ts may have sent before the program loaded
 * (early-index.ts): the sync takes it over, or lets it go when it ends before it could (a usage
 * error found after main.ts's check, say).
 */
export async function syncCommand(args: string[], io: CliIo, early?: EarlyIndex): Promise<number> {
  const state = { adopted: false };
  try {
    return await runSync(args, io, early, (taken) => {
      state.adopted = taken;
    });
  } finally {
    if (early !== undefined && !state.adopted) await discardEarlyIndex(early);
  }
}

async function runSync(args: string[], io: CliIo, early: EarlyIndex | undefined, adopt: (taken: boolean) => void): Promise<number> {
  const { values, positionals } = parseSyncArgs(args);
  if (values.help) {
    io.stdout(SYNC_HELP);
    return EXIT_OK;
  }
  const { where, output, outputIsFile, workers, retries, timeout, connections, rateLimit, lowSpeed } = checkSyncArgs(values, positionals);
  const started = performance.now();
  // The index request main.ts sent early, through the pool the sync is to use; parsed from the
  // same command line, it is always for this index, but an unused one is let go.
  const first = early?.url === where ? early : undefined;
  adopt(first !== undefined);
  // One connection pool for the index and the blocks: the index's connection is reused.
  const dispatcher = first?.dispatcher ?? createSyncAgent(connections);
  try {
    return await sync({ ...values, output, outputIsFile }, where, io, {
      first: first?.response,
      retries,
      timeout,
      lowSpeed,
      rateLimit,
      connections,
      workers,
      started,
      dispatcher,
    });
  } finally {
    await dispatcher.close();
  }
}

/** The low-speed rule of `--speed-limit` and `--speed-time` (undefined: the library's default). */
interface LowSpeed {
  readonly lowSpeedBytesPerSecond: number | undefined;
  readonly lowSpeedSeconds: number | undefined;
}

interface SyncSettings {
  readonly retries: number | undefined;
  readonly timeout: number | undefined;
  readonly lowSpeed: LowSpeed;
  readonly rateLimit: number | undefined;
  readonly connections: number | undefined;
  readonly workers: number | undefined;
  readonly started: number;
  readonly dispatcher: Dispatcher;
  /** The answer to the index request main.ts sent early, if it did. */
  readonly first: Promise<Dispatcher.ResponseData | undefined> | undefined;
}

async function sync(
  values: { output: string; outputIsFile: boolean; seed?: string[] | undefined; source?: string[] | undefined; 'no-resume'?: boolean; json?: boolean; quiet?: boolean },
  where: string,
  io: CliIo,
  { retries, timeout, lowSpeed, rateLimit, connections, workers, started, dispatcher, first }: SyncSettings,
): Promise<number> {
  // Like zsync and rsync, an existing output is a seed too (after the ones given): the same
  // sync run again fetches nothing.
  const seeds = [...(values.seed ?? [])];
  if (values.outputIsFile && !seeds.some((seed) => resolve(seed) === resolve(values.output))) {
    seeds.push(values.output);
  }
  // The scan threads start while the index downloads.
  const threads = startScanThreads({ seeds, workers });
  // Awaited after the index (a bad --workers is reported there); observed now in case that fails.
  threads.catch(() => undefined);
  const loaded = await loadIndex(where, { retries, timeout, ...lowSpeed, dispatcher, first });
  await threads;
  const { index } = loaded;
  const locations = resolveSources(values.source, index.metadata.urls ?? [], loaded.location);
  const source =
    locations.length === 0
      ? undefined
      : openSources(locations, await createRangeVerifier(index), {
          retries: { count: retries },
          timeouts: { firstByte: timeout, idle: timeout, ...lowSpeed },
          rateLimit,
          maxInFlight: connections,
          dispatcher,
        }, index.metadata.attachments?.[COMPRESS_ATTACHMENT]);
  const progress = progressLine(io, io.interactive === true && !values.quiet && !values.json);
  // When each phase began, in seconds since the start: the JSON summary shows where time went.
  const phases: Record<string, number> = { index: 0, scan: Number(((performance.now() - started) / 1000).toFixed(3)) };
  const onProgress = (e: ProgressEvent): void => {
    phases[e.phase] ??= Number(((performance.now() - started) / 1000).toFixed(3));
    progress.onProgress(e);
  };
  const interrupted = onInterrupt(io, values.output);
  try {
    const result = await patch(index, {
      seeds,
      output: values.output,
      source,
      resume: !values['no-resume'],
      // Every source was given the index's verifier: fetched blocks are hashed once, there.
      sourceVerifies: true,
      workers,
      onProgress,
    });
    progress.done();
    const seconds = (performance.now() - started) / 1000;
    const plan = result.plan;
    const http = source?.stats() ?? { requests: 0, bytesReceived: 0, retries: 0 };
    const requests = http.requests + loaded.requests;
    const received = http.bytesReceived + (loaded.requests > 0 ? loaded.bytes : 0);
    if (values.json) {
      const summary = {
        output: result.output,
        ...planSummary(plan),
        fetchedBytes: result.fetchedBytes,
        indexBytes: loaded.bytes,
        httpRequests: requests,
        httpBytesReceived: received,
        retries: http.retries,
        resumed: result.resumed,
        seconds: Number(seconds.toFixed(3)),
        phases,
      };
      io.stdout(`${JSON.stringify(summary, null, 2)}\n`);
    } else if (!values.quiet) {
      const wire = requests > 0 ? `; ${requests} HTTP request${requests === 1 ? '' : 's'}, ${formatBytes(received)} received with the index` : '';
      io.stdout(
        `${result.output}: ${formatBytes(plan.targetLength)}; reused ${formatBytes(plan.reusedBytes)} (${percent(plan.reusedBytes, plan.targetLength)}), fetched ${formatBytes(result.fetchedBytes)} in ${result.requests} range${result.requests === 1 ? '' : 's'}${plan.duplicateBytes > 0 ? `, ${formatBytes(plan.duplicateBytes)} duplicated` : ''}${result.resumed ? ', resumed' : ''}${wire}; ${seconds.toFixed(2)} s\n`,
      );
    }
    return EXIT_OK;
  } catch (e) {
    if (e instanceof PatcherError && e.code === 'ERR_PATCHER_NO_SOURCE') {
      throw new PatcherError(
        e.code,
        `${e.message}: give --source <URL or path of the new file>, or publish the index with its URL (gosync index -u <URL>)`,
        { cause: e },
      );
    }
    if (e instanceof PatcherError && e.code === 'ERR_PATCHER_IO' && isDiskFull(e.cause)) {
      throw new PatcherError(e.code, `${e.message}; ${diskFullHint(values.output, index.fileLength)}`, { cause: e });
    }
    throw e;
  } finally {
    interrupted.off();
    progress.done();
    await source?.close();
  }
}

/**
 * What to do after a full disk: the next run reuses the part file as a seed while it writes a new
 * one beside it, so it needs about the file's size free again; deleting the part file gives its
 * space back, at the price of fetching what it held.
 */
function diskFullHint(output: string, fileLength: number): string {
  const part = `${output}.gosync-part`;
  const size = formatBytes(fileLength);
  if (!existsSync(part)) return `free about the file's size, ${size}, and run the same command again`;
  return `${part} keeps what was written, and the next run reuses it while it writes a new part file beside it: free about the file's size, ${size}, and run the same command again, or delete ${part} first to start over with its space back`;
}

/** Whether a write failed for want of space (a full disk, or the user's quota). */
function isDiskFull(cause: unknown): boolean {
  const code = (cause as { code?: unknown } | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * On Ctrl-C (SIGINT) or SIGTERM during a sync: says that the next run resumes, then exits with
 * 130 or 143 as a shell would. What was written stays in `<out>.gosync-part`.
 */
function onInterrupt(io: CliIo, output: string): { off: () => void } {
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((signal) => {
    const handler = (): void => {
      io.stderr(`\ngosync: interrupted by ${signal}; ${output}.gosync-part keeps what was written: run the same command again to resume\n`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.once(signal, handler);
    return [signal, handler] as const;
  });
  return {
    off: () => {
      for (const [signal, handler] of handlers) process.off(signal, handler);
    },
  };
}

export async function diffCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      seed: { type: 'string', short: 's', multiple: true },
      workers: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout(DIFF_HELP);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError(`diff: expected one <index>, got ${positionals.length}`);
  const workers = parseInteger('workers', values.workers);
  if (workers === 0) throw new UsageError('--workers: expected at least 1');
  const seeds = values.seed ?? [];
  // The scan threads start while the index loads.
  const threads = startScanThreads({ seeds, workers });
  // Awaited after the index (a bad --workers is reported there); observed now in case that fails.
  threads.catch(() => undefined);
  const { index } = await loadIndex(positionals[0] as string, {});
  await threads;
  const progress = progressLine(io, io.interactive === true && !values.json);
  const plan = await planPatch(index, { seeds, workers, onProgress: progress.onProgress });
  progress.done();
  if (values.json) {
    io.stdout(`${JSON.stringify(planSummary(plan), null, 2)}\n`);
    return EXIT_OK;
  }
  io.stdout(
    [
      `target      ${formatBytes(plan.targetLength)} in ${plan.blocks.total} ${index.kind}`,
      `reused      ${formatBytes(plan.reusedBytes)} (${percent(plan.reusedBytes, plan.targetLength)}), ${plan.blocks.found} ${index.kind} found in the seeds`,
      `to fetch    ${formatBytes(plan.fetchBytes)} (${percent(plan.fetchBytes, plan.targetLength)}) in ${plan.fetchRanges.length} ranges`,
      ...(plan.duplicateBytes > 0 ? [`duplicated  ${formatBytes(plan.duplicateBytes)} (fetched once, copied within the file)`] : []),
    ].join('\n') + '\n',
  );
  return EXIT_OK;
}
