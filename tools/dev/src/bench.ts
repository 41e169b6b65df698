// `pnpm bench`: prints the machine, then runs every package's benchmarks one at a time (so they
// do not compete for the two cores). Copy the output into docs/benchmarks.md with the date.
import { spawnSync } from 'node:child_process';
import { cpus, freemem, totalmem } from 'node:os';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../../..');
const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(`machine: ${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB (${(freemem() / 2 ** 30).toFixed(0)} GiB free)`);
console.log(`node ${process.version}, ${new Date().toISOString()}`);
const filter = process.argv.slice(2).flatMap((p) => ['--filter', p]);
const run = spawnSync('pnpm', ['exec', 'turbo', 'run', 'bench', '--concurrency=1', '--output-logs=full', ...filter], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
});
process.exit(run.status ?? 1);
