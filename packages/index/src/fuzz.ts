/**
 * Long decoder fuzz run: `pnpm --filter @gosync/index fuzz` (GOSYNC_FUZZ_SECONDS, default 60;
 * GOSYNC_FUZZ_SEED). Exits 1 when anything but an `ERR_INDEX_*` error escaped a decoder.
 *
 * @internal
 * @packageDocumentation
 */
import { fuzzDecoders } from './test-fuzz-core.js';

const seconds = Number(process.env['GOSYNC_FUZZ_SECONDS'] ?? 60);
const seed = Number(process.env['GOSYNC_FUZZ_SEED'] ?? Date.now() % 2 ** 31);
const report = fuzzDecoders(seconds, seed);
console.log(JSON.stringify({ seconds, seed, cases: report.cases, decoded: report.decoded, codes: report.codes }, null, 2));
for (const f of report.failures) console.error(`FAIL ${f}`);
console.log(`${report.cases - report.failures.length} passed, ${report.failures.length} failed`);
process.exitCode = report.failures.length === 0 ? 0 : 1;
