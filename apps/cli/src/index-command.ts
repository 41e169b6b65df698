// `gosync index`: build an index (native, .zsync or .gosync), optionally with a block store
// and a compressed artifact.
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { BLOCK_STORE_MANIFEST_NAME, writeBlockStore } from '@gosync/blocksources';
import {
  COMPRESSION_CODECS,
  DEFAULT_LEVELS,
  LEVEL_RANGES,
  MAX_DICTIONARY_SIZE,
  artifactLength,
  compressFile,
  defaultGroupSize,
  encodeLayout,
  sampleDictionary,
  type CompressionCodec,
} from '@gosync/compress';
import { isGosyncError } from '@gosync/core';
import {
  buildIndex,
  defaultBlockSize,
  encodeGosync,
  encodeIndex,
  encodeZsync,
  isStrongHashName,
  STRONG_HASH_NAMES,
  type BlockIndex,
  type BuildIndexOptions,
} from '@gosync/index';
import { ARTIFACT_EXTENSION, COMPRESS_ATTACHMENT } from './sources.js';
import { CliError, EXIT_OK, EXIT_TEXT, UsageError, isSystemError, parseInteger, systemReason, type CliIo } from './usage.js';

export const INDEX_HELP: string = `gosync index <file> [options]

Reads <file> once and writes its index: per block a weak rolling sum and a strong hash,
plus the whole-file hash. Clients download the index first and fetch only missing blocks.

Options:
  -o, --output <path>     where to write (default: <file>.gsi, <file>.zsync or <file>.gosync)
  -f, --format <format>   native (default; smallest, xxh128 + SHA-256)
                          zsync  (readable by zsync 0.6.2: MD4, SHA-1, zsyncmake's sizes)
                          gosync (go-sync's layout: MD5, full sums)
  -b, --block-size <n>    block size in bytes. Default: 2048 below 100 MB, else 4096 (as
                          zsyncmake), doubled for native files over 4 GiB to keep the index
                          at most 2^20 blocks; gosync: the power of two at or above
                          sqrt(file size). Smaller blocks fetch less, but the index grows.
      --hash <name>       strong hash: ${STRONG_HASH_NAMES.join(', ')} (native only;
                          zsync needs md4, gosync md5)
      --full-hashes       keep whole digests with single-block matching instead of
                          truncated strong hashes with two-block matching (native only)
      --chunks            cut content-defined chunks instead of fixed blocks, so an insertion
                          moves only nearby boundaries (native only)
      --avg-size <n>      average chunk size with --chunks, a power of two (default 65536;
                          chunks range from a quarter to four times it)
  -u, --url <url>         a URL of the file, stored in the index (repeatable; may be relative
                          to the index's own URL). Without one (and without --store or
                          --compress, which add their own), \`gosync sync\` needs
                          --source <URL of the file>; a note on stderr says so
      --store <dir>       also write a content-addressed block store of the file into <dir>
                          (objects named by SHA-256, and manifest.gbs) for static hosts
                          without Range support; its manifest's path relative to the index
                          is added to the index's URLs, so clients use it without flags
      --object-size <n>   bytes per store object (default 262144): smaller objects waste
                          less around each change, larger ones need fewer requests
      --compress <codec>  also write a compressed artifact of the file: zstd, brotli or gzip.
                          Consecutive blocks are compressed in groups, each on its own; the
                          index stores the compressed sizes (attachment "compress") and lists
                          the artifact first among its URLs, so clients fetch the groups they
                          need without flags (native format only)
      --level <n>         compression level: zstd ${LEVEL_RANGES.zstd.join('–')} (default ${DEFAULT_LEVELS.zstd}), brotli ${LEVEL_RANGES.brotli.join('–')} (default ${DEFAULT_LEVELS.brotli}),
                          gzip ${LEVEL_RANGES.gzip.join('–')} (default ${DEFAULT_LEVELS.gzip}). zstd 6 makes artifacts 2–9 % smaller than
                          zstd's usual 3 at about half the speed; groups are compressed on
                          worker threads, so publishing stays fast
      --group-size <n>    bytes per compressed group, a multiple of the block size. Default:
                          from the file size, about 4096 groups: 4 KiB below 32 MiB, doubling
                          up to 128 KiB from 512 MiB (whole blocks, at least one). A client
                          lacking one block fetches its whole group: small groups fetch less
                          where changes are scattered, large groups compress better, which
                          decides where most of a file changes, and publish faster. Measured:
                          a 557 MB file of native binaries, 88 % changed, moves 28.4 % of
                          its size with 128 KiB groups, 37.4 % with 4 KiB (zchunk 29.0 %);
                          the same file with 200 small scattered edits moves 1.65 % with
                          128 KiB groups, 0.34 % with 4 KiB. Large files that change in a few
                          small places want --group-size 4096
      --dictionary <n>    zstd only: compress every group with a dictionary of <n> bytes
                          sampled from the file (256-byte pieces, evenly spaced; e.g. 16384),
                          stored at the start of the artifact. Default: none. It pays for
                          small groups of text with scattered rewrites (a TypeScript minor
                          release, 16384: 12.2 % instead of 14.0 % of the file on the wire),
                          but every client fetches it once (an adjacent release: 0.59 %
                          instead of 0.54 %), publishing runs about half as fast, and large
                          groups gain almost nothing
      --artifact <path>   where to write the artifact (default: the index path with .gsz
                          instead of .gsi)
      --workers <n>       hashing threads (default: automatic; 0 = none)
  -q, --quiet             no summary line
  -h, --help              this help

${EXIT_TEXT}
`;

