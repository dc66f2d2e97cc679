import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.js';
import { InputError } from '../core/errors.js';
import { newYorkDate } from '../core/clock.js';
import { bar, etl, tempDir, writeBarsCsv } from '../data/test-helpers.js';
import { asOfBanner, isCurrent, resolveAsOf } from './as-of.js';

const tmp = tempDir('kestrel-asof-');
const dataDir = join(tmp.dir, 'data');
const config = (env: Record<string, string> = {}) => loadConfig({ KESTREL_DATA_DIR: dataDir, ...env });
const NOW = new Date('2026-03-04T15:00:00Z'); // a Wednesday

beforeAll(async () => {
  const rows = ['2020-01-08', '2020-01-09', '2020-01-10'].flatMap((d, i) => [bar('AAA', d, 10 + i), bar('BBB', d, 20 + i)]);
  await etl(writeBarsCsv(join(tmp.dir, 'bars.csv'), rows), dataDir);
});
afterAll(() => tmp.cleanup());

describe('as-of mode', () => {
  it('data is current when it reaches the session before New York’s today', () => {
    expect(isCurrent('2026-03-03', NOW)).toBe(true);
    expect(isCurrent('2026-03-02', NOW)).toBe(false);
    // Monday: Friday's close is the last session before it.
    expect(isCurrent('2026-02-27', new Date('2026-03-02T15:00:00Z'))).toBe(true);
    expect(isCurrent('2020-01-10', NOW)).toBe(false);
  });

  it('up on old data trades its last day, on that day’s clock from the open, and says so', async () => {
    const a = (await resolveAsOf({ config: config(), now: NOW, auto: true }))!;
    expect(a).toMatchObject({ date: '2020-01-10', origin: 'auto', last: '2020-01-10' });
    expect(a.clock.now().toISOString().slice(0, 16)).toBe('2020-01-10T14:30');
    expect(newYorkDate(a.clock.now())).toBe('2020-01-10');
    expect(asOfBanner(a)).toBe('clock: trading 2020-01-10 (last stored day) from its 09:30 New York open — pass --as-of or load current data for live trading');
  });

  it('serve (no auto) stays live unless asked; BROKER=alpaca stays live even for up', async () => {
    expect(await resolveAsOf({ config: config(), now: NOW, auto: false })).toBeNull();
    expect(await resolveAsOf({ config: config({ BROKER: 'alpaca' }), now: NOW, auto: true })).toBeNull();
    // Current data: live.
    expect(await resolveAsOf({ config: config(), now: new Date('2020-01-13T15:00:00Z'), auto: true })).toBeNull();
  });

  it('--as-of and KESTREL_AS_OF: last, or a stored trading day', async () => {
    expect(await resolveAsOf({ flag: 'last', config: config(), now: NOW, auto: false })).toMatchObject({ date: '2020-01-10', origin: 'flag' });
    expect(await resolveAsOf({ flag: '2020-01-09', config: config(), now: NOW, auto: false })).toMatchObject({ date: '2020-01-09', origin: 'flag' });
    expect(await resolveAsOf({ config: config({ KESTREL_AS_OF: '2020-01-08' }), now: NOW, auto: false })).toMatchObject({ date: '2020-01-08', origin: 'env' });
    // The flag wins over the variable.
    expect(await resolveAsOf({ flag: 'last', config: config({ KESTREL_AS_OF: '2020-01-08' }), now: NOW, auto: false })).toMatchObject({ date: '2020-01-10' });
  });

  it('refuses a day without bars, a bad date, alpaca, and no data — one line naming the fix', async () => {
    const refused = async (p: Promise<unknown>) => {
      const e = await p.then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(InputError);
      return (e as Error).message;
    };
    expect(await refused(resolveAsOf({ flag: '2020-01-11', config: config(), now: NOW, auto: false }))).toBe(
      '--as-of 2020-01-11 is not a trading day with stored bars (stored: 2020-01-08 → 2020-01-10); use one of those days or last',
    );
    expect(await refused(resolveAsOf({ flag: '2020-01-07', config: config(), now: NOW, auto: false }))).toContain('not a trading day with stored bars');
    expect(await refused(resolveAsOf({ flag: 'yesterday', config: config(), now: NOW, auto: false }))).toContain('--as-of "yesterday": use a date YYYY-MM-DD');
    expect(await refused(resolveAsOf({ flag: 'last', config: config({ BROKER: 'alpaca' }), now: NOW, auto: false }))).toContain('with BROKER=alpaca the services trade today');
    expect(await refused(resolveAsOf({ flag: 'last', config: loadConfig({ KESTREL_DATA_DIR: join(tmp.dir, 'none') }), now: NOW, auto: false }))).toContain('run `kestrel etl');
    expect(() => loadConfig({ KESTREL_AS_OF: '2020-13-01' })).toThrow(/KESTREL_AS_OF="2020-13-01": use a date YYYY-MM-DD/);
  });
});
