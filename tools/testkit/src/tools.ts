import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const EXTRA_DIRS = ['/usr/sbin', '/sbin', '/usr/local/sbin', '/usr/bin', '/bin'];

/**
 * Finds an executable on PATH (and in the sbin directories, where nginx and sshd live).
 *
 * @param name - the program name, e.g. `'zsync'`
 * @returns its absolute path, or undefined when it is not installed
 */
export function findTool(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== ''), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * For `describe.skipIf(skipWithoutTools(['zsync', 'nginx'], 'zsync interop'))`: returns true
 * (skip) when a tool is missing, after printing which one and why the tests are skipped.
 * CI installs every tool, so nothing is skipped there.
 *
 * @param tools - program names that the tests run
 * @param what - the tests' subject, for the message
 * @returns true when at least one tool is absent
 */
export function skipWithoutTools(tools: readonly string[], what: string): boolean {
  const missing = tools.filter((t) => findTool(t) === undefined);
  if (missing.length === 0) return false;
  console.warn(`SKIPPED ${what}: ${missing.join(', ')} not installed (apt-get install ${missing.join(' ')})`);
  return true;
}
