import { describe, expect, it } from 'vitest';
import { fixedClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { dec } from '../core/money.js';
import { deRisk, deriskOrders, type DeriskOps, type DeriskOrder } from './derisk.js';
import type { RiskEventInput } from './events.js';
import { nullRiskAudit } from './events.js';

function fakeOps(opts: { failCancel?: string; failSubmit?: string } = {}) {
  const cancelled: string[] = [];
  const submitted: DeriskOrder[] = [];
  const ops: DeriskOps = {
    listOpenOrders: async () => [
      { id: 'o1', symbol: 'AAA', side: 'buy' },
      { id: 'o2', symbol: 'BBB', side: 'sell' },
    ],
    cancelOrder: async (id) => {
      if (id === opts.failCancel) throw new Error('broker unavailable');
      cancelled.push(id);
    },
    listPositions: async () => [
      { symbol: 'AAA', qty: '101' },
      { symbol: 'BBB', qty: '-40' },
      { symbol: 'CCC', qty: '1' },
      { symbol: 'DDD', qty: '0' },
    ],
    submitOrder: async (o) => {
      if (o.symbol === opts.failSubmit) return { ok: false, detail: '422 max_order_notional' };
      submitted.push(o);
      return { ok: true };
    },
  };
  return { ops, cancelled, submitted };
}

const base = { actor: 'system', reason: 'breaker tripped (manual): test', breakerVersion: 7, clock: fixedClock('2025-03-04T15:00:00Z'), logger: silentLogger() };

describe('de-risking policies', () => {
  it('none does nothing; cancel_open cancels every open order and nothing else', async () => {
    const a = fakeOps();
    expect(await deRisk(a.ops, { ...base, policy: 'none', reducePct: 50 })).toEqual({ policy: 'none', cancelled: [], cancel_failed: [], orders: [], skipped: [] });
    expect(a.cancelled).toEqual([]);
    const b = fakeOps();
    const r = await deRisk(b.ops, { ...base, policy: 'cancel_open', reducePct: 50 });
    expect(r.cancelled).toEqual(['o1', 'o2']);
    expect(b.submitted).toEqual([]);
  });

  it('flatten closes every position with a market order on the other side', async () => {
    const f = fakeOps();
    const r = await deRisk(f.ops, { ...base, policy: 'flatten', reducePct: 50 });
    expect(f.cancelled).toEqual(['o1', 'o2']);
    expect(f.submitted).toEqual([
      { strategy_id: 'risk-derisk-v7', symbol: 'AAA', side: 'sell', qty: '101', order_type: 'market', time_in_force: 'day' },
      { strategy_id: 'risk-derisk-v7', symbol: 'BBB', side: 'buy', qty: '40', order_type: 'market', time_in_force: 'day' },
      { strategy_id: 'risk-derisk-v7', symbol: 'CCC', side: 'sell', qty: '1', order_type: 'market', time_in_force: 'day' },
    ]);
    expect(r.orders.every((o) => o.ok)).toBe(true);
  });

  it('reduce_pct cuts each position, rounding down; a cut under one share is skipped with the reason', async () => {
    const f = fakeOps();
    const r = await deRisk(f.ops, { ...base, policy: 'reduce_pct', reducePct: 50 });
    expect(f.submitted.map((o) => `${o.side} ${o.qty} ${o.symbol}`)).toEqual(['sell 50 AAA', 'buy 20 BBB']);
    expect(r.skipped).toEqual([{ symbol: 'CCC', why: '50% of 1 shares is under one share' }]);
  });

  it('caps orders by a per-symbol max quantity; failures are reported and the rest goes on; every action audited', async () => {
    const f = fakeOps({ failCancel: 'o1', failSubmit: 'BBB' });
    const audit: RiskEventInput[] = [];
    const events = { ...nullRiskAudit, record: async (e: RiskEventInput) => (audit.push(e), true) };
    const r = await deRisk(f.ops, { ...base, policy: 'flatten', reducePct: 50, events, maxQty: (s) => (s === 'AAA' ? dec(60) : null) });
    expect(r.cancel_failed).toEqual([{ id: 'o1', error: 'broker unavailable' }]);
    expect(r.cancelled).toEqual(['o2']);
    expect(r.orders.map((o) => [o.symbol, o.qty, o.ok])).toEqual([
      ['AAA', '60', true],
      ['BBB', '40', false],
      ['CCC', '1', true],
    ]);
    expect(r.skipped[0]).toMatchObject({ symbol: 'AAA', why: expect.stringContaining('capped at 60 of 101') });
    expect(audit.map((e) => e.code)).toEqual(['cancel_failed', 'cancel_open', 'flatten', 'order_failed', 'flatten']);
    expect(audit.every((e) => e.kind === 'derisk' && e.breaker_version === 7 && e.actor === 'system' && e.at.toISOString() === '2025-03-04T15:00:00.000Z')).toBe(true);
  });

  it('deriskOrders is pure', () => {
    expect(deriskOrders([{ symbol: 'X', qty: '-3' }], 'reduce_pct', 34, 's').orders).toEqual([{ strategy_id: 's', symbol: 'X', side: 'buy', qty: '1', order_type: 'market', time_in_force: 'day' }]);
    expect(deriskOrders([{ symbol: 'X', qty: '5' }], 'cancel_open', 50, 's').orders).toEqual([]);
  });
});
