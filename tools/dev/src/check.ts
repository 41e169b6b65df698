// The repository's whole check: build, typecheck, lint, document and test every workspace package with
// turbo, then print one summary line that CI reads: `N passed, N failed, N skipped`.
// A build, typecheck or lint task that fails counts as one failed test; so does a test task that
// crashed before writing its report. Exits non-zero on any failure.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../../..');
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', FORCE_COLOR: process.env['FORCE_COLOR'] ?? '1' };

interface TaskSummary {
  taskId: string;
  package: string;
  task: string;
  execution?: { exitCode?: number | null } | null;
}

function workspaceDirs(): string[] {
  const dirs: string[] = [];
  for (const group of ['packages', 'apps', 'tools']) {
    const groupDir = join(root, group);
    if (!existsSync(groupDir)) continue;
    for (const name of readdirSync(groupDir)) {
      if (existsSync(join(groupDir, name, 'package.json'))) dirs.push(join(groupDir, name));
    }
  }
  return dirs;
}

function latestSummary(): TaskSummary[] {
  const runs = join(root, '.turbo', 'runs');
  if (!existsSync(runs)) return [];
  const files = readdirSync(runs).filter((f) => f.endsWith('.json')).sort();
  const last = files.at(-1);
  if (last === undefined) return [];
  const summary = JSON.parse(readFileSync(join(runs, last), 'utf8')) as { tasks?: TaskSummary[] };
  rmSync(runs, { recursive: true, force: true });
  return summary.tasks ?? [];
}

function turbo(tasks: string[]): { ok: boolean; failed: string[] } {
  const args = ['exec', 'turbo', 'run', ...tasks, '--continue', '--summarize', '--output-logs=new-only'];
  const result = spawnSync('pnpm', args, { cwd: root, env, stdio: 'inherit' });
  const failed = latestSummary()
    .filter((t) => t.execution != null && t.execution.exitCode != null && t.execution.exitCode !== 0)
    .map((t) => t.taskId);
  return { ok: result.status === 0, failed };
}

interface VitestReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests?: number;
  testResults: { name: string; status: string; assertionResults: unknown[]; message?: string }[];
}

for (const dir of workspaceDirs()) rmSync(join(dir, '.reports'), { recursive: true, force: true });

const staticCheck = turbo(['build', 'typecheck', 'lint', 'docs:site']);
const testRun = turbo(['test']);

let passed = 0;
let failed = 0;
let skipped = 0;
const problems: string[] = [];
for (const task of staticCheck.failed) {
  failed++;
  problems.push(`task failed: ${task}`);
}
if (!staticCheck.ok && staticCheck.failed.length === 0) {
  failed++;
  problems.push('turbo build/typecheck/lint failed before running its tasks');
}

const reported = new Set<string>();
for (const dir of workspaceDirs()) {
  const file = join(dir, '.reports', 'vitest.json');
  if (!existsSync(file)) continue;
  const report = JSON.parse(readFileSync(file, 'utf8')) as VitestReport;
  const name = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string }).name;
  reported.add(name);
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + (report.numTodoTests ?? 0);
  for (const suite of report.testResults) {
    // A test file that failed to load has no test results: count it as one failure.
    if (suite.status === 'failed' && suite.assertionResults.length === 0) {
      failed++;
      problems.push(`test file failed to run: ${suite.name}${suite.message ? `: ${suite.message.split('\n')[0] ?? ''}` : ''}`);
    }
  }
}
for (const task of testRun.failed) {
  const pkg = task.slice(0, task.lastIndexOf('#'));
  if (!reported.has(pkg)) {
    failed++;
    problems.push(`test task crashed without a report: ${task}`);
  }
}
if (!testRun.ok && testRun.failed.length === 0) {
  failed++;
  problems.push('turbo test failed before running its tasks');
}

for (const p of problems) console.error(`check: ${p}`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || !staticCheck.ok || !testRun.ok ? 1 : 0);
