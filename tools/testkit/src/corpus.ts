// The benchmark corpus: pairs of real published files (old → new), made from npm package
// tarballs at pinned versions, checked against pinned integrity hashes, gunzipped, and for the
// large pair concatenated. Nothing large is committed: files are fetched with `npm pack` into
// .cache/corpus/ on first use and reused afterwards.
//
//   pnpm exec tsx tools/testkit/src/corpus.ts [pair…]   # prints the paths, fetching what is missing
//
// Benchmarks import `corpusPair(name)` from this file (dev-only; no @gosync imports here).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

/** A published tarball, pinned by its sha512 integrity. */
interface Tarball {
  readonly spec: string;
  readonly integrity: string;
}

/** One benchmark pair: the old file is the concatenation of `old`, the new one of `new`. */
interface PairSpec {
  readonly description: string;
  readonly old: readonly Tarball[];
  readonly new: readonly Tarball[];
}

const TS_583 = { spec: 'typescript@5.8.3', integrity: 'sha512-p1diW6TqL9L07nNxvRMM7hMMw4c5XOo/1ibL4aAIGmSAt9slTE1Xgw5KWuof2uTOvCg9BY7ZRi+GaF+7sfgPeQ==' };
const TS_592 = { spec: 'typescript@5.9.2', integrity: 'sha512-CWBzXQrc/qOkhidw1OzBTQuYRbfyxDXJMVJ1XNwUHGROVmuaeiEm3OslpZ1RV96d7SKKjZKrSJu3+t/xlw3R9A==' };
const TS_593 = { spec: 'typescript@5.9.3', integrity: 'sha512-jl1vZzPDinLr9eUt3J/t7V6FgNEw9QjvBPdysz9KfQDD41fQrC2Y4vKQdiaUpFT4bXlb1RHhLpp8wtm6M5TgSw==' };
const SWC_OLD = [
  { spec: '@next/swc-linux-x64-gnu@15.5.0', integrity: 'sha512-zPisT+obYypM/l6EZ0yRkK3LEuoZqHaSoYKj+5jiD9ESHwdr6QhnabnNxYkdy34uCigNlWIaCbjFmQ8FY5AlxA==' },
  { spec: '@next/swc-linux-x64-musl@15.5.0', integrity: 'sha512-+t3+7GoU9IYmk+N+FHKBNFdahaReoAktdOpXHFIPOU1ixxtdge26NgQEEkJkCw2dHT9UwwK5zw4mAsURw4E8jA==' },
  { spec: '@next/swc-linux-arm64-gnu@15.5.0', integrity: 'sha512-mGlPJMZReU4yP5fSHjOxiTYvZmwPSWn/eF/dcg21pwfmiUCKS1amFvf1F1RkLHPIMPfocxLViNWFvkvDB14Isg==' },
  { spec: '@next/swc-linux-arm64-musl@15.5.0', integrity: 'sha512-biWqIOE17OW/6S34t1X8K/3vb1+svp5ji5QQT/IKR+VfM3B7GvlCwmz5XtlEan2ukOUf9tj2vJJBffaGH4fGRw==' },
];
const SWC_NEW = [
  { spec: '@next/swc-linux-x64-gnu@15.5.2', integrity: 'sha512-o1RV/KOODQh6dM6ZRJGZbc+MOAHww33Vbs5JC9Mp1gDk8cpEO+cYC/l7rweiEalkSm5/1WGa4zY7xrNwObN4+Q==' },
  { spec: '@next/swc-linux-x64-musl@15.5.2', integrity: 'sha512-/VUnh7w8RElYZ0IV83nUcP/J4KJ6LLYliiBIri3p3aW2giF+PAVgZb6mk8jbQSB3WlTai8gEmCAr7kptFa1H6g==' },
  { spec: '@next/swc-linux-arm64-gnu@15.5.2', integrity: 'sha512-3j7SWDBS2Wov/L9q0mFJtEvQ5miIqfO4l7d2m9Mo06ddsgUK8gWfHGgbjdFlCp2Ek7MmMQZSxpGFqcC8zGh2AA==' },
  { spec: '@next/swc-linux-arm64-musl@15.5.2', integrity: 'sha512-s6N8k8dF9YGc5T01UPQ08yxsK6fUow5gG1/axWc1HVVBYQBgOjca4oUZF7s4p+kwhkB1bDSGR8QznWrFZ/Rt5g==' },
];

