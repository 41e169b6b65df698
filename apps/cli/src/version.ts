// `gosync --version`: the CLI's own version, read from its package.json.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

declare global {
  /** The CLI's version, written into the bundle by bundle.mjs (undefined when run unbundled). */
  var GOSYNC_CLI_VERSION: string | undefined;
}

/**
 * The version of `@gosync/cli`: built into the bundle (so a copied bundle still knows it), else
 * read from its package.json, found by walking up from this module (src/ with tsx, dist/).
 */
export async function cliVersion(): Promise<string> {
  if (typeof globalThis.GOSYNC_CLI_VERSION === 'string') return globalThis.GOSYNC_CLI_VERSION;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === '@gosync/cli' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // No package.json here: keep walking up.
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}
