import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dec } from '../core/money.js';
import { applyFill, FLAT, avgEntryPrice, type FillLike, type PositionState } from '../execution/positions.js';
import { computePnl, type Mark } from './portfolio.js';

const now = new Date('2025-01-17T21:00:00Z');
const marksOf = (m: Record<string, string>, ts = '2025-01-17T20:59:00Z') => (s: string): Mark | undefined => (m[s] ? { price: m[s]!, ts } : undefined);

describe('portfolio P&L', () => {
  it('hand-computed long and short', () => {
    // Long 100 @ 10.50 marked 11.25: unrealized = 0.75 × 100 = 75; short 50 @ 20 marked 19.10: (19.10 − 20) × −50 = 45.
    const snap = computePnl(
      [
        { symbol: 'AAA', qty: '100', avg_entry_price: '10.50', realized_pnl: '12.34' },
        { symbol: 'BBB', qty: '-50', avg_entry_price: '20', realized_pnl: '0' },
        { symbol: 'CCC', qty: '0', avg_entry_price: '0', realized_pnl: '-5.01' },
      ],
      marksOf({ AAA: '11.25', BBB: '19.10' }),
      { now, cash: '10000.00' },
    );
    expect(snap.unrealized_pnl).toBe('120');
    expect(snap.realized_pnl).toBe('7.33');
    expect(snap.total_pnl).toBe('127.33');
    // market value = 1125 − 955 = 170; equity = 10000 + 170
    expect(snap.market_value).toBe('170');
    expect(snap.equity).toBe('10170');
    expect(snap.positions.find((p) => p.symbol === 'BBB')).toMatchObject({ unrealized_pnl: '45', market_value: '-955', total_pnl: '45' });
    expect(snap).toMatchObject({ timezone: 'UTC', as_of: '2025-01-17T21:00:00.000Z', missing_marks: [], stale_marks: [] });
  });

  it('says which marks are missing or stale', () => {
    const snap = computePnl(
      [
        { symbol: 'AAA', qty: '10', avg_entry_price: '5', realized_pnl: '0' },
        { symbol: 'BBB', qty: '10', avg_entry_price: '5', realized_pnl: '0' },
      ],
      (s) => (s === 'AAA' ? { price: '6', ts: '2025-01-17T20:00:00Z' } : undefined),
      { now, staleAfterMs: 15 * 60_000 },
    );
    expect(snap.missing_marks).toEqual(['BBB']);
    expect(snap.stale_marks).toEqual(['AAA']);
    expect(snap.unrealized_pnl).toBe('10');
    expect(snap.equity).toBeNull();
  });

  it('property: total P&L equals the change in equity (cash + market value), exactly', () => {
    const fill = fc.record({
      side: fc.constantFrom<'buy' | 'sell'>('buy', 'sell'),
      qty: fc.integer({ min: 1, max: 500 }).map(String),
      price: fc.integer({ min: 100, max: 100_000 }).map((c) => dec(c).div(100).toString()),
    });
    fc.assert(
      fc.property(fc.array(fill, { minLength: 1, maxLength: 30 }), fc.integer({ min: 100, max: 100_000 }), (fills: FillLike[], markCents) => {
        const cash0 = dec('1000000');
        let cash = cash0;
        let p: PositionState = FLAT;
        for (const f of fills) {
          p = applyFill(p, f);
          const notional = dec(f.qty).times(f.price);
          cash = f.side === 'buy' ? cash.minus(notional) : cash.plus(notional);
        }
        const mark = dec(markCents).div(100).toString();
        const snap = computePnl([{ symbol: 'X', qty: p.qty, avg_entry_price: avgEntryPrice(p), realized_pnl: p.realized }], marksOf({ X: mark }), { now, cash });
        // Equity change vs. total P&L, to the cent (avg_entry_price carries the only rounding).
        return dec(snap.equity!).minus(cash0).minus(snap.total_pnl).abs().lt('0.005');
      }),
    );
  });

  it('with the exact cost basis, unrealized is qty × mark − basis with no residue (not (mark − rounded avg) × qty)', () => {
    // buy 1 @ 1, buy 2 @ 2: basis 5, avg 5/3 — not a terminating decimal, stored rounded to 40 digits.
    const p = [{ side: 'buy', qty: '1', price: '1' }, { side: 'buy', qty: '2', price: '2' }].reduce<PositionState>((s, f) => applyFill(s, f as FillLike), FLAT);
    const avg = avgEntryPrice(p).toFixed();
    const viaAvg = computePnl([{ symbol: 'X', qty: p.qty, avg_entry_price: avg, realized_pnl: '0' }], marksOf({ X: '2' }), { now, cash: '95' });
    expect(viaAvg.unrealized_pnl).not.toBe('1'); // the residue the paper report used to show
    const exact = computePnl([{ symbol: 'X', qty: p.qty, avg_entry_price: avg, realized_pnl: '0', cost_basis: p.cost }], marksOf({ X: '2' }), { now, cash: '95' });
    expect(exact).toMatchObject({ unrealized_pnl: '1', total_pnl: '1', market_value: '6', equity: '101' });
    // No mark: valued at the basis, unrealized exactly 0.
    const unmarked = computePnl([{ symbol: 'X', qty: p.qty, avg_entry_price: avg, realized_pnl: '0', cost_basis: p.cost }], () => undefined, { now, cash: '95' });
    expect(unmarked).toMatchObject({ unrealized_pnl: '0', market_value: '5', equity: '100', missing_marks: ['X'] });
  });

  it('property: with the cost basis, total P&L equals the change in equity exactly (difference 0)', () => {
    const fill = fc.record({
      side: fc.constantFrom<'buy' | 'sell'>('buy', 'sell'),
      qty: fc.integer({ min: 1, max: 500 }).map(String),
      price: fc.integer({ min: 100, max: 100_000 }).map((c) => dec(c).div(100).toString()),
    });
    fc.assert(
      fc.property(fc.array(fill, { minLength: 1, maxLength: 30 }), fc.integer({ min: 100, max: 100_000 }), (fills: FillLike[], markCents) => {
        const cash0 = dec('1000000');
        let cash = cash0;
        let p: PositionState = FLAT;
        for (const f of fills) {
          p = applyFill(p, f);
          const notional = dec(f.qty).times(f.price);
          cash = f.side === 'buy' ? cash.minus(notional) : cash.plus(notional);
        }
        const snap = computePnl([{ symbol: 'X', qty: p.qty, avg_entry_price: avgEntryPrice(p), realized_pnl: p.realized, cost_basis: p.cost }], marksOf({ X: dec(markCents).div(100).toString() }), { now, cash });
        return dec(snap.equity!).minus(cash0).minus(snap.total_pnl).isZero();
      }),
    );
  });
});
