#!/usr/bin/env node
/**
 * The `gosync` command-line program. See `gosync --help`.
 *
 * @packageDocumentation
 */
import { startEarlyIndex } from './early-index.js';

const args = process.argv.slice(2);
// `gosync sync <URL>`: the index request goes out now, while the rest of the program loads.
const early = startEarlyIndex(args);
const { run } = await import('./cli.js');
process.exitCode = await run(args, {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  interactive: process.stderr.isTTY,
}, early);
