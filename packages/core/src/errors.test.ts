import { describe, expect, it } from 'vitest';
import { CoreError, GosyncError, isGosyncError } from './errors.js';

describe('GosyncError', () => {
  it('carries code, message, cause and the subclass name', () => {
    const cause = new Error('disk full');
    const e = new CoreError('ERR_CORE_INVALID_ARGUMENT', 'bad size', { cause });
    expect(e).toBeInstanceOf(GosyncError);
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe('ERR_CORE_INVALID_ARGUMENT');
    expect(e.message).toBe('bad size');
    expect(e.cause).toBe(cause);
    expect(e.name).toBe('CoreError');
    expect(String(e)).toBe('CoreError: bad size');
  });

  it('isGosyncError matches by class and by code', () => {
    const e = new CoreError('ERR_CORE_INVALID_RANGE', 'x');
    expect(isGosyncError(e)).toBe(true);
    expect(isGosyncError(e, 'ERR_CORE_INVALID_RANGE')).toBe(true);
    expect(isGosyncError(e, 'ERR_CORE_INVALID_ARGUMENT')).toBe(false);
    expect(isGosyncError(new Error('x'))).toBe(false);
    expect(isGosyncError(null)).toBe(false);
    expect(isGosyncError('ERR_CORE_INVALID_RANGE')).toBe(false);
    expect(isGosyncError({ code: 'ERR_CORE_INVALID_RANGE' })).toBe(false);
  });

  it('isGosyncError recognises errors from another copy of the package by its brand', () => {
    const foreign = Object.assign(new Error('from another copy'), { code: 'ERR_X_Y' });
    Object.defineProperty(foreign, Symbol.for('@gosync/core.GosyncError'), { value: true });
    expect(isGosyncError(foreign, 'ERR_X_Y')).toBe(true);
  });

  it('subclasses in other packages get their own name', () => {
    class IndexError extends GosyncError<'ERR_INDEX_BAD_MAGIC'> {}
    const e = new IndexError('ERR_INDEX_BAD_MAGIC', 'not an index');
    expect(e.name).toBe('IndexError');
    expect(isGosyncError(e, 'ERR_INDEX_BAD_MAGIC')).toBe(true);
  });
});
