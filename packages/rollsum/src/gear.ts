/** Seed of the generator that fills the table: the ASCII bytes of "gear", big-endian. */
const GEAR_SEED = 0x67656172;

/**
 * The 256 random 32-bit values of the Gear hash used by {@link Chunker}, one per byte value.
 *
 * The table is part of the chunk format: changing one entry moves chunk boundaries, so never
 * write to it. It is generated at module load, so that any implementation can rebuild it from
 * this description instead of copying 256 constants. The generator is splitmix32 (a Weyl
 * sequence plus the "lowbias32" finaliser), all arithmetic on unsigned 32-bit integers:
 *
 * ```text
 * state = 0x67656172                          // the seed: "gear" in ASCII, big-endian
 * for i in 0 … 255:
 *   state = state + 0x9e3779b9                // mod 2^32
 *   z = state
 *   z = (z xor (z >> 16)) * 0x21f0aaad        // mod 2^32, logical shifts
 *   z = (z xor (z >> 15)) * 0x735a2d97        // mod 2^32
 *   z =  z xor (z >> 15)
 *   GEAR_TABLE[i] = z
 * ```
 *
 * The first entries are `0xa110b58e, 0x4b1fbff9, 0xe387a8e7`; the last is `0x61690b99`
 * (pinned by the tests).
 *
 * @example
 * ```ts
 * let h = 0;
 * for (const byte of new TextEncoder().encode('abc')) h = ((h << 1) + GEAR_TABLE[byte]!) >>> 0;
 * ```
 */
export const GEAR_TABLE: Uint32Array = makeGearTable(GEAR_SEED);

function makeGearTable(seed: number): Uint32Array {
  const table = new Uint32Array(256);
  let state = seed >>> 0;
  for (let i = 0; i < 256; i++) {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    table[i] = (z ^ (z >>> 15)) >>> 0;
  }
  return table;
}
