#!/usr/bin/env node
/**
 * The `gosync` command-line program. See `gosync --help`.
 *
 * @packageDocumentation
 */
import { run } from './cli.js';

process.exitCode = await run(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  interactive: process.stderr.isTTY,
});
