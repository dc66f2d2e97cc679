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

describe('service config', () => {
  it('defaults to embedded services and the simulated broker', () => {
    const c = loadConfig({});
    expect(c.databaseUrl).toBeUndefined();
    expect(c.redisUrl).toBeUndefined();
    expect(c.broker).toBe('sim');
    expect(c.dryRun).toBe(false);
    expect(c.host).toBe('127.0.0.1');
  });

  it('validates URLs, booleans, tokens and ports with the fix in the message', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL.*postgres:\/\//);
    expect(() => loadConfig({ DRY_RUN: 'maybe' })).toThrow(/DRY_RUN.*true or false/);
    expect(() => loadConfig({ API_TOKEN: 'short' })).toThrow(/API_TOKEN.*16 characters/);
    expect(() => loadConfig({ GATEWAY_PORT: '99999' })).toThrow(/GATEWAY_PORT.*port/);
    expect(loadConfig({ DRY_RUN: 'true', GATEWAY_PORT: '9000' })).toMatchObject({ dryRun: true, ports: { gateway: 9000 } });
  });

  it('never echoes a secret value back in an error', () => {
    expect(() => loadConfig({ API_TOKEN: 'tiny' })).toThrow(/API_TOKEN/);
    try {
      loadConfig({ API_TOKEN: 'tiny' });
    } catch (e) {
      expect((e as Error).message).not.toContain('tiny');
    }
  });
});

describe('bearer tokens (issue #14)', () => {
  it('refuses blank, short, spaced and low-variety tokens, naming the variable and how to make one', () => {
    for (const bad of [' '.repeat(16), '\t'.repeat(20), 'short', 'a'.repeat(32), '1212121212121212', 'abcdefg abcdefgh', 'abcdefghijklmnoé', 'abcdefghijklmnop\n']) {
      expect(() => loadConfig({ API_TOKEN: bad }), JSON.stringify(bad)).toThrow(/^invalid API_TOKEN: .*openssl rand -hex 24/);
      expect(() => loadConfig({ READ_TOKEN: bad }), JSON.stringify(bad)).toThrow(/^invalid READ_TOKEN: /);
    }
    expect(() => loadConfig({ API_TOKEN: ' '.repeat(16) })).toThrow(InputError);
  });

  it('accepts a generated token, and an empty variable is unset', () => {
    const t = '3f9c2a7be1d04c58a6f1e2d3c4b5a697f8e9d0c1b2a39485';
    expect(loadConfig({ API_TOKEN: t, READ_TOKEN: 'read-0123456789abcdef' })).toMatchObject({ apiToken: t, readToken: 'read-0123456789abcdef' });
    expect(loadConfig({ API_TOKEN: '' }).apiToken).toBeUndefined();
  });
});

describe('simulated account and as-of mode', () => {
  it('SIM_STARTING_CASH: one default (1000000) for every simulated account; dollars only', () => {
    expect(loadConfig({}).simStartingCash).toBe('1000000');
    expect(loadConfig({ SIM_STARTING_CASH: '250000.50' }).simStartingCash).toBe('250000.50');
    for (const bad of ['0', '-5', 'abc', '1e6', '1.005', '99999999999999']) expect(() => loadConfig({ SIM_STARTING_CASH: bad })).toThrow(/SIM_STARTING_CASH=.*positive amount of dollars/);
  });

  it('KESTREL_AS_OF: a date or last', () => {
    expect(loadConfig({}).asOf).toBeUndefined();
    expect(loadConfig({ KESTREL_AS_OF: 'last' }).asOf).toBe('last');
    expect(loadConfig({ KESTREL_AS_OF: '2020-01-10' }).asOf).toBe('2020-01-10');
    expect(() => loadConfig({ KESTREL_AS_OF: 'today' })).toThrow(/KESTREL_AS_OF="today"/);
  });
});
