import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tradePath, validateBar, type DailyBar } from './path.js';

/** Random valid bars in whole cents: low < high, open and close within. */
const barArb = fc
  .record({ low: fc.integer({ min: 1, max: 500_000 }), width: fc.integer({ min: 1, max: 50_000 }), o: fc.double({ min: 0, max: 1, noNaN: true }), c: fc.double({ min: 0, max: 1, noNaN: true }), volume: fc.integer({ min: 0, max: 5_000_000 }) })
  .map(({ low, width, o, c, volume }): DailyBar => {
    const high = low + width;
    const pick = (f: number) => low + Math.round(f * width);
    return { low: low / 100, high: high / 100, open: pick(o) / 100, close: pick(c) / 100, volume };
  });
const c = (x: number) => Math.round(x * 100);

describe('tradePath', () => {
  it('properties: endpoints, bounds, cents, extremes touched once, volume, determinism', () => {
    fc.assert(
      fc.property(barArb, fc.integer({ min: 4, max: 400 }), fc.integer(), (bar, n, seed) => {
        expect(validateBar(bar)).toBeNull();
        const p = tradePath(bar, n, seed);
        if (c(bar.high) - c(bar.low) >= 2) expect(p.length).toBe(n);
        expect(c(p[0]!.price)).toBe(c(bar.open));
        expect(c(p.at(-1)!.price)).toBe(c(bar.close));
        for (const t of p) {
          expect(Number.isInteger(Math.round(t.price * 100))).toBe(true);
          expect(Math.abs(t.price * 100 - Math.round(t.price * 100))).toBeLessThan(1e-6);
          expect(c(t.price)).toBeGreaterThanOrEqual(c(bar.low));
          expect(c(t.price)).toBeLessThanOrEqual(c(bar.high));
          expect(Number.isInteger(t.size) && t.size >= 0).toBe(true);
        }
        const ends = (v: number) => (c(bar.open) === v ? 1 : 0) + (c(bar.close) === v ? 1 : 0);
        const touches = (v: number) => p.filter((t) => c(t.price) === v).length;
        expect(touches(c(bar.high))).toBe(Math.max(1, ends(c(bar.high))));
        expect(touches(c(bar.low))).toBe(Math.max(1, ends(c(bar.low))));
        expect(p.reduce((s, t) => s + t.size, 0)).toBe(bar.volume);
        if (bar.volume >= p.length) expect(p.every((t) => t.size >= 1)).toBe(true);
        expect(tradePath(bar, n, seed)).toEqual(p);
      }),
      { numRuns: 400 },
    );
  });

  it('different seeds give different paths', () => {
    const bar = { open: 100, high: 105, low: 95, close: 102, volume: 1_000_000 };
    expect(tradePath(bar, 100, 1)).not.toEqual(tradePath(bar, 100, 2));
  });

  it('rejects invalid bars', () => {
    expect(() => tradePath({ open: 1, high: 1, low: 1, close: 1, volume: 1 }, 10, 1)).toThrow(RangeError);
    expect(() => tradePath({ open: 3, high: 2, low: 1, close: 1.5, volume: 1 }, 10, 1)).toThrow(RangeError);
    expect(() => tradePath({ open: 1.5, high: 2, low: 1, close: NaN, volume: 1 }, 10, 1)).toThrow(RangeError);
  });
});
