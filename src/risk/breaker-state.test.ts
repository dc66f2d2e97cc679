import { describe, expect, it } from 'vitest';
import { dec } from '../core/money.js';
import { applyBreakerCommand, cooldownDue, dailyLossCheck, initialBreakerState, type BreakerCommand, type BreakerState, type BreakerStateName } from './breaker-state.js';
import { defaultRiskConfig } from './config.js';

const NOW = new Date('2025-03-04T15:00:00Z');
const cfg = defaultRiskConfig().breaker; // quiet 1800 s, tight, 5 % / 1 %

function state(s: BreakerStateName, extra: Partial<BreakerState> = {}): BreakerState {
  return { ...initialBreakerState(new Date('2025-03-04T14:00:00Z')), state: s, version: 4, ...extra };
}

const trip: BreakerCommand = { kind: 'trip', trigger: 'manual', reason: 'test', actor: 'alice' };
const reset: BreakerCommand = { kind: 'reset', reason: 'ok', actor: 'bob', equity: '95000', tradeDate: '2025-03-04' };
const cooldown: BreakerCommand = { kind: 'cooldown', actor: 'system' };

describe('breaker state machine (table-driven)', () => {
  const past = '2025-03-04T14:59:59.000Z';
  const future = '2025-03-04T15:30:00.000Z';
  const cases: Array<[string, BreakerState, BreakerCommand, BreakerStateName | string]> = [
    ['OPEN + trip', state('OPEN'), trip, 'TRIPPED'],
    ['OPEN + reset', state('OPEN'), reset, 'refused:not_tripped'],
    ['OPEN + cooldown', state('OPEN'), cooldown, 'refused:not_tripped'],
    ['TRIPPED + trip', state('TRIPPED'), trip, 'refused:already_tripped'],
    ['TRIPPED + reset', state('TRIPPED'), reset, 'QUIET_PERIOD'],
    ['TRIPPED + reset without equity', state('TRIPPED'), { ...reset, equity: null }, 'refused:no_equity'],
    ['TRIPPED + reset with equity 0', state('TRIPPED'), { ...reset, equity: '0' }, 'refused:no_equity'],
    ['TRIPPED + cooldown', state('TRIPPED'), cooldown, 'refused:not_tripped'],
    ['QUIET + trip', state('QUIET_PERIOD', { quiet_until: future }), trip, 'TRIPPED'],
    ['QUIET + reset', state('QUIET_PERIOD', { quiet_until: future }), reset, 'refused:not_tripped'],
    ['QUIET + cooldown before quiet_until', state('QUIET_PERIOD', { quiet_until: future }), cooldown, 'refused:quiet_period_running'],
    ['QUIET + cooldown after quiet_until', state('QUIET_PERIOD', { quiet_until: past }), cooldown, 'OPEN'],
  ];
  it.each(cases)('%s → %s', (_name, from, cmd, expected) => {
    const out = applyBreakerCommand(from, cmd, NOW, cfg);
    if (expected.startsWith('refused:')) expect(out).toMatchObject({ ok: false, code: expected.slice(8) });
    else {
      expect(out.ok).toBe(true);
      if (!out.ok) return;
      expect(out.next).toMatchObject({ state: expected, version: 5, from: from.state, since: NOW.toISOString(), actor: cmd.actor });
    }
  });

  it('reset records the cool-down end and the equity reference; quiet_period_s = 0 goes straight to OPEN', () => {
    const out = applyBreakerCommand(state('TRIPPED'), reset, NOW, cfg);
    expect(out).toMatchObject({ ok: true, next: { state: 'QUIET_PERIOD', trigger: 'reset', quiet_until: '2025-03-04T15:30:00.000Z', reset_equity: '95000', reset_date: '2025-03-04' } });
    expect(applyBreakerCommand(state('TRIPPED'), reset, NOW, { quiet_period_s: 0 })).toMatchObject({ ok: true, next: { state: 'OPEN', quiet_until: null } });
  });

  it('cooldownDue only in QUIET_PERIOD once quiet_until has passed', () => {
    expect(cooldownDue(state('QUIET_PERIOD', { quiet_until: '2025-03-04T15:00:00.000Z' }), NOW)).toBe(true);
    expect(cooldownDue(state('QUIET_PERIOD', { quiet_until: '2025-03-04T15:00:00.001Z' }), NOW)).toBe(false);
    expect(cooldownDue(state('TRIPPED'), NOW)).toBe(false);
  });
});

describe('daily-loss trigger', () => {
  const snap = (equity: string, sod: string | null = '100000') => ({ equity: dec(equity), startOfDayEquity: sod === null ? null : dec(sod), tradeDate: '2025-03-04' });

  it('trips at exactly the threshold of start-of-day equity, not a cent before', () => {
    expect(dailyLossCheck(state('OPEN'), snap('95000.01'), cfg)).toMatchObject({ breached: false, loss_pct: '4.99999', basis: 'start_of_day', threshold_pct: 5 });
    expect(dailyLossCheck(state('OPEN'), snap('95000'), cfg)).toMatchObject({ breached: true, loss_pct: '5' });
    expect(dailyLossCheck(state('OPEN'), snap('101000'), cfg)).toMatchObject({ breached: false, loss_pct: '-1' });
  });

  it('after a reset the same day: measured from the equity at reset; tighter during a tight quiet period', () => {
    const quiet = state('QUIET_PERIOD', { reset_equity: '94000', reset_date: '2025-03-04' });
    expect(dailyLossCheck(quiet, snap('93060'), cfg)).toMatchObject({ basis: 'reset', reference: '94000', threshold_pct: 1, breached: true, loss_pct: '1' });
    expect(dailyLossCheck(quiet, snap('93061'), cfg)).toMatchObject({ breached: false });
    expect(dailyLossCheck(quiet, snap('93060'), { ...cfg, quiet_mode: 'reduce_only' })).toMatchObject({ threshold_pct: 5, breached: false });
    const reopened = state('OPEN', { reset_equity: '94000', reset_date: '2025-03-04' });
    expect(dailyLossCheck(reopened, snap('89300'), cfg)).toMatchObject({ basis: 'reset', breached: true });
    // The next day the reset no longer counts.
    expect(dailyLossCheck({ ...reopened, reset_date: '2025-03-03' }, snap('94000'), cfg)).toMatchObject({ basis: 'start_of_day', breached: true });
  });

  it('unknown equity or start-of-day equity: not decided here (the checks fail closed)', () => {
    expect(dailyLossCheck(state('OPEN'), snap('90000', null), cfg)).toMatchObject({ breached: false, loss_pct: null });
    expect(dailyLossCheck(state('OPEN'), { equity: null, startOfDayEquity: dec(1), tradeDate: '2025-03-04' }, cfg)).toMatchObject({ breached: false, loss_pct: null });
  });
});
