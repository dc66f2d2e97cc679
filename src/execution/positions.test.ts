import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dec, decString, sum } from '../core/money.js';
import { applyFill, avgEntryPrice, FLAT, foldFills, unrealizedPnl, type FillLike, type PositionState } from './positions.js';

const show = (p: PositionState) => ({ qty: decString(p.qty), avg: decString(avgEntryPrice(p)), cost: decString(p.cost), realized: decString(p.realized) });
const buy = (qty: string, price: string): FillLike => ({ side: 'buy', qty, price });
const sell = (qty: string, price: string): FillLike => ({ side: 'sell', qty, price });

describe('average-cost positions: hand-computed cases', () => {
  it('opens and adds at a weighted average', () => {
    expect(show(foldFills([buy('10', '100'), buy('30', '104')]))).toEqual({ qty: '40', avg: '103', cost: '4120', realized: '0' });
  });

  it('reduces at the average: realizes (price − avg) × closed, keeps the average', () => {
    const p = foldFills([buy('10', '100'), buy('30', '104'), sell('15', '110')]);
    // avg 103; 15 × (110 − 103) = 105
    expect(show(p)).toEqual({ qty: '25', avg: '103', cost: '2575', realized: '105' });
  });

  it('closes to flat', () => {
    expect(show(foldFills([buy('10', '100'), sell('10', '95.5')]))).toEqual({ qty: '0', avg: '0', cost: '0', realized: '-45' });
  });

  it('flips long → short: realizes the closed part, opens the rest at the fill price', () => {
    const p = foldFills([buy('10', '50'), sell('25', '60')]);
    expect(show(p)).toEqual({ qty: '-15', avg: '60', cost: '-900', realized: '100' });
  });

  it('short side: profit when the price falls, flip short → long', () => {
    const p1 = foldFills([sell('20', '30'), buy('5', '25')]);
    expect(show(p1)).toEqual({ qty: '-15', avg: '30', cost: '-450', realized: '25' });
    const p2 = applyFill(p1, buy('20', '40'));
    // closes 15 at 40 against avg 30: −150; opens 5 long at 40
    expect(show(p2)).toEqual({ qty: '5', avg: '40', cost: '200', realized: '-125' });
  });

  it('keeps non-terminating averages exact through the cost basis', () => {
    const p = foldFills([buy('1', '1'), buy('2', '2')]); // avg 5/3
    expect(decString(p.cost)).toBe('5');
    const closed = foldFills([sell('3', '2')], p);
    expect(show(closed)).toEqual({ qty: '0', avg: '0', cost: '0', realized: '1' });
  });

  it('cents stay exact (no float drift)', () => {
    const fills = Array.from({ length: 100 }, () => buy('1', '0.1'));
    const p = foldFills([...fills, sell('100', '0.3')]);
    expect(decString(p.realized)).toBe('20');
  });

  it('the worked example of docs/concepts/pnl.md', () => {
    const fills = [buy('10', '100'), buy('30', '104'), sell('15', '110'), sell('40', '95'), buy('15', '90')];
    const steps = fills.map((_, i) => show(foldFills(fills.slice(0, i + 1))));
    expect(steps).toEqual([
      { qty: '10', avg: '100', cost: '1000', realized: '0' },
      { qty: '40', avg: '103', cost: '4120', realized: '0' },
      { qty: '25', avg: '103', cost: '2575', realized: '105' },
      { qty: '-15', avg: '95', cost: '-1425', realized: '-95' },
      { qty: '0', avg: '0', cost: '0', realized: '-20' },
    ]);
  });

  it('refuses non-positive quantities and prices', () => {
    expect(() => applyFill(FLAT, buy('0', '1'))).toThrow(RangeError);
    expect(() => applyFill(FLAT, buy('1', '-1'))).toThrow(RangeError);
  });
});

const price = fc.integer({ min: 1, max: 1_000_000 }).map((c) => (c / 100).toFixed(2));
const qty = fc.integer({ min: 1, max: 5_000 }).map(String);
const fill = fc.record({ side: fc.constantFrom('buy' as const, 'sell' as const), qty, price });

describe('average-cost positions: properties', () => {
  it('realized + unrealized at any mark = cash flow + market value, exactly', () => {
    fc.assert(
      fc.property(fc.array(fill, { maxLength: 40 }), price, (fills, mark) => {
        const p = foldFills(fills);
        const cash = sum(fills.map((f) => dec(f.qty).times(f.price).times(f.side === 'buy' ? -1 : 1)));
        const value = p.qty.times(mark);
        expect(p.realized.plus(unrealizedPnl(p, mark)).eq(cash.plus(value))).toBe(true);
        expect(p.qty.eq(sum(fills.map((f) => (f.side === 'buy' ? dec(f.qty) : dec(f.qty).neg()))))).toBe(true);
      }),
    );
  });

  it('buying then selling the same qty at the same price realizes 0 and ends flat', () => {
    fc.assert(
      fc.property(fc.array(fill, { maxLength: 10 }), qty, price, (before, q, px) => {
        const start = foldFills(before);
        if (!start.qty.isZero()) return; // from flat only
        const p = foldFills([buy(q, px), sell(q, px)], start);
        expect(p.qty.isZero() && p.cost.isZero() && p.realized.eq(start.realized)).toBe(true);
        const s = foldFills([sell(q, px), buy(q, px)]);
        expect(show(s)).toEqual({ qty: '0', avg: '0', cost: '0', realized: '0' });
      }),
    );
  });

  it('the order of the partial fills of one order does not change the final position', () => {
    fc.assert(
      fc.property(fc.array(fill, { maxLength: 8 }), fc.constantFrom('buy' as const, 'sell' as const), fc.array(fc.tuple(qty, price), { minLength: 1, maxLength: 8 }), fc.integer(), (before, side, parts, seed) => {
        const start = foldFills(before);
        const fills = parts.map(([q, px]) => ({ side, qty: q, price: px }));
        const shuffled = [...fills].sort((a, b) => ((a.qty.length * 31 + a.price.length * 7 + seed) % 5) - ((b.qty.length * 31 + b.price.length * 7 + seed) % 5));
        const reversed = [...fills].reverse();
        const a = foldFills(fills, start);
        for (const other of [shuffled, reversed]) {
          const b = foldFills(other, start);
          // Same qty and basis always; realized is order-independent while the fills only add,
          // and in total whenever they close (exactness of the closed cost aside).
          expect(b.qty.eq(a.qty)).toBe(true);
          if (start.qty.isZero() || start.qty.isPositive() === (side === 'buy')) {
            expect(show(b)).toEqual(show(a));
          }
        }
      }),
    );
  });

  it('flipping through zero equals closing then opening separately', () => {
    fc.assert(
      fc.property(qty, qty, price, price, (q1, q2, p1, p2) => {
        const flip = foldFills([buy(q1, p1), sell(dec(q1).plus(q2).toString(), p2)]);
        const twoStep = foldFills([buy(q1, p1), sell(q1, p2), sell(q2, p2)]);
        expect(show(flip)).toEqual(show(twoStep));
      }),
    );
  });
});
