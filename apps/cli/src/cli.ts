import { isGosyncError } from '@gosync/core';
import type { EarlyIndex } from './early-index.js';
import { indexCommand } from './index-command.js';
import { infoCommand } from './info-command.js';
import { serveCommand } from './serve-command.js';
import { diffCommand, syncCommand } from './sync-command.js';
import { EXIT_ERROR, EXIT_OK, EXIT_TEXT, EXIT_USAGE, UsageError, isSystemError, type CliIo } from './usage.js';
import { cliVersion } from './version.js';
import { warmUp } from './warm-up.js';

export { EXIT_ERROR, EXIT_OK, EXIT_USAGE } from './usage.js';
export type { CliIo } from './usage.js';

export const MAIN_HELP: string = `gosync — differential file transfer (rsync/zsync style)

Usage:
  gosync index <file> [options]   build an index of <file> (native .gsi, .zsync or .gosync)
  gosync info <index> [--json]    describe an index file of any supported format
  gosync sync <index> -o <out> [--seed FILE]… [--source URL|PATH]…
                                  rebuild the indexed file from local seeds, fetching the rest
                                  (<index> is a path or an http(s) URL; .zsync files work too)
  gosync diff <index> [--seed FILE]…
                                  show what a sync would reuse and fetch, without fetching
  gosync serve <dir> [--port N]   serve <dir> over HTTP with Range support, for trying things out
  gosync <command> --help         help for one command
  gosync --version                print the version

${EXIT_TEXT}
`;

/**
 * Runs the CLI with arguments (without `node` and the script) and returns the exit code.
 * Errors are printed to `io.stderr` as `gosync: <code>: <message>`, the code always an `ERR_…`
 * one: a bare Node system error as `ERR_CLI_IO`, anything unforeseen as `ERR_UNEXPECTED`.
 */
export async function run(args: readonly string[], io: CliIo, early?: EarlyIndex): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case 'index':
        return await indexCommand(rest, io);
      case 'info':
        return await infoCommand(rest, io);
      case 'sync':
        warmUp();
        return await syncCommand(rest, io, early);
      case 'diff':
        warmUp();
        return await diffCommand(rest, io);
      case 'serve':
        return await serveCommand(rest, io);
      case '--version':
      case '-V':
        io.stdout(`gosync ${await cliVersion()} (Node ${process.version})\n`);
        return EXIT_OK;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout(MAIN_HELP);
        return command === undefined ? EXIT_USAGE : EXIT_OK;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (e) {
    if (e instanceof UsageError || (e instanceof TypeError && (e as { code?: unknown }).code?.toString().startsWith('ERR_PARSE_ARGS') === true)) {
      io.stderr(`gosync: usage: ${usageMessage(e)}\nRun \`gosync ${command !== undefined && ['index', 'info', 'sync', 'diff'].includes(command) ? `${command} ` : ''}--help\` for help.\n`);
      return EXIT_USAGE;
    }
    if (isGosyncError(e)) {
      io.stderr(`gosync: ${e.code}: ${e.message}\n`);
      return EXIT_ERROR;
    }
    // Last resort: a system error (its message starts with its own code, e.g. EACCES) gets
    // ERR_CLI_IO, anything else ERR_UNEXPECTED, so every message starts with one ERR_ code.
    const message = e instanceof Error ? e.message : String(e);
    io.stderr(`gosync: ${isSystemError(e) ? 'ERR_CLI_IO' : 'ERR_UNEXPECTED'}: ${message}\n`);
    return EXIT_ERROR;
  }
}

/**
 * The text of a usage error. node:util's message for an unknown option ends in advice about
 * `--` with unbalanced quotes; the option's name is what helps.
 */
function usageMessage(e: Error): string {
  const unknown = /^Unknown option '([^']+)'/.exec(e.message);
  return (e as { code?: unknown }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown !== null ? `unknown option ${unknown[1] ?? ''}` : e.message;
}
