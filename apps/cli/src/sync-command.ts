// `gosync sync` and `gosync diff`: rebuild a file from an index, local seeds and a source of
// missing bytes; or only show the plan.
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { BlockSource, ProgressEvent } from '@gosync/core';
import { FileSource } from '@gosync/blocksources';
import { readIndexFile, type BlockIndex } from '@gosync/index';
import { createRangeVerifier, patch, planPatch, type Plan } from '@gosync/patcher';
import { EXIT_OK, EXIT_TEXT, UsageError, formatBytes, parseInteger, type CliIo } from './usage.js';

export const SYNC_HELP: string = `gosync sync <index> -o <out> [--seed FILE]… [--source PATH]… [options]

Rebuilds the file described by <index> (native .gsi, .zsync or .gosync) into <out>: scans the
seeds for blocks it already has, copies them, fetches the rest from the source, checks every
fetched block against its strong hash and the whole file against the index's file hash, then
renames the result into place. Seeds are never modified; <out> may be one of them (in place).
An interrupted run leaves <out>.gosync-part, which the next run reuses.

Options:
  -o, --output <path>    the file to write (required)
  -s, --seed <file>      a local file whose bytes may be reused (repeatable; first wins)
      --source <path>    where missing bytes come from: a local copy of the new file
                         (repeatable: mirrors, tried in order). Default: the index's URL
                         entries, resolved against the index's directory.
      --workers <n>      threads scanning each seed (default: automatic)
      --no-resume        ignore <out>.gosync-part from an earlier run
      --json             print a JSON summary on stdout instead of the summary line
  -q, --quiet            no progress and no summary
  -h, --help             this help

${EXIT_TEXT}
`;

export const DIFF_HELP: string = `gosync diff <index> [--seed FILE]… [--json]

Scans the seeds against <index> and prints what a sync would do, without fetching or writing:
bytes reused from the seeds, bytes to fetch, and in how many ranges.

Options:
  -s, --seed <file>    a local file whose bytes may be reused (repeatable)
      --workers <n>    threads scanning each seed (default: automatic)
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

/** Where missing bytes come from when no --source is given: the index's URL entries as paths. */
function sourcesFromIndex(index: BlockIndex, indexPath: string): string[] {
  return (index.metadata.urls ?? [])
    .filter((url) => !/^[a-z][a-z0-9+.-]*:/i.test(url))
    .map((url) => (isAbsolute(url) ? url : resolve(dirname(indexPath), url)));
}

/** Tries each local mirror in order for the ranges the previous one could not serve. */
function localSource(paths: readonly string[], verifier: Awaited<ReturnType<typeof createRangeVerifier>>): BlockSource {
  const sources = paths.map((p) => new FileSource(p, { verifier }));
  return {
    async *fetch(ranges, options) {
      let lastError: unknown;
      for (const source of sources) {
        const served = new Set<number>();
        try {
          for await (const item of source.fetch(ranges.filter((r) => !served.has(r.start)), options)) {
            served.add(item.range.start);
            yield item;
          }
          return;
        } catch (error) {
          if (options?.signal?.aborted === true) throw error;
          lastError = error;
          ranges = ranges.filter((r) => !served.has(r.start));
        }
      }
      throw lastError;
    },
    async close() {
      await Promise.all(sources.map((s) => s.close()));
    },
  };
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

export async function syncCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      output: { type: 'string', short: 'o' },
      seed: { type: 'string', short: 's', multiple: true },
      source: { type: 'string', multiple: true },
      workers: { type: 'string' },
      'no-resume': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout(SYNC_HELP);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError(`sync: expected one <index>, got ${positionals.length}`);
  if (values.output === undefined) throw new UsageError('sync: -o/--output is required');
  const workers = parseInteger('workers', values.workers);
  if (workers === 0) throw new UsageError('--workers: expected at least 1');
  const indexPath = positionals[0] as string;
  for (const s of values.source ?? []) {
    if (/^https?:\/\//i.test(s)) throw new UsageError(`--source ${s}: HTTP sources are not available yet in this version; give a local path`);
  }
  const started = performance.now();
  const { index } = await readIndexFile(indexPath);
  const sourcePaths = values.source ?? sourcesFromIndex(index, indexPath);
  const source = sourcePaths.length === 0 ? undefined : localSource(sourcePaths, await createRangeVerifier(index));
  const progress = progressLine(io, io.interactive === true && !values.quiet && !values.json);
  try {
    const result = await patch(index, {
      seeds: values.seed ?? [],
      output: values.output,
      source,
      resume: !values['no-resume'],
      workers,
      onProgress: progress.onProgress,
    });
    progress.done();
    const seconds = (performance.now() - started) / 1000;
    const plan = result.plan;
    if (values.json) {
      io.stdout(`${JSON.stringify({ output: result.output, ...planSummary(plan), fetchedBytes: result.fetchedBytes, requests: result.requests, resumed: result.resumed, seconds: Number(seconds.toFixed(3)) }, null, 2)}\n`);
    } else if (!values.quiet) {
      io.stdout(
        `${result.output}: ${formatBytes(plan.targetLength)}; reused ${formatBytes(plan.reusedBytes)} (${percent(plan.reusedBytes, plan.targetLength)}), fetched ${formatBytes(result.fetchedBytes)} in ${result.requests} ranges${plan.duplicateBytes > 0 ? `, ${formatBytes(plan.duplicateBytes)} duplicated` : ''}${result.resumed ? ', resumed' : ''}; ${seconds.toFixed(2)} s\n`,
      );
    }
    return EXIT_OK;
  } finally {
    progress.done();
    await source?.close?.();
  }
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
  const { index } = await readIndexFile(positionals[0] as string);
  const progress = progressLine(io, io.interactive === true && !values.json);
  const plan = await planPatch(index, { seeds: values.seed ?? [], workers, onProgress: progress.onProgress });
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
