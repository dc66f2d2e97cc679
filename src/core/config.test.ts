import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { InputError } from './errors.js';

describe('config', () => {
  it('applies defaults', () => {
    const c = loadConfig({});
    expect(c.dataDir.endsWith('/data')).toBe(true);
    expect(c.varDir.endsWith('/var')).toBe(true);
    expect(c.logLevel).toBe('info');
  });

  it('names the key and the fix on a bad value', () => {
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(InputError);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL="loud".*one of/);
  });
});