/** The pairs, by name. */
export const PAIRS: Readonly<Record<string, PairSpec>> = {
  'ts-adjacent': { description: 'typescript 5.9.2 → 5.9.3 tarballs (adjacent releases, ~23 MB)', old: [TS_592], new: [TS_593] },
  'ts-minor': { description: 'typescript 5.8.3 → 5.9.3 tarballs (a minor release: large rewrites, ~23 MB)', old: [TS_583], new: [TS_593] },
  'swc-large': {
    description: '@next/swc for 4 platforms, 15.5.0 → 15.5.2, concatenated (native binaries, ~560 MB)',
    old: SWC_OLD,
    new: SWC_NEW,
  },
};

const root = resolve(import.meta.dirname, '../../..');
const cacheDir = join(root, '.cache', 'corpus');

function sha512(path: string): string {
  return `sha512-${createHash('sha512').update(readFileSync(path)).digest('base64')}`;
}

function fetchTarball(tarball: Tarball): string {
  const dir = join(cacheDir, 'tgz');
  mkdirSync(dir, { recursive: true });
  const name = `${tarball.spec.replace(/^@/, '').replaceAll('/', '-').replace('@', '-')}.tgz`;
  const path = join(dir, name);
  if (!existsSync(path)) {
    console.error(`corpus: npm pack ${tarball.spec}`);
    execFileSync('npm', ['pack', tarball.spec, '--silent', '--pack-destination', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const actual = sha512(path);
  if (actual !== tarball.integrity) {
    rmSync(path, { force: true });
    throw new Error(`corpus: ${tarball.spec} has integrity ${actual}, pinned ${tarball.integrity}`);
  }
  return path;
}

async function concatGunzipped(tarballs: readonly Tarball[], out: string): Promise<void> {
  const partial = `${out}.partial`;
  const sink = createWriteStream(partial);
  for (const t of tarballs) {
    await pipeline(createReadStream(fetchTarball(t)), createGunzip(), sink, { end: false });
  }
  await new Promise<void>((done, fail) => sink.end((error?: Error | null) => { if (error) fail(error); else done(); }));
  renameSync(partial, out);
}

/** A corpus pair on disk. */
export interface CorpusPair {
  readonly name: string;
  readonly description: string;
  readonly old: string;
  readonly new: string;
  readonly oldSize: number;
  readonly newSize: number;
}

/**
 * Returns the pair's files, fetching and unpacking them on first use.
 *
 * @param name - a key of {@link PAIRS}
 */
export async function corpusPair(name: string): Promise<CorpusPair> {
  const spec = PAIRS[name];
  if (spec === undefined) throw new Error(`corpus: no pair ${name}; pairs: ${Object.keys(PAIRS).join(', ')}`);
  const dir = join(cacheDir, name);
  mkdirSync(dir, { recursive: true });
  const paths = { old: join(dir, 'old.tar'), new: join(dir, 'new.tar') };
  for (const side of ['old', 'new'] as const) {
    if (!existsSync(paths[side])) await concatGunzipped(spec[side], paths[side]);
  }
  return { name, description: spec.description, old: paths.old, new: paths.new, oldSize: statSync(paths.old).size, newSize: statSync(paths.new).size };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const names = process.argv.slice(2);
  for (const name of names.length > 0 ? names : Object.keys(PAIRS)) {
    const pair = await corpusPair(name);
    console.log(`${pair.name}\t${pair.old}\t${pair.oldSize}\t${pair.new}\t${pair.newSize}\t${pair.description}`);
  }
}
