import { toHex } from '@gosync/core';
import { describe, expect, it } from 'vitest';
import { createStrongHasher, isStrongHashName, prepareStrongHashers, STRONG_HASH_NAMES, strongHashInfo } from './hashes.js';
import { codeOf } from './test-helpers.js';

const abc = new TextEncoder().encode('abc');

describe('strong hash registry', () => {
  it('computes the standard vectors for "abc"', async () => {
    const want: Record<string, string> = {
      md4: 'a448017aaf21d8525fc10ae87aa6729d',
      md5: '900150983cd24fb0d6963f7d28e17f72',
      sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      sha224: '23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7',
      blake3: '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85',
      xxh128: '06b05ab6733a618578af5f94892f3950',
    };
    for (const name of STRONG_HASH_NAMES) {
      const h = await createStrongHasher(name);
      expect(toHex(h.init().update(abc).digest()), name).toBe(want[name]);
      expect(h.digestLength).toBe(strongHashInfo(name).digestLength);
    }
  });

  it('is incremental, reusable and truncates into a buffer', async () => {
    const h = await createStrongHasher('md4');
    const full = h.init().update(abc).digest();
    const out = new Uint8Array(10).fill(0xee);
    h.init().update(abc.subarray(0, 1)).update(abc.subarray(1)).digestInto(out, 2, 5);
    expect(toHex(out)).toBe(`eeee${toHex(full.subarray(0, 5))}eeeeee`);
  });

  it('rejects unknown names with a code', () => {
    expect(isStrongHashName('crc32')).toBe(false);
    expect(isStrongHashName('toString')).toBe(false);
    expect(codeOf(() => strongHashInfo('crc32'))).toBe('ERR_INDEX_UNKNOWN_FEATURE');
  });

  it('hands each prepared hasher out once: interleaved hashers stay independent', async () => {
    prepareStrongHashers(['md4', 'xxh128'], 2);
    const [a, b, c] = await Promise.all([createStrongHasher('md4'), createStrongHasher('md4'), createStrongHasher('md4')]);
    // Were one instance handed out twice, these updates would mix into one digest.
    a.init().update(abc.subarray(0, 1));
    b.init().update(new TextEncoder().encode('message '));
    c.init().update(abc);
    a.update(abc.subarray(1));
    b.update(new TextEncoder().encode('digest'));
    expect(toHex(a.digest())).toBe('a448017aaf21d8525fc10ae87aa6729d');
    expect(toHex(b.digest())).toBe('d9130a8164549fe818874806e1c7014b');
    expect(toHex(c.digest())).toBe('a448017aaf21d8525fc10ae87aa6729d');
    const x = await createStrongHasher('xxh128');
    expect(x.name).toBe('xxh128');
    expect(toHex(x.init().update(abc).digest())).toBe('06b05ab6733a618578af5f94892f3950');
  });

  it('rejects unknown names when preparing', () => {
    expect(codeOf(() => { prepareStrongHashers(['crc32' as 'md4']); })).toBe('ERR_INDEX_UNKNOWN_FEATURE');
  });
});
