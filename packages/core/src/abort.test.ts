import { describe, expect, it } from 'vitest';
import { throwIfAborted } from './abort.js';

describe('throwIfAborted', () => {
  it('does nothing without a signal or before abort', () => {
    expect(() => { throwIfAborted(undefined); }).not.toThrow();
    expect(() => { throwIfAborted(new AbortController().signal); }).not.toThrow();
  });

  it('rethrows the abort reason unchanged', () => {
    const controller = new AbortController();
    const reason = new Error('user cancelled');
    controller.abort(reason);
    expect(() => { throwIfAborted(controller.signal); }).toThrow(reason);
  });
});
