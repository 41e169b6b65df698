import { fc, test } from '@fast-check/vitest';
import { weakSum } from '@gosync/rollsum';
import { describe, expect } from 'vitest';
import { hashBlocks } from './block-hasher.js';
import { createStrongHasher } from './hashes.js';

describe('hashBlocks', () => {
  test.prop([fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 1, max: 70 }), fc.boolean()])(
    'matches weakSum at any buffer alignment and block size',
    async (bytes, shift, blockSize, pad) => {
      const buffer = new Uint8Array(bytes.length + shift);
      buffer.set(bytes, shift);
      const data = buffer.subarray(shift);
      const hasher = await createStrongHasher('md5');
      const count = Math.ceil(data.length / blockSize);
      const weak = new Uint32Array(count);
      const strong = new Uint8Array(count * 16);
      expect(hashBlocks(data, blockSize, pad, hasher, weak, strong, 0)).toBe(count);
      for (let i = 0; i < count; i++) {
        const block = bytes.subarray(i * blockSize, (i + 1) * blockSize);
        expect(weak[i]).toBe(weakSum(block, pad ? blockSize : block.length));
      }
    },
  );
});
