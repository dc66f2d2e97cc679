import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixedClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { dec } from '../core/money.js';
import { AlpacaApiError } from './errors.js';
import { BrokerSim, type AlpacaTradeUpdate, type BrokerSimConfig, type OrderInput } from './engine.js';
import { StaticPrices } from './prices.js';

function make(config: BrokerSimConfig = {}, prices: Record<string, string> = { AAPL: '100', MSFT: '400' }) {
  const px = new StaticPrices(prices);
  const sim = new BrokerSim({ clock: fixedClock('2025-01-17T15:00:00Z'), logger: silentLogger(), prices: px }, { startingCash: '100000', ...config });
  const events: AlpacaTradeUpdate[] = [];
  sim.onTradeUpdate((u) => events.push(u));
  return { sim, px, events };
}

const order = (o: Partial<OrderInput> & Pick<OrderInput, 'side'>): OrderInput => ({ symbol: 'AAPL', qty: '10', type: 'market', time_in_force: 'day', ...o });

function refusal(fn: () => unknown): AlpacaApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AlpacaApiError) return err;
    throw err;
  }
  throw new Error('expected an AlpacaApiError');
}

describe('BrokerSim engine', () => {
  it('fills market orders at the price ± slippage in exact decimals, on the tick, buys up and sells down', () => {
    const { sim } = make({ slippageBps: 10 }, { AAPL: '10.001', PENNY: '0.5', MSFT: '100' });
    expect(sim.submitOrder(order({ side: 'buy', qty: '1' })).filled_avg_price).toBe('10.02'); // 10.011001 → up
    expect(sim.submitOrder(order({ side: 'sell', qty: '1' })).filled_avg_price).toBe('9.99'); // 9.990999 → down
    expect(sim.submitOrder(order({ symbol: 'PENNY', side: 'buy', qty: '1' })).filled_avg_price).toBe('0.5005');
    const { sim: s5 } = make({ slippageBps: 5 });
    expect(s5.submitOrder(order({ side: 'buy', symbol: 'MSFT', qty: '1' })).filled_avg_price).toBe('400.2');
    expect(s5.submitOrder(order({ side: 'sell', symbol: 'MSFT', qty: '1' })).filled_avg_price).toBe('399.8');
    // no float drift: 0.1 + 0.2 style prices stay exact
    const { sim: s0 } = make({}, { X: '0.1' });
    s0.submitOrder(order({ symbol: 'X', side: 'buy', qty: '3' }));
    expect(s0.getAccount().cash).toBe('99999.7');
  });

  it('keeps average-cost positions through adds, partial closes and a flip', () => {
    const { sim, px } = make();
    sim.submitOrder(order({ side: 'buy', qty: '10' })); // 10 @ 100
    px.set('AAPL', '110');
    sim.submitOrder(order({ side: 'buy', qty: '10' })); // 20 @ 105
    expect(sim.getPosition('AAPL')).toMatchObject({ qty: '20', avg_entry_price: '105', cost_basis: '2100', side: 'long', market_value: '2200', unrealized_pl: '100' });
    px.set('AAPL', '120');
    sim.submitOrder(order({ side: 'sell', qty: '5' })); // the average stays on a reduction
    expect(sim.getPosition('AAPL')).toMatchObject({ qty: '15', avg_entry_price: '105', cost_basis: '1575' });
    sim.submitOrder(order({ side: 'sell', qty: '15' }));
    expect(sim.listPositions()).toEqual([]);
    // cash: -1000 -1100 +600 +1800
    expect(sim.getAccount().cash).toBe('100300');
    // a third buy at an awkward price: the average is exact to 10 places
    px.set('AAPL', '100');
    sim.submitOrder(order({ side: 'buy', qty: '2' }));
    px.set('AAPL', '100.01');
    sim.submitOrder(order({ side: 'buy', qty: '1' }));
    expect(sim.getPosition('AAPL').avg_entry_price).toBe('100.0033333333');
    expect(sim.getPosition('AAPL').cost_basis).toBe('300.01');
  });

  it('sells short from flat, marks shorts negative, and refuses an order that would flip a position', () => {
    const { sim, px } = make();
    sim.submitOrder(order({ side: 'sell', qty: '10' }));
    px.set('AAPL', '90');
    expect(sim.getPosition('AAPL')).toMatchObject({ qty: '-10', side: 'short', avg_entry_price: '100', cost_basis: '-1000', market_value: '-900', unrealized_pl: '100' });
    expect(sim.getAccount()).toMatchObject({ cash: '101000', short_market_value: '-900', long_market_value: '0', equity: '100100' });
    const e = refusal(() => sim.submitOrder(order({ side: 'buy', qty: '15' })));
    expect(e.statusCode).toBe(403);
    expect(e.body()).toMatchObject({ code: 40310000, message: 'insufficient qty available for order (requested: 15, available: 10)' });
    sim.submitOrder(order({ side: 'buy', qty: '10' }));
    expect(sim.listPositions()).toEqual([]);
    expect(sim.getAccount().cash).toBe('100100');
  });

  it('emits partial_fill then fill with unique execution ids and running position_qty', () => {
    const { sim, events } = make({ partialFillRatio: 0.3 });
    const o = sim.submitOrder(order({ side: 'buy', qty: '10', client_order_id: 'p-1' }));
    expect(o).toMatchObject({ status: 'filled', filled_qty: '10', filled_avg_price: '100' });
    expect(events.map((e) => [e.event, e.qty, e.position_qty, e.order.status, e.order.filled_qty])).toEqual([
      ['new', undefined, undefined, 'new', '0'],
      ['partial_fill', '3', '3', 'partially_filled', '3'],
      ['fill', '7', '10', 'filled', '10'],
    ]);
    const ids = events.filter((e) => e.execution_id).map((e) => e.execution_id);
    expect(new Set(ids).size).toBe(2);
    // a 1-share order cannot be split: one fill
    events.length = 0;
    sim.submitOrder(order({ side: 'buy', qty: '1' }));
    expect(events.map((e) => e.event)).toEqual(['new', 'fill']);
  });

  it('rests limit orders until marketable, re-checking on every price change, and never fills through the limit', () => {
    const { sim, px, events } = make({ slippageBps: 50 });
    const buy = sim.submitOrder(order({ side: 'buy', type: 'limit', limit_price: '99', qty: '5' }));
    expect(buy.status).toBe('new');
    sim.setPrice('AAPL', '99.5');
    expect(sim.getOrder(buy.id).status).toBe('new');
    px.set('AAPL', '98.9'); // through the price source: the sim hears about it too
    // 98.9 × 1.005 = 99.3945 → capped at the limit
    expect(sim.getOrder(buy.id)).toMatchObject({ status: 'filled', filled_avg_price: '99' });
    const sell = sim.submitOrder(order({ side: 'sell', type: 'limit', limit_price: '90', qty: '5' }));
    // 98.9 × 0.995 = 98.4055 → 98.4, better than the limit
    expect(sell).toMatchObject({ status: 'filled', filled_avg_price: '98.4' });
    expect(events.map((e) => e.event)).toEqual(['new', 'fill', 'new', 'fill']);
  });

  it('leaves market orders new until the symbol has a price', () => {
    const { sim, events } = make({}, {});
    const o = sim.submitOrder(order({ symbol: 'NVDA', side: 'buy', qty: '2' }));
    expect(o.status).toBe('new');
    expect(sim.listOrders({ status: 'open' }).map((x) => x.id)).toEqual([o.id]);
    sim.setPrices({ NVDA: '130.5' });
    expect(sim.getOrder(o.id)).toMatchObject({ status: 'filled', filled_avg_price: '130.5' });
    expect(events.map((e) => e.event)).toEqual(['new', 'fill']);
  });

  it('checks buying power against cash minus open buys, with Alpaca’s 403 body', () => {
    const { sim } = make({ startingCash: '1000' });
    const e = refusal(() => sim.submitOrder(order({ side: 'buy', qty: '11' })));
    expect(e.statusCode).toBe(403);
    expect(e.body()).toEqual({ code: 40310000, message: 'insufficient buying power', buying_power: '1000', cost_basis: '1100' });
    sim.submitOrder(order({ side: 'buy', type: 'limit', limit_price: '90', qty: '10' })); // rests, reserves 900
    expect(sim.getAccount().buying_power).toBe('100');
    expect(refusal(() => sim.submitOrder(order({ side: 'buy', qty: '2' }))).statusCode).toBe(403);
    sim.submitOrder(order({ side: 'buy', qty: '1' }));
    sim.cancelAllOrders();
    expect(sim.getAccount()).toMatchObject({ cash: '900', buying_power: '900' });
  });

  it('validates like Alpaca: 422 with code 40010001 (and 42210000 for sub-penny prices)', () => {
    const { sim } = make({ symbols: ['AAPL', 'MSFT'] });
    sim.submitOrder(order({ side: 'buy', qty: '1', client_order_id: 'dup' }));
    const cases: Array<[Partial<OrderInput>, string | RegExp]> = [
      [{ client_order_id: 'dup' }, 'client_order_id must be unique'],
      [{ symbol: 'ZZZZ' }, 'asset "ZZZZ" not found'],
      [{ qty: '1.5' }, /fractional/],
      [{ qty: '0' }, 'qty must be > 0'],
      [{ qty: 'ten' }, /invalid qty/],
      [{ qty: undefined }, 'qty is required'],
      [{ side: 'hold' }, /invalid side/],
      [{ type: 'stop' }, /not supported/],
      [{ type: 'limit' }, /limit_price is required/],
      [{ time_in_force: 'week' }, /invalid time_in_force/],
      [{ notional: '100', qty: undefined }, /notional/],
      [{ client_order_id: 'x'.repeat(129) }, /128/],
    ];
    for (const [patch, msg] of cases) {
      const e = refusal(() => sim.submitOrder({ ...order({ side: 'buy', qty: '1' }), ...patch }));
      expect(e.statusCode, JSON.stringify(patch)).toBe(422);
      expect(e.code).toBe(40010001);
      expect(e.message).toMatch(msg);
    }
    const sub = refusal(() => sim.submitOrder(order({ side: 'buy', type: 'limit', limit_price: '99.999', qty: '1' })));
    expect([sub.statusCode, sub.code]).toEqual([422, 42210000]);
    expect(sim.submitOrder(order({ symbol: 'msft', side: 'buy', qty: '1' })).symbol).toBe('MSFT');
  });

  it('cancels open orders (rest of a partial included) and refuses to cancel finished ones', () => {
    const { sim, events } = make({ fillDelayMs: 60_000, partialFillRatio: 0.5 }, {});
    const o = sim.submitOrder(order({ side: 'buy', qty: '4' }));
    expect(sim.cancelOrder(o.id)).toMatchObject({ status: 'canceled', filled_qty: '0' });
    const again = refusal(() => sim.cancelOrder(o.id));
    expect([again.statusCode, again.code, again.message]).toEqual([422, 42210000, 'order is already in "canceled" state']);
    expect(refusal(() => sim.cancelOrder('6f1c3a4e-0000-4000-8000-000000000000')).statusCode).toBe(404);
    expect(refusal(() => sim.cancelOrder('not-an-id')).statusCode).toBe(422);
    expect(events.map((e) => e.event)).toEqual(['new', 'canceled']);
    sim.close();
  });

  it('IOC cancels what cannot fill at once; FOK never partially fills', () => {
    const { sim } = make({ partialFillRatio: 0.5 });
    expect(sim.submitOrder(order({ side: 'buy', type: 'limit', limit_price: '50', time_in_force: 'ioc' })).status).toBe('canceled');
    expect(sim.submitOrder(order({ side: 'buy', qty: '10', time_in_force: 'ioc' }))).toMatchObject({ status: 'canceled', filled_qty: '5' });
    expect(sim.submitOrder(order({ side: 'buy', qty: '10', time_in_force: 'fok' }))).toMatchObject({ status: 'filled', filled_qty: '10' });
  });

  it('accepts, then rejects orders on rejectSymbols; expires day orders on request', () => {
    const { sim, events } = make({ rejectSymbols: ['GME'] }, { GME: '20' });
    expect(sim.submitOrder(order({ symbol: 'GME', side: 'buy', qty: '1' })).status).toBe('rejected');
    expect(events.map((e) => [e.event, e.order.status])).toEqual([['rejected', 'rejected']]);
    sim.submitOrder(order({ side: 'buy', type: 'limit', limit_price: '1', qty: '1' }));
    sim.submitOrder(order({ side: 'buy', type: 'limit', limit_price: '1', qty: '1', time_in_force: 'gtc' }));
    expect(sim.expireDayOrders()).toHaveLength(1);
    expect(sim.listOrders({ status: 'open' })).toHaveLength(1);
  });

  it('executes after fillDelayMs, answering the submission with the order still new', async () => {
    const { sim, events } = make({ fillDelayMs: 20, partialFillRatio: 0.5 });
    const o = sim.submitOrder(order({ side: 'buy', qty: '4' }));
    expect(o.status).toBe('new');
    await new Promise((r) => setTimeout(r, 80));
    expect(events.map((e) => e.event)).toEqual(['new', 'partial_fill', 'fill']);
    sim.close();
  });

  it('lists orders by status, direction, after and limit', () => {
    const clock = fixedClock('2025-01-17T15:00:00Z');
    const sim = new BrokerSim({ clock, logger: silentLogger(), prices: new StaticPrices({ AAPL: '100' }) });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      ids.push(sim.submitOrder(order({ side: 'buy', qty: '1', ...(i % 2 ? { type: 'limit', limit_price: '1' } : {}) })).id);
      clock.advance(1000);
    }
    expect(sim.listOrders().map((o) => o.id)).toEqual([ids[3], ids[1]]);
    expect(sim.listOrders({ status: 'closed', direction: 'asc' }).map((o) => o.id)).toEqual([ids[0], ids[2]]);
    expect(sim.listOrders({ status: 'all', direction: 'asc', after: '2025-01-17T15:00:01Z' }).map((o) => o.id)).toEqual([ids[2], ids[3]]);
    expect(sim.listOrders({ status: 'all', limit: 1 }).map((o) => o.id)).toEqual([ids[3]]);
  });

  it('property: cash, positions and average cost stay consistent over random trading', () => {
    const step = fc.record({ side: fc.constantFrom('buy', 'sell'), qty: fc.integer({ min: 1, max: 50 }), price: fc.constantFrom('9.99', '10', '10.01', '12.5', '7.25') });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
        const { sim, px } = make({ startingCash: '1000000' }, { AAPL: '10' });
        let qty = dec(0);
        let cash = dec(1000000);
        const opened: string[] = [];
        for (const s of steps) {
          px.set('AAPL', s.price);
          try {
            sim.submitOrder(order({ side: s.side as 'buy' | 'sell', qty: String(s.qty) }));
          } catch (err) {
            if (err instanceof AlpacaApiError && err.statusCode === 403) continue; // would flip the position
            throw err;
          }
          const signed = s.side === 'buy' ? s.qty : -s.qty;
          if (qty.isZero()) opened.length = 0;
          if (qty.isZero() || qty.isPositive() === signed > 0) opened.push(s.price); // reductions keep the average
          qty = qty.plus(signed);
          cash = cash.minus(dec(s.price).times(signed));
        }
        const acct = sim.getAccount();
        expect(acct.cash).toBe(cash.toFixed());
        const pos = sim.listPositions()[0];
        if (qty.isZero()) expect(pos).toBeUndefined();
        else {
          expect(pos!.qty).toBe(qty.toFixed());
          const avg = dec(pos!.avg_entry_price);
          const ps = opened.map((p) => dec(p));
          expect(avg.gte(Math.min(...ps.map(Number))) && avg.lte(Math.max(...ps.map(Number)))).toBe(true);
          expect(dec(acct.equity).eq(cash.plus(qty.times(dec(px.price('AAPL')!))))).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });
});
