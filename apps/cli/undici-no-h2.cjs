// undici's HTTP/2 client, for the bundled CLI only (bundle.mjs puts this in its place): the CLI's
// dispatchers never allow HTTP/2 (undici's `allowH2` is off by default and never set), so the
// client is never called, and leaving it out keeps node:http2 (~5 ms) out of the start.
'use strict';

module.exports = function connectH2() {
  throw new Error('HTTP/2 is not available in the bundled gosync CLI');
};