/** The checked `--compress`, `--level`, `--group-size` and `--artifact` options of `gosync index`. */
function parseCompression(
  values: {
    compress?: string | undefined;
    level?: string | undefined;
    'group-size'?: string | undefined;
    artifact?: string | undefined;
    dictionary?: string | undefined;
    chunks?: boolean | undefined;
  },
  format: string,
): { codec: CompressionCodec; level: number | undefined; groupSize: number | undefined; dictionary: number | undefined } | undefined {
  const codec = values.compress;
  if (codec === undefined) {
    for (const name of ['level', 'group-size', 'artifact', 'dictionary'] as const) {
      if (values[name] !== undefined) throw new UsageError(`--${name}: only with --compress`);
    }
    return undefined;
  }
  if (!(COMPRESSION_CODECS as readonly string[]).includes(codec)) {
    throw new UsageError(`--compress: expected ${COMPRESSION_CODECS.join(', ')}, got ${JSON.stringify(codec)}`);
  }
  const c = codec as CompressionCodec;
  if (format !== 'native') throw new UsageError(`--compress: only for the native format (the ${format} format cannot carry the compressed layout)`);
  if (values.chunks === true) throw new UsageError('--compress: only with fixed blocks, not with --chunks');
  const level = parseInteger('level', values.level);
  const [low, high] = LEVEL_RANGES[c];
  if (level !== undefined && (level < low || level > high)) throw new UsageError(`--level: ${c} levels are ${low}–${high}, got ${level}`);
  const groupSize = parseInteger('group-size', values['group-size']);
  if (groupSize === 0) throw new UsageError('--group-size: expected at least 1');
  const dictionary = parseInteger('dictionary', values.dictionary);
  if (dictionary !== undefined && c !== 'zstd') throw new UsageError(`--dictionary: only with --compress zstd, not ${c}`);
  if (dictionary !== undefined && dictionary > MAX_DICTIONARY_SIZE) {
    throw new UsageError(`--dictionary: at most ${MAX_DICTIONARY_SIZE} bytes, got ${dictionary}`);
  }
  return { codec: c, level, groupSize, dictionary: dictionary === 0 ? undefined : dictionary };
}

