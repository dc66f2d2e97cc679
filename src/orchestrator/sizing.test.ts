import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dec, type Decimal } from '../core/money.js';
import { deriveClientOrderId } from '../execution/client-order-id.js';
import type { Signal } from '../signals/types.js';
import { clientOrderIdFor, planOrders, targetQty, type PlanInput } from './sizing.js';

const D = (v: string | number) => dec(v);
const sig = (symbol: string, rank: number, target_weight: number, predicted_return = 1 - rank / 10): Signal => ({ symbol, rank, target_weight, predicted_return });
const input = (over: Partial<PlanInput>): PlanInput => ({
  strategy_id: 'momentum-v2',
  trade_date: '2025-01-17',
  capital: D('100000'),
  max_position_pct: D('0.2'),
  signals: [],
  positions: new Map(),
  prices: new Map(),
  ...over,
});
const prices = (m: Record<string, string>) => new Map(Object.entries(m).map(([k, v]) => [k, D(v)]));
const positions = (m: Record<string, string>) => new Map<string, Decimal>(Object.entries(m).map(([k, v]) => [k, D(v)]));

describe('targetQty: trunc(capital × weight / price), capped', () => {
  it('rounds a long toward zero: 100000 × 0.1 / 187.25 = 53.40… → 53', () => {
    expect(targetQty(D('100000'), D('0.1'), D('187.25'), D('0.2'))).toEqual({ qty: D(53), capped: false });
  });

  it('rounds a short toward zero too: −53.40… → −53 (not −54)', () => {
    const t = targetQty(D('100000'), D('-0.1'), D('187.25'), D('0.2'));
    expect(t.qty.toString()).toBe('-53');
    expect(t.capped).toBe(false);
  });

  it('caps |qty × price| at max_position_pct × capital, the cap rounded toward zero as well', () => {
    // raw 100000 × 0.5 / 300 = 166.66… → 166; cap 0.1 × 100000 / 300 = 33.33… → 33 (33 × 300 = 9900 ≤ 10000)
    expect(targetQty(D('100000'), D('0.5'), D('300'), D('0.1'))).toEqual({ qty: D(33), capped: true });
    const short = targetQty(D('100000'), D('-0.5'), D('300'), D('0.1'));
    expect(short.qty.toString()).toBe('-33');
    expect(short.capped).toBe(true);
  });

  it('exactly at the cap is not "capped": 0.1 × 100000 / 100 = 100 shares either way', () => {
    expect(targetQty(D('100000'), D('0.1'), D('100'), D('0.1'))).toEqual({ qty: D(100), capped: false });
  });

  it('sub-dollar prices and float weights (1/3) stay exact', () => {
    // 1000 × 0.05 / 0.37 = 135.13… → 135
    expect(targetQty(D('1000'), D('0.05'), D('0.37'), D('1')).qty.toString()).toBe('135');
    // 100000 × 0.3333333333333333 / 401.5 = 83.02… → 83
    expect(targetQty(D('100000'), dec(1 / 3), D('401.5'), D('1')).qty.toString()).toBe('83');
  });

  it('a weight too small for one share gives 0 (not −0)', () => {
    const t = targetQty(D('1000'), D('-0.01'), D('500'), D('1'));
    expect(t.qty.isZero()).toBe(true);
    expect(t.qty.isNegative()).toBe(false);
  });

  it('refuses a non-positive price', () => {
    expect(() => targetQty(D('1000'), D('0.1'), D('0'), D('1'))).toThrow(/price/);
  });

  it('property: |target × price| ≤ max_position_pct × capital and ≤ capital × |weight| + price; sign follows the weight; whole shares', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000_000_000 }), // capital in cents
        fc.double({ min: -1, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 5_000_000 }), // price in cents (0.01 … 50 000)
        fc.integer({ min: 1, max: 10_000 }), // max_position_pct in basis points
        (capitalCents, w, priceCents, pctBp) => {
          const capital = D(capitalCents).div(100);
          const price = D(priceCents).div(100);
          const pct = D(pctBp).div(10_000);
          const weight = dec(w);
          const { qty } = targetQty(capital, weight, price, pct);
          const notional = qty.times(price).abs();
          expect(qty.isInteger()).toBe(true);
          expect(notional.lte(pct.times(capital))).toBe(true);
          expect(notional.lte(capital.times(weight.abs()).plus(price))).toBe(true);
          if (!qty.isZero()) expect(qty.isNegative()).toBe(weight.isNegative());
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('planOrders: targets diffed against positions', () => {
  it('buys the difference to a long target and sells to a short one, with the gateway-derived client_order_id', () => {
    const rows = planOrders(
      input({
        signals: [sig('AAPL', 1, 0.1), sig('MSFT', 2, 0), sig('TSLA', 3, -0.1)],
        positions: positions({ AAPL: '20' }),
        prices: prices({ AAPL: '187.25', MSFT: '401.5', TSLA: '250' }),
      }),
    );
    // MSFT: zero weight, no position → no row.
    expect(rows.map((r) => [r.seq, r.symbol, r.leg, r.current_qty, r.target_qty, r.side, r.qty, r.order_status])).toEqual([
      [1, 'AAPL', 'rebalance', '20', '53', 'buy', '33', 'planned'],
      [2, 'TSLA', 'rebalance', '0', '-40', 'sell', '40', 'planned'], // −10000 / 250 = −40 exactly
    ]);
    expect(rows[0]!.client_order_id).toBe(deriveClientOrderId({ strategy_id: 'momentum-v2', symbol: 'AAPL', side: 'buy', qty: '33', order_type: 'market', limit_price: null, trade_date: '2025-01-17' }));
    expect(rows[0]).toMatchObject({ target_weight: '0.1', price: '187.25', rank: 1, capped: false });
  });

  it('closes held symbols that have no weight: zero-weight signals and symbols the signals do not mention', () => {
    const rows = planOrders(
      input({
        signals: [sig('AAPL', 1, 0.1), sig('MSFT', 2, 0)],
        positions: positions({ AAPL: '53', MSFT: '-7', XOM: '15' }),
        prices: prices({ AAPL: '187.25', MSFT: '401.5' }),
      }),
    );
    expect(rows.map((r) => [r.symbol, r.target_qty, r.side, r.qty, r.order_status, r.target_weight])).toEqual([
      ['AAPL', '53', null, null, 'unchanged', '0.1'],
      ['MSFT', '0', 'buy', '7', 'planned', '0'],
      ['XOM', '0', 'sell', '15', 'planned', null], // no price needed to close
    ]);
  });

  it('a symbol without a price fails alone: recorded, no order, its position left as it is', () => {
    const rows = planOrders(
      input({
        signals: [sig('AAPL', 1, 0.1), sig('NOPX', 2, 0.1), sig('TSLA', 3, -0.1)],
        positions: positions({ NOPX: '12' }),
        prices: prices({ AAPL: '187.25', TSLA: '250' }),
      }),
    );
    const nopx = rows.find((r) => r.symbol === 'NOPX')!;
    expect(nopx).toMatchObject({ order_status: 'symbol_failed', side: null, qty: null, client_order_id: null, current_qty: '12', error: 'no price on the signal date' });
    expect(rows.filter((r) => r.order_status === 'planned').map((r) => r.symbol)).toEqual(['AAPL', 'TSLA']);
  });

  it('a position that changes sign is two legs, close then open (deferred), with distinct ids even for a mirror flip', () => {
    const rows = planOrders(
      input({
        capital: D('1000'),
        max_position_pct: D('1'),
        signals: [sig('AAPL', 1, -0.5)],
        positions: positions({ AAPL: '5' }),
        prices: prices({ AAPL: '100' }), // target −5: the mirror image of +5
      }),
    );
    expect(rows.map((r) => [r.leg, r.side, r.qty, r.order_status])).toEqual([
      ['close', 'sell', '5', 'planned'],
      ['open', 'sell', '5', 'deferred'],
    ]);
    expect(rows[0]!.client_order_id).toMatch(/^ks-momentumv2-20250117-[a-z2-7]{26}$/);
    expect(rows[1]!.client_order_id).toMatch(/^kf-momentumv2-20250117-[a-z2-7]{26}$/);
    expect(rows[0]!.client_order_id).not.toBe(rows[1]!.client_order_id);
    expect(clientOrderIdFor({ strategy_id: 'momentum-v2', trade_date: '2025-01-17' }, 'AAPL', 'open', 'sell', '5')).toBe(rows[1]!.client_order_id);
  });

  it('orders rows by rank, then held-only symbols by name; ignores duplicate symbols; bad weights fail the symbol', () => {
    const rows = planOrders(
      input({
        signals: [sig('TSLA', 2, -0.1), sig('AAPL', 1, 0.1), sig('AAPL', 5, 0.5), sig('BAD', 3, Number.NaN)],
        positions: positions({ ZZZ: '1', BBB: '-2' }),
        prices: prices({ AAPL: '100', TSLA: '100', BAD: '10' }),
      }),
    );
    expect(rows.map((r) => [r.seq, r.symbol, r.order_status])).toEqual([
      [1, 'AAPL', 'planned'],
      [2, 'TSLA', 'planned'],
      [3, 'BAD', 'symbol_failed'],
      [4, 'BBB', 'planned'],
      [5, 'ZZZ', 'planned'],
    ]);
    expect(rows[0]!.qty).toBe('100');
  });

  it('property: applying the planned legs to the positions reaches every target', () => {
    const symbols = ['AAA', 'BBB', 'CCC', 'DDD', 'EEE', 'FFF'];
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -0.5, max: 0.5, noNaN: true }), { minLength: symbols.length, maxLength: symbols.length }),
        fc.array(fc.integer({ min: -500, max: 500 }), { minLength: symbols.length, maxLength: symbols.length }),
        fc.array(fc.integer({ min: 100, max: 100_000 }), { minLength: symbols.length, maxLength: symbols.length }),
        (weights, held, cents) => {
          const signals = symbols.slice(0, 4).map((s, i) => sig(s, i + 1, weights[i]!)); // EEE, FFF: held only
          const pos = new Map(symbols.map((s, i) => [s, D(held[i]!)] as const).filter(([, q]) => !q.isZero()));
          const px = new Map(symbols.map((s, i) => [s, D(cents[i]!).div(100)] as const));
          const rows = planOrders(input({ signals, positions: pos, prices: px }));
          const after = new Map(pos);
          for (const r of rows) {
            if (r.qty === null) continue;
            const q = D(r.qty).times(r.side === 'buy' ? 1 : -1);
            after.set(r.symbol, (after.get(r.symbol) ?? D(0)).plus(q));
            expect(D(r.qty).gt(0)).toBe(true);
          }
          for (const r of rows) expect((after.get(r.symbol) ?? D(0)).toString()).toBe(D(r.target_qty!).toString());
          for (const s of ['EEE', 'FFF']) expect((after.get(s) ?? D(0)).isZero()).toBe(true);
          // A leg never flips a position on its own: a close leg ends at 0.
          for (const r of rows.filter((x) => x.leg === 'close')) expect(D(r.qty!).eq(D(r.current_qty).abs())).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
