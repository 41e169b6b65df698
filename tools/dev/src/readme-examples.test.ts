// Every ```ts example in the READMEs really runs: each is written into its package's folder (so
// its imports resolve as a user's would) and run with tsx; it must exit 0 and print what the
// README says it prints where the README pins it.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
const readmes = [
  join(root, 'README.md'),
  ...['packages', 'apps']
    .flatMap((group) => (existsSync(join(root, group)) ? readdirSync(join(root, group)).map((n) => join(root, group, n, 'README.md')) : []))
    .filter((p) => existsSync(p)),
];

function examples(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

describe('README examples run', () => {
  for (const readme of readmes) {
    const blocks = examples(readFileSync(readme, 'utf8'));
    blocks.forEach((code, i) => {
      it(`${relative(root, readme)} example ${i + 1}`, () => {
        // The root README's examples run from tools/dev, which depends on every package.
        const dir = readme === join(root, 'README.md') ? join(root, 'tools', 'dev') : dirname(readme);
        const file = join(dir, `.readme-example-${i + 1}.ts`);
        writeFileSync(file, code);
        try {
          const run = spawnSync(process.execPath, ['--import', 'tsx', file], {
            cwd: dir,
            encoding: 'utf8',
            timeout: 60_000,
            // Plain output whatever the terminal: the printed values are compared as text.
            env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
          });
          expect(run.stderr).toBe('');
          expect(run.status).toBe(0);
          for (const [, expected] of code.matchAll(/\/\/ prints: (.*)$/gm)) expect(run.stdout).toContain(expected);
        } finally {
          rmSync(file, { force: true });
        }
      }, 70_000);
    });
  }
});
