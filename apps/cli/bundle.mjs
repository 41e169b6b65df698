// Bundles the built CLI (dist/main.js) and the worker scripts it starts into dist/bundle/, one
// ESM file each: `gosync.js` (the `gosync` bin), `scan-worker.js` and `verify-worker.js`
// (@gosync/patcher's parallel scan and output hashing), `hash-worker.js` (@gosync/index's
// parallel hashing) and `compress-worker.js` (@gosync/compress's parallel compression).
//
// Why: Node loads one file much faster than a tree of ES modules, and the bundle loads only
// the parts of undici it uses (undici-lite.cjs). The unbundled CLI spends
// about 0.2 s resolving and linking ~150 modules (undici alone ~0.1 s) before it does
// anything; the bundle starts in about a third of that, which is most of a small sync's wall
// time on a fast link (docs/benchmarks.md § Start-up).
//
// The workers keep their file names: the packages start them with
// `new URL('./scan-worker.js', import.meta.url)`, and inside the bundle `import.meta.url` is
// the bundle's own URL, so they are found beside it.
import { copyFile, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const packageDist = (name) => dirname(require.resolve(name));

const { version } = JSON.parse(await readFile(join(here, 'package.json'), 'utf8'));
// Chunk names carry a content hash: start empty, or old chunks pile up beside the new ones.
await rm(join(here, 'dist', 'bundle'), { recursive: true, force: true });

await build({
  entryPoints: {
    gosync: join(here, 'dist', 'main.js'),
    'scan-worker': join(packageDist('@gosync/patcher'), 'scan-worker.js'),
    'verify-worker': join(packageDist('@gosync/patcher'), 'verify-worker.js'),
    'hash-worker': join(packageDist('@gosync/index'), 'hash-worker.js'),
    'compress-worker': join(packageDist('@gosync/compress'), 'compress-worker.js'),
  },
  outdir: join(here, 'dist', 'bundle'),
  bundle: true,
  // main.ts loads the rest of the program with a dynamic import, after sending the index
  // request (early-index.ts): that import becomes a chunk of its own.
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
  // `gosync --version` of a bundle copied elsewhere (see src/version.ts).
  define: { 'globalThis.GOSYNC_CLI_VERSION': JSON.stringify(version) },
  // Only Agent and request of undici, not its whole entry (see undici-lite.cjs). An exact match:
  // the deep imports of undici-lite.cjs itself resolve as usual.
  // Nor undici's HTTP/2 client, which the CLI never uses (see undici-no-h2.cjs).
  plugins: [
    {
      name: 'undici-lite',
      setup: (b) => {
        b.onResolve({ filter: /^undici$/ }, () => ({ path: join(here, 'undici-lite.cjs') }));
        b.onResolve({ filter: /^\.\/client-h2\.js$/ }, (args) =>
          args.importer.includes(`${sep}undici${sep}lib${sep}dispatcher${sep}`) ? { path: join(here, 'undici-no-h2.cjs') } : undefined,
        );
      },
    },
  ],
  // undici and other CommonJS-style dependencies call require() for Node's built-in modules, and
  // @bokuweb/zstd-wasm reads `zstd.wasm` from __dirname: ESM output has neither, so give each
  // file real ones (the wasm file is copied beside the bundle below).
  banner: {
    js: [
      "import { createRequire as __gosyncRequire } from 'node:module';",
      "import { dirname as __gosyncDirname } from 'node:path';",
      "import { fileURLToPath as __gosyncFileURLToPath } from 'node:url';",
      'const require = __gosyncRequire(import.meta.url);',
      'const __filename = __gosyncFileURLToPath(import.meta.url);',
      'const __dirname = __gosyncDirname(__filename);',
    ].join('\n'),
  },
});

// @gosync/compress loads zstd from @bokuweb/zstd-wasm on Node < 22.15.
const compressRequire = createRequire(require.resolve('@gosync/compress'));
const zstdWasm = join(dirname(compressRequire.resolve('@bokuweb/zstd-wasm')), 'zstd.wasm');
await copyFile(zstdWasm, join(here, 'dist', 'bundle', 'zstd.wasm'));
