/**
 * Test helpers for `@gosync`: find system tools, skip with a printed reason when one is absent,
 * start a real nginx on 127.0.0.1, put a slow network link (a delaying proxy) in front of it,
 * make deterministic pseudo-random bytes, and collect what a source yields or a call throws.
 *
 * @packageDocumentation
 */
export { findTool, skipWithoutTools } from './tools.js';
export { startNginx } from './nginx.js';
export type { NginxAccessLogEntry, NginxOptions, RunningNginx } from './nginx.js';
export { startDelayProxy } from './delay-proxy.js';
export type { DelayProxyOptions, DelayProxyStats, RunningDelayProxy } from './delay-proxy.js';
export { pseudoRandomBytes, writePseudoRandomFile } from './random.js';
export { freePort } from './ports.js';
export { collectRanges, errorCode, errorMessage } from './outcomes.js';
export type { FetchesRanges } from './outcomes.js';
