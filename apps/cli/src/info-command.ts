// `gosync info`: describe an index file of any supported format.
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { toHex } from '@gosync/core';
import { readIndexFile, type BlockIndex, type IndexFormat } from '@gosync/index';
import { EXIT_OK, EXIT_TEXT, UsageError, formatBytes, type CliIo } from './usage.js';

export const INFO_HELP: string = `gosync info <index> [--json]

Prints what an index holds: format, sizes, algorithms and hash lengths, file hashes,
metadata (file name, time, URLs) and the index's own size per block. The format is
recognised by its first bytes (native .gsi, .zsync, go-sync .gosync).

Options:
  --json       print one JSON object instead of text
  -h, --help   this help

${EXIT_TEXT}
`;

function describeIndex(format: IndexFormat, index: BlockIndex, size: number): Record<string, unknown> {
  return {
    format,
    kind: index.kind,
    fileLength: index.fileLength,
    blockSize: index.blockSize,
    blocks: index.count,
    strongHash: index.strongHash,
    strongBytes: index.strongBytes,
    weakBytes: index.weakBytes,
    seqMatches: index.seqMatches,
    padLastBlock: index.padLastBlock,
    fileHashes: Object.fromEntries(index.fileHashes.map((h) => [h.algorithm, toHex(h.digest)])),
    filename: index.metadata.filename ?? null,
    mtime: index.metadata.mtime ?? null,
    urls: index.metadata.urls ?? [],
    attachments: Object.fromEntries(Object.entries(index.metadata.attachments ?? {}).map(([name, data]) => [name, data.length])),
    indexBytes: size,
    bytesPerBlock: index.count === 0 ? null : Number((size / index.count).toFixed(3)),
  };
}

export async function infoCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout(INFO_HELP);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError(`info: expected one <index>, got ${positionals.length}`);
  const path = positionals[0] as string;
  const { format, index } = await readIndexFile(path);
  const size = (await stat(path)).size;
  const d = describeIndex(format, index, size);
  if (values.json) {
    io.stdout(`${JSON.stringify(d, null, 2)}\n`);
    return EXIT_OK;
  }
  const names: Record<IndexFormat, string> = { native: 'native (.gsi)', zsync: '.zsync', gosync: 'go-sync (.gosync)' };
  const lines: [string, string][] = [
    ['format', names[format]],
    ['kind', index.kind],
    ['file length', formatBytes(index.fileLength)],
    [index.kind === 'chunks' ? 'max chunk' : 'block size', String(index.blockSize)],
    [index.kind === 'chunks' ? 'chunks' : 'blocks', String(index.count)],
    ['strong hash', `${index.strongHash}, first ${index.strongBytes} bytes kept`],
    ['weak sum', `${index.weakBytes} of 4 bytes kept (mask 0x${index.weakMask.toString(16).padStart(8, '0')})`],
    ['seq matches', String(index.seqMatches)],
    ['last block', index.padLastBlock ? 'hashed zero-padded to the block size' : 'hashed over its own bytes'],
  ];
  for (const h of index.fileHashes) lines.push([h.algorithm, toHex(h.digest)]);
  if (index.metadata.filename !== undefined) lines.push(['filename', index.metadata.filename]);
  if (index.metadata.mtime !== undefined) lines.push(['mtime', new Date(index.metadata.mtime * 1000).toISOString()]);
  for (const url of index.metadata.urls ?? []) lines.push(['url', url]);
  for (const [name, data] of Object.entries(index.metadata.attachments ?? {})) lines.push(['attachment', `${name}, ${data.length} bytes`]);
  lines.push(['index size', `${formatBytes(size)}${index.count === 0 ? '' : `, ${(size / index.count).toFixed(2)} bytes per block`}`]);
  io.stdout(lines.map(([k, v]) => `${k.padEnd(12)} ${v}\n`).join(''));
  return EXIT_OK;
}
