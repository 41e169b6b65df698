// `pnpm demo`: the whole story on real files, with the real CLI. The "publisher" indexes the new
// release of TypeScript (two published releases, `npm pack`ed at pinned versions and hashes, see
// tools/testkit/src/corpus.ts) and serves it with `gosync serve`; the "client", who has only the
// old release, syncs the new one over HTTP and gets a byte-identical file while downloading only
// what changed. Without the registry, a locally edited copy of typescript.js stands in.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { corpusPair } from '@gosync/testkit/corpus';

const cli = fileURLToPath(new URL('../../../apps/cli/dist/bundle/gosync.js', import.meta.url));
const mb = (n: number): string => `${(n / 1e6).toFixed(2)} MB`;

function gosync(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cli, ...args], { maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout);
      else reject(new Error(`gosync ${args.join(' ')} failed:\n${stderr}`));
    });
  });
}

/** Two versions of a real file: TypeScript 5.8.3 and 5.9.3, or an edited local copy offline. */
async function versions(dir: string): Promise<{ old: string; neu: string; what: string }> {
  try {
    const pair = await corpusPair('ts-minor');
    return { old: pair.old, neu: pair.new, what: pair.description };
  } catch (error) {
    console.log(`(the registry is out of reach: ${(error as Error).message.split('\n')[0] ?? ''}; using an edited typescript.js)`);
    const require = createRequire(import.meta.url);
    const seed = await readFile(require.resolve('typescript/lib/typescript.js'));
    const at = (f: number): number => Math.floor(seed.length * f);
    const edited = Buffer.concat([
      seed.subarray(0, at(0.2)),
      Buffer.from('/* a patch release changes a few lines */\n'),
      seed.subarray(at(0.2), at(0.5)),
      seed.subarray(at(0.5) + 1000, at(0.8)),
      Buffer.from('// replaced'),
      seed.subarray(at(0.8) + 11),
    ]);
    const old = join(dir, 'typescript-old.js');
    const neu = join(dir, 'typescript-new.js');
    await writeFile(old, seed);
    await writeFile(neu, edited);
    return { old, neu, what: 'typescript.js and a copy with three edits' };
  }
}

/** Starts `gosync serve` and reads the URL it prints. */
function serve(dir: string): Promise<{ url: string; stop: () => void }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'serve', dir, '--port', '0', '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const m = /at (http:\/\/\S+?)\/?\s/.exec(text);
      if (m?.[1] !== undefined) resolve({ url: m[1], stop: () => child.kill('SIGTERM') });
    });
    child.once('exit', (code) => {
      reject(new Error(`gosync serve exited with ${String(code)}: ${text}`));
    });
  });
}

const sha256 = async (path: string): Promise<string> => createHash('sha256').update(await readFile(path)).digest('hex');

const work = await mkdtemp(join(tmpdir(), 'gosync-demo-'));
try {
  const { old, neu, what } = await versions(work);
  const publish = join(work, 'server');
  const client = join(work, 'client');
  await mkdir(publish);
  await mkdir(client);

  console.log(`files        ${what}`);
  // 1. Publish: the new version and its index, side by side on a plain static server.
  await copyFile(neu, join(publish, 'new.tar'));
  let t = performance.now();
  await gosync(['index', join(publish, 'new.tar'), '-u', 'new.tar', '-q']);
  const indexSize = (await stat(join(publish, 'new.tar.gsi'))).size;
  const size = (await stat(neu)).size;
  console.log(`publish      gosync index new.tar: ${mb(indexSize)} index of ${mb(size)} in ${(performance.now() - t).toFixed(0)} ms`);
  const server = await serve(publish);
  try {
    console.log(`serve        gosync serve at ${server.url}/`);
    // 2. Sync: the client has the old version only.
    await copyFile(old, join(client, 'old.tar'));
    t = performance.now();
    const out = join(client, 'new.tar');
    const summary = JSON.parse(
      await gosync(['sync', `${server.url}/new.tar.gsi`, '-o', out, '--seed', join(client, 'old.tar'), '--json']),
    ) as Record<string, number>;
    const ms = performance.now() - t;
    const wire = summary['httpBytesReceived'] ?? 0;
    console.log(
      `sync         gosync sync ${server.url}/new.tar.gsi --seed old.tar: ${ms.toFixed(0)} ms, ${summary['httpRequests'] ?? 0} HTTP requests`,
    );
    console.log(`reused       ${mb(summary['reusedBytes'] ?? 0)} of the old version (${((100 * (summary['reusedBytes'] ?? 0)) / size).toFixed(1)} %)`);
    console.log(`downloaded   ${mb(wire)} with the index, instead of ${mb(size)}: ${((100 * (1 - wire / size))).toFixed(1)} % saved`);
    const same = (await sha256(out)) === (await sha256(neu));
    console.log(`check        sha256 of the result ${same ? 'equals' : 'DIFFERS FROM'} the published file`);
    if (!same) process.exitCode = 1;
  } finally {
    server.stop();
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
