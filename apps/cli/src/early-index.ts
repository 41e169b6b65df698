// The first request of `gosync sync <URL>`, sent by main.ts before the rest of the program loads.
import { request, type Agent, type Dispatcher } from 'undici';
import { DEFAULT_TIMEOUT_SECONDS, INDEX_REQUEST_HEADERS, checkSyncArgs, createSyncAgent, parseSyncArgs } from './sync-options.js';

/** The index download of a sync, started early. */
export interface EarlyIndex {
  /** The index URL, exactly as given on the command line. */
  readonly url: string;
  /** The sync's connection pool (it goes on to carry the blocks). */
  readonly dispatcher: Agent;
  /** The answer to the first GET of the index; undefined when the request failed (the sync retries it). */
  readonly response: Promise<Dispatcher.ResponseData | undefined>;
}

/**
 * For `gosync sync <http(s) URL> …` with a valid command line, sends the GET of the index at
 * once, with the options the sync would use, through the connection pool the sync will use.
 * main.ts calls this before it loads the rest of the program (about 30 ms with Node 20), so the
 * request travels while the code loads. Anything else — another command, `--help`, a local
 * index, a bad option — returns undefined and the command goes its usual way (and reports the
 * bad option).
 *
 * @param args - the command line without `node` and the script
 */
export function startEarlyIndex(args: readonly string[]): EarlyIndex | undefined {
  if (args[0] !== 'sync') return undefined;
  let checked;
  try {
    const { values, positionals } = parseSyncArgs(args.slice(1));
    if (values.help) return undefined;
    checked = checkSyncArgs(values, positionals);
  } catch {
    return undefined;
  }
  const url = checked.where;
  if (!/^https?:\/\//i.test(url)) return undefined;
  const dispatcher = createSyncAgent(checked.connections);
  const ms = checked.timeout ?? DEFAULT_TIMEOUT_SECONDS * 1000;
  const response = request(url, { dispatcher, method: 'GET', headers: INDEX_REQUEST_HEADERS, headersTimeout: ms, bodyTimeout: ms }).then(
    (res) => res,
    () => undefined,
  );
  return { url, dispatcher, response };
}

/** Lets an early request that is not used go: its body is read and dropped, its pool closed. */
export async function discardEarlyIndex(early: EarlyIndex): Promise<void> {
  const res = await early.response;
  await res?.body.dump().catch(() => undefined);
  await early.dispatcher.close();
}
