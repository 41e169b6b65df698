// The two parts of undici that @gosync uses, `Agent` and `request`, for the bundled CLI only
// (bundle.mjs aliases 'undici' to this file). undici's own entry loads everything it has, fetch,
// WebSocket, caches and mocks included: 45 ms of a 120 ms start in the bundle. This loads the
// dispatcher and the request API alone. The published packages import undici as usual.
'use strict';
const Agent = require('undici/lib/dispatcher/agent.js');
const Dispatcher = require('undici/lib/dispatcher/dispatcher.js');
const api = require('undici/lib/api/index.js');

// As undici's entry does: every dispatcher gets request(), stream(), pipeline()…
Object.assign(Dispatcher.prototype, api);

let fallback;

/**
 * undici's `request(url, options)`: one request through `options.dispatcher` (the CLI always
 * gives one; otherwise an Agent of this module's own).
 */
function request(url, options = {}) {
  const target = url instanceof URL ? url : new URL(String(url));
  const { dispatcher, ...rest } = options;
  const through = dispatcher ?? (fallback ??= new Agent());
  return through.request({
    ...rest,
    origin: target.origin,
    path: `${target.pathname}${target.search}`,
    method: rest.method ?? 'GET',
  });
}

module.exports = { Agent, Dispatcher, request };