export async function indexCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      output: { type: 'string', short: 'o' },
      format: { type: 'string', short: 'f', default: 'native' },
      'block-size': { type: 'string', short: 'b' },
      hash: { type: 'string' },
      'full-hashes': { type: 'boolean', default: false },
      chunks: { type: 'boolean', default: false },
      'avg-size': { type: 'string' },
      url: { type: 'string', short: 'u', multiple: true },
      store: { type: 'string' },
      'object-size': { type: 'string' },
      compress: { type: 'string' },
      level: { type: 'string' },
      'group-size': { type: 'string' },
      artifact: { type: 'string' },
      dictionary: { type: 'string' },
      workers: { type: 'string' },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout(INDEX_HELP);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError(`index: expected one <file>, got ${positionals.length}`);
  const file = positionals[0] as string;
  const format = values.format;
  if (format !== 'native' && format !== 'zsync' && format !== 'gosync') {
    throw new UsageError(`--format: expected native, zsync or gosync, got ${JSON.stringify(format)}`);
  }
  const hash = values.hash;
  if (hash !== undefined) {
    if (!isStrongHashName(hash)) throw new UsageError(`--hash: expected one of ${STRONG_HASH_NAMES.join(', ')}, got ${JSON.stringify(hash)}`);
    const needed = format === 'zsync' ? 'md4' : format === 'gosync' ? 'md5' : undefined;
    if (needed !== undefined && hash !== needed) throw new UsageError(`--hash: the ${format} format needs ${needed}`);
  }
  if (values['full-hashes'] && format !== 'native') throw new UsageError('--full-hashes: only for the native format');
  if (values.chunks && format !== 'native') throw new UsageError('--chunks: only for the native format');
  if (values.chunks && values['block-size'] !== undefined) throw new UsageError('--chunks and --block-size exclude each other; use --avg-size');
  if (!values.chunks && values['avg-size'] !== undefined) throw new UsageError('--avg-size: only with --chunks');
  const avgSize = parseInteger('avg-size', values['avg-size']);
  const blockSize = parseInteger('block-size', values['block-size']);
  const workers = parseInteger('workers', values.workers);
  const objectSize = parseInteger('object-size', values['object-size']);
  if (objectSize !== undefined && values.store === undefined) throw new UsageError('--object-size: only with --store');
  if (objectSize === 0) throw new UsageError('--object-size: expected at least 1');
  const compress = parseCompression(values, format);
  const extension = format === 'native' ? '.gsi' : `.${format}`;
  const output = values.output ?? `${file}${extension}`;
  const urls = [...(values.url ?? [])];
  // The index's temporary file is opened first, so that an unwritable output fails before the
  // file is read; it is removed on any failure.
  const temp = `${output}.tmp-${process.pid}`;
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, 'w');
  } catch (e) {
    throw new CliError('ERR_CLI_IO', `cannot write the index ${output}: ${systemReason(e)}`, { cause: e });
  }
  let renamed = false;
  let index: BlockIndex;
  let bytes: Uint8Array;
  let artifactNote = '';
  try {
    if (values.store !== undefined) {
      const store = values.store;
      await ioStep(file, `write the block store ${store}`, () => writeBlockStore(file, store, objectSize === undefined ? {} : { objectSize }));
      const manifest = relative(dirname(resolve(output)), join(resolve(store), BLOCK_STORE_MANIFEST_NAME)).split(sep).join('/');
      if (!urls.includes(manifest)) urls.push(manifest);
    }
    const options: BuildIndexOptions = {
      profile: format,
      ...(blockSize === undefined ? {} : { blockSize }),
      ...(workers === undefined ? {} : { workers }),
      ...(hash === undefined ? {} : { strongHash: hash }),
      ...(values['full-hashes'] ? { hashLengths: 'full' as const } : {}),
      ...(values.chunks ? { kind: 'chunks' as const, chunking: avgSize === undefined ? {} : { avgSize } } : {}),
      ...(urls.length === 0 ? {} : { metadata: { urls } }),
    };
    if (compress === undefined) index = await buildIndex(file, options);
    else {
      // The block size is fixed first, so that hashing (worker threads) and compressing run at once.
      const fileSize = (await ioStep(file, `read ${file}`, () => stat(file))).size;
      const indexBlockSize = blockSize ?? defaultBlockSize(fileSize);
      // By default the group grows with the file (defaultGroupSize): small groups fetch less where
      // changes are scattered, large ones compress better where most of a file changes
      // (docs/benchmarks.md, issue 6).
      const groupSize = compress.groupSize ?? defaultGroupSize(fileSize, indexBlockSize);
      const blocksPerGroup = groupSize / indexBlockSize;
      if (!Number.isInteger(blocksPerGroup) || blocksPerGroup < 1) {
        throw new UsageError(`--group-size: expected a multiple of the block size ${indexBlockSize}, got ${String(compress.groupSize)}`);
      }
      const artifact = values.artifact ?? `${output.endsWith('.gsi') ? output.slice(0, -'.gsi'.length) : output}${ARTIFACT_EXTENSION}`;
      if (!artifact.endsWith(ARTIFACT_EXTENSION)) throw new UsageError(`--artifact: the name must end in ${ARTIFACT_EXTENSION} (clients recognise artifacts by it), got ${JSON.stringify(artifact)}`);
      // A dictionary is sampled before compressing starts (a few hundred reads of 256 bytes).
      const dictionarySize = compress.dictionary;
      const dictionary = dictionarySize === undefined ? undefined : await ioStep(file, `read ${file}`, () => sampleDictionary(file, { size: dictionarySize }));
      // Both settle before a failure is reported, so that no artifact appears after the error.
      const [built, compressed] = await Promise.allSettled([
        buildIndex(file, { ...options, blockSize: indexBlockSize }),
        ioStep(file, `write the artifact ${artifact}`, () =>
          compressFile(file, artifact, {
            codec: compress.codec,
            blockSize: indexBlockSize,
            ...(compress.level === undefined ? {} : { level: compress.level }),
            blocksPerGroup,
            ...(dictionary === undefined || dictionary.length === 0 ? {} : { dictionary }),
          }),
        ),
      ]);
      if (built.status === 'rejected') throw built.reason;
      if (compressed.status === 'rejected') throw compressed.reason;
      const layout = compressed.value;
      index = built.value;
      const url = relative(dirname(resolve(output)), resolve(artifact)).split(sep).join('/');
      const metaUrls = [url, ...(index.metadata.urls ?? []).filter((u) => u !== url)];
      index = index.withMetadata({ ...index.metadata, urls: metaUrls, attachments: { ...index.metadata.attachments, [COMPRESS_ATTACHMENT]: encodeLayout(layout) } });
      const size = artifactLength(layout);
      artifactNote = `; ${layout.codec} ${layout.level} artifact ${artifact}, ${size} bytes (${index.fileLength === 0 ? 100 : ((100 * size) / index.fileLength).toFixed(1)} % of the file) in ${layout.sizes.length} groups of ${layout.groupSize} bytes${layout.dictionary === undefined ? '' : ` after a ${layout.dictionary.length}-byte dictionary`}${dictionary?.length === 0 ? ' (the file is too small for a dictionary: none)' : ''}`;
    }
    bytes = format === 'native' ? encodeIndex(index) : format === 'zsync' ? encodeZsync(index) : encodeGosync(index);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
      await handle.close();
      handle = undefined;
      await rename(temp, output);
      renamed = true;
    } catch (e) {
      throw new CliError('ERR_CLI_IO', `cannot write the index ${output}: ${systemReason(e)}`, { cause: e });
    }
  } finally {
    await handle?.close().catch(() => undefined);
    if (!renamed) await rm(temp, { force: true }).catch(() => undefined);
  }
  if (!values.quiet) {
    const cut = index.kind === 'chunks' ? `${index.count} chunks of at most ${index.blockSize} bytes` : `${index.count} blocks of ${index.blockSize} bytes`;
    io.stdout(`${output}: ${format} index of ${file}, ${cut}, ${bytes.length} bytes${values.store === undefined ? '' : `; block store in ${values.store}`}${artifactNote}\n`);
    // The gosync format carries no URLs; the others do, and a client of an index without any
    // stops with ERR_PATCHER_NO_SOURCE unless given --source.
    if (format !== 'gosync' && (index.metadata.urls ?? []).length === 0) {
      io.stderr('note: no URL stored (-u): clients will need --source <URL of the file>\n');
    }
  }
  return EXIT_OK;
}

/**
 * Runs one step that reads `input` and writes an output, turning its failures into
 * `ERR_CLI_IO` errors that name the file as the user gave it: "cannot read <input>: …" when the
 * input failed, else "cannot <doing>: …"; other errors pass unchanged. Errors of the packages that already carry a code and
 * the real file names (`ERR_INDEX_IO`, `ERR_BLOCKSOURCE_IO`, …) pass unchanged; `ERR_COMPRESS_IO`
 * is rewrapped, as it names the artifact's temporary file.
 */
async function ioStep<T>(input: string, doing: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (e) {
    if (isGosyncError(e) && e.code !== 'ERR_COMPRESS_IO') throw e;
    const system = isSystemError(e) ? e : isGosyncError(e) && isSystemError(e.cause) ? e.cause : undefined;
    if (system === undefined && !isGosyncError(e)) throw e; // not an I/O failure: a bug, ERR_UNEXPECTED
    const reason = system === undefined ? (e as Error).message : systemReason(system);
    const what = system?.path === input ? `read ${input}` : doing;
    throw new CliError('ERR_CLI_IO', `cannot ${what}: ${reason}`, { cause: e });
  }
}
