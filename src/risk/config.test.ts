import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EnvReader } from '../core/config.js';
import { InputError } from '../core/errors.js';
import { tempDir } from '../data/test-helpers.js';
import { defaultRiskConfig, loadRiskConfig, riskConfigJson } from './config.js';

const tmp = tempDir('kestrel-risk-cfg-');
afterAll(() => tmp.cleanup());
const file = (name: string, body: unknown) => {
  const p = join(tmp.dir, name);
  writeFileSync(p, typeof body === 'string' ? body : JSON.stringify(body));
  return p;
};
const fails = (fn: () => unknown): InputError => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).exitCode).toBe(2);
    return e as InputError;
  }
  throw new Error('expected an InputError');
};

describe('risk config', () => {
  it('defaults: every limit on, 5 % daily loss, correlation on', () => {
    const c = defaultRiskConfig();
    expect(c.limits.max_order_notional!.toFixed()).toBe('250000');
    expect(c.limits).toMatchObject({ max_position_shares: 100000, max_position_pct: 0.1, max_gross_exposure_pct: 1.5, max_net_exposure_pct: 1, price_band_pct: 5, restricted_symbols: [], check_buying_power: true });
    expect(c.correlation).toMatchObject({ enabled: true, threshold: 0.8, lookback_days: 60, max_cluster_pct: 0.25, mode: 'resize' });
    expect(c.breaker).toMatchObject({ daily_loss_pct: 5, quiet_period_s: 1800, quiet_mode: 'tight', quiet_loss_pct: 1, stale_data_s: null, derisk: { policy: 'none', reduce_pct: 50 } });
    expect(loadRiskConfig({ env: {} })).toEqual(c);
  });

  it('file, then environment overrides; null / off disables a limit', () => {
    const f = file('risk.json', { limits: { max_order_notional: '50000.50', restricted_symbols: ['GME'], max_position_pct: null }, breaker: { daily_loss_pct: 3, derisk: { policy: 'flatten' } } });
    const c = loadRiskConfig({ env: { KESTREL_RISK_FILE: f, RISK_MAX_POSITION_SHARES: '2500', RISK_PRICE_BAND_PCT: 'off', RISK_RESTRICTED_SYMBOLS: 'amc, bbby', RISK_CORRELATION_MODE: 'reject', RISK_CORRELATION_ENABLED: 'false' } });
    expect(c.limits.max_order_notional!.toFixed()).toBe('50000.5');
    expect(c.limits).toMatchObject({ max_position_shares: 2500, max_position_pct: null, price_band_pct: null, restricted_symbols: ['AMC', 'BBBY'] });
    expect(c.breaker).toMatchObject({ daily_loss_pct: 3, quiet_loss_pct: 1, derisk: { policy: 'flatten', reduce_pct: 50 } });
    expect(c.correlation).toMatchObject({ enabled: false, mode: 'reject' });
    // An EnvReader works as well as a map; the JSON view has exact decimals.
    expect(loadRiskConfig({ env: new EnvReader({ KESTREL_RISK_FILE: f }) }).limits.restricted_symbols).toEqual(['GME']);
    expect(riskConfigJson(c)).toMatchObject({ limits: { max_order_notional: '50000.5' } });
  });

  it('position and exposure limits are fractions of equity; a percent is refused with the convention', () => {
    const c = loadRiskConfig({ env: { RISK_MAX_POSITION_PCT: '0.05', RISK_MAX_GROSS_EXPOSURE_PCT: '2', RISK_MAX_NET_EXPOSURE_PCT: '0.5', RISK_MAX_CLUSTER_PCT: '0.3' } });
    expect(c.limits).toMatchObject({ max_position_pct: 0.05, max_gross_exposure_pct: 2, max_net_exposure_pct: 0.5 });
    expect(c.correlation.max_cluster_pct).toBe(0.3);
    // The old percent forms: 10 meant 10 %, 150 meant 150 %. Refused, never read as 1000 %.
    expect(fails(() => loadRiskConfig({ env: { RISK_MAX_POSITION_PCT: '10' } })).message).toMatch(/limits\.max_position_pct \(from RISK_MAX_POSITION_PCT="10"\): must be a fraction of equity .*\(10% = 0\.1\)/);
    expect(fails(() => loadRiskConfig({ env: { RISK_MAX_POSITION_PCT: '1' } })).message).toMatch(/below 1/);
    expect(fails(() => loadRiskConfig({ env: { RISK_MAX_GROSS_EXPOSURE_PCT: '150' } })).message).toMatch(/max_gross_exposure_pct .*\(150% = 1\.5\)/);
    expect(fails(() => loadRiskConfig({ env: { RISK_MAX_CLUSTER_PCT: '25' } })).message).toMatch(/max_cluster_pct .*\(25% = 0\.25\)/);
    expect(fails(() => loadRiskConfig({ env: { RISK_MAX_POSITION_PCT: '10%' } })).message).toMatch(/invalid RISK_MAX_POSITION_PCT="10%": use a fraction of equity such as 0\.1 \(10% = 0\.1\), or off/);
    expect(fails(() => loadRiskConfig({ file: file('pct.json', { limits: { max_net_exposure_pct: 100 } }) })).message).toMatch(/limits\.max_net_exposure_pct: must be a fraction of equity/);
  });

  it('names the key, the source and the fix', () => {
    expect(fails(() => loadRiskConfig({ file: file('a.json', { limits: { max_position_pct: 150 } }) })).message).toMatch(/invalid risk config .*a\.json: limits\.max_position_pct: must be a fraction of equity greater than 0 and below 1 \(10% = 0\.1\), not a percent/);
    expect(fails(() => loadRiskConfig({ env: { RISK_DAILY_LOSS_PCT: '0' } })).message).toMatch(/breaker\.daily_loss_pct \(from RISK_DAILY_LOSS_PCT="0"\): must be greater than 0/);
    expect(fails(() => loadRiskConfig({ env: { RISK_MAX_ORDER_NOTIONAL: 'lots' } })).message).toMatch(/invalid RISK_MAX_ORDER_NOTIONAL="lots": use a decimal amount/);
    expect(fails(() => loadRiskConfig({ env: { RISK_MAX_POSITION_SHARES: '1.5' } })).message).toMatch(/RISK_MAX_POSITION_SHARES.*whole number/);
    expect(fails(() => loadRiskConfig({ env: { RISK_QUIET_MODE: 'sleepy' } })).message).toMatch(/breaker\.quiet_mode \(from RISK_QUIET_MODE="sleepy"\)/);
    expect(fails(() => loadRiskConfig({ file: file('b.json', { limits: { max_order_notionl: 5 } }) })).message).toMatch(/unknown key limits\.max_order_notionl/);
    expect(fails(() => loadRiskConfig({ file: file('c.json', { limits: { restricted_symbols: ['MſFT'] } }) })).message).toMatch(/limits\.restricted_symbols\.0: "MſFT" is not a ticker/);
    expect(fails(() => loadRiskConfig({ env: { RISK_MAX_ORDER_NOTIONAL: '1e1000000000' } })).message).toMatch(/RISK_MAX_ORDER_NOTIONAL.*use a decimal amount/);
    expect(fails(() => loadRiskConfig({ file: file('g.json', { limits: { max_order_notional: '1e1000000000' } }) })).message).toMatch(/limits\.max_order_notional: is out of range/);
    expect(loadRiskConfig({ env: { RISK_RESTRICTED_SYMBOLS: 'aapl, brk.b' } }).limits.restricted_symbols).toEqual(['AAPL', 'BRK.B']);
    expect(fails(() => loadRiskConfig({ env: { RISK_QUIET_LOSS_PCT: '6' } })).message).toMatch(/breaker\.quiet_loss_pct .*must not exceed breaker\.daily_loss_pct/);
    expect(fails(() => loadRiskConfig({ file: file('d.json', { limits: { max_order_notional: '-5' } }) })).message).toMatch(/limits\.max_order_notional: must be greater than 0/);
  });

  it('refuses a missing file, broken JSON, YAML and a non-object', () => {
    expect(fails(() => loadRiskConfig({ env: { KESTREL_RISK_FILE: join(tmp.dir, 'nope.json') } })).message).toMatch(/nope\.json not found \(KESTREL_RISK_FILE\)/);
    expect(fails(() => loadRiskConfig({ file: file('e.json', '{"limits": ') })).message).toMatch(/is not valid JSON/);
    expect(fails(() => loadRiskConfig({ file: file('f.yaml', 'limits: {}') })).message).toMatch(/YAML is not supported, write it as JSON/);
    expect(fails(() => loadRiskConfig({ file: file('g.json', '[1]') })).message).toMatch(/must hold a JSON object/);
  });

  it('the example file in docs/concepts/risk.md is valid', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../docs/concepts/risk.md', import.meta.url), 'utf8');
    const m = /```json\n([\s\S]*?)\n```/.exec(doc);
    expect(m).not.toBeNull();
    const c = loadRiskConfig({ file: file('doc.json', m![1]!) });
    expect(c.breaker.daily_loss_pct).toBe(5);
  });
});
