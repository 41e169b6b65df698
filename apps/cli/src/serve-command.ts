// `gosync serve`: a small static HTTP server with Range support, for the demo and for trying
// a sync out without installing a web server.
import { parseArgs } from 'node:util';
import { startStaticServer, type RequestLogEntry } from './serve/static-server.js';
import { EXIT_OK, EXIT_TEXT, EXIT_USAGE, UsageError, parseInteger, type CliIo } from './usage.js';

export const SERVE_HELP: string = `gosync serve <dir> [--port N] [--host H] [--quiet]

Serves the files below <dir> over HTTP/1.1 so that you can try a sync against a URL: GET and
HEAD with byte ranges (single, multiple as multipart/byteranges, suffix and open-ended), 416
for ranges past the end, ETag and Last-Modified with If-Range, If-None-Match and the other
conditional headers. zsync and curl work against it.

It is meant for trying things out, the demo and tests. Real deployments serve the file and
its index from nginx, another web server or a CDN; gosync needs nothing from the server
beyond Range support.

Paths are percent-decoded; ".." and encoded slashes are refused (400); missing files,
directories (no listings) and symbolic links leading out of <dir> get 404.

When it listens it prints one line on stdout, for scripts:
  serving <dir> at http://127.0.0.1:PORT/
then one line per request on stderr. Ctrl-C (SIGINT) or SIGTERM stops it with exit code 0.

Options:
  -p, --port <n>     TCP port (default 8080; 0 picks a free port)
      --host <addr>  address to bind (default 127.0.0.1, this machine only; 0.0.0.0 or ::
                     serve the whole network)
  -q, --quiet        no request log
  -h, --help         this help

${EXIT_TEXT}
`;

/** Options for tests: a signal that stops the server like SIGINT does. */
export interface ServeCommandOptions {
  readonly signal?: AbortSignal;
}

function formatEntry(e: RequestLogEntry): string {
  // Request targets and headers cannot hold CR or LF, but other control characters may get in.
  const clean = (s: string): string => Array.from(s, (c) => (c < ' ' || c === '\x7f' ? '?' : c)).join('');
  const range = e.range === undefined ? '' : ` (Range: ${clean(e.range.length > 80 ? `${e.range.slice(0, 77)}...` : e.range)})`;
  return `${new Date().toISOString()} ${e.remote} "${e.method} ${clean(e.target)}" ${e.status} ${e.bytes}${range}\n`;
}

/**
 * Runs `gosync serve`: serves <dir> until SIGINT, SIGTERM or `options.signal`.
 *
 * @param args - the arguments after `serve`
 * @param io - where output goes
 * @param options - `signal` to stop the server (tests)
 * @returns the exit code: 0 after a clean stop, 2 for usage errors
 * @throws ServeError `ERR_SERVE_ROOT` / `ERR_SERVE_LISTEN` (exit 1 through `run`)
 */
export async function serveCommand(args: string[], io: CliIo, options: ServeCommandOptions = {}): Promise<number> {
  let dir: string;
  let port: number;
  let host: string;
  let quiet: boolean;
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        quiet: { type: 'boolean', short: 'q', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      io.stdout(SERVE_HELP);
      return EXIT_OK;
    }
    if (positionals.length !== 1) throw new UsageError(`serve: expected one <dir>, got ${positionals.length}`);
    dir = positionals[0] as string;
    port = parseInteger('port', values.port) ?? 8080;
    if (port > 65535) throw new UsageError(`--port: expected 0..65535, got ${port}`);
    host = values.host ?? '127.0.0.1';
    if (host === '') throw new UsageError('--host: expected an address, got ""');
    quiet = values.quiet;
  } catch (e) {
    if (e instanceof UsageError || (e instanceof TypeError && (e as { code?: unknown }).code?.toString().startsWith('ERR_PARSE_ARGS') === true)) {
      io.stderr(`gosync: usage: ${e.message}\nRun \`gosync serve --help\` for help.\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
  if (options.signal?.aborted === true) return EXIT_OK;

  const server = await startStaticServer({
    root: dir,
    host,
    port,
    ...(quiet ? {} : { onRequest: (e: RequestLogEntry) => { io.stderr(formatEntry(e)); } }),
  });
  io.stdout(`serving ${dir} at ${server.url}\n`);
  let stop = (): void => undefined;
  const stopped = new Promise<string>((resolve) => {
    const onInt = (): void => { resolve('SIGINT'); };
    const onTerm = (): void => { resolve('SIGTERM'); };
    const onAbort = (): void => { resolve('abort'); };
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    stop = () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      options.signal?.removeEventListener('abort', onAbort);
    };
  });
  try {
    const why = await stopped;
    if (!quiet) io.stderr(`gosync: ${why === 'abort' ? 'stopping' : `${why}: stopping`}; served ${server.stats.requests} requests, ${server.stats.bytesSent} bytes\n`);
  } finally {
    stop();
    await server.close();
  }
  return EXIT_OK;
}
