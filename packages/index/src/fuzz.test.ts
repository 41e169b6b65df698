import { describe, expect, it } from 'vitest';
import { fuzzDecoders } from './test-fuzz-core.js';

describe('decoder mutation fuzz (3 s; `pnpm fuzz` runs longer)', { timeout: 30_000 }, () => {
  it('lets only IndexError escape and allocates in proportion to the input', () => {
    const seed = Number(process.env['GOSYNC_FUZZ_SEED'] ?? Date.now() % 2 ** 31);
    const report = fuzzDecoders(3, seed);
    expect(report.failures, `seed ${seed}`).toEqual([]);
    expect(report.cases).toBeGreaterThan(1000);
    // The mutations reach deep checks, not only the magic test.
    expect(Object.keys(report.codes).length).toBeGreaterThanOrEqual(6);
    expect(report.codes['ERR_INDEX_INVALID_HEADER']).toBeGreaterThan(0);
  });
});
