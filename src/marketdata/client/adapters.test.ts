import fc from 'fast-check';
import { Decimal } from 'decimal.js';
import { describe, expect, it } from 'vitest';
import { decimalString, toBar, toTrade } from './adapters.js';

describe('adapters', () => {
  it('maps trades and bars to decimal strings', () => {
    expect(toTrade({ T: 't', S: 'AAPL', i: 7, x: 'V', p: 101.23, s: 100, t: '2025-01-17T15:00:00Z', c: [], z: 'C' })).toEqual({
      symbol: 'AAPL',
      id: 7,
      price: '101.23',
      size: '100',
      ts: '2025-01-17T15:00:00Z',
    });
    expect(toBar({ T: 'b', S: 'X', o: 1.1, h: 2, l: 0.3, c: 1.5, v: 1e21, t: '2025-01-17T15:00:00Z' })).toMatchObject({ o: '1.1', l: '0.3', v: '1000000000000000000000' });
    expect(decimalString(1e-7)).toBe('0.0000001');
    expect(decimalString(-0)).toBe(new Decimal(-0).toFixed());
  });

  it('property: decimalString equals decimal.js toFixed() for every finite double', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 1, max: 10_000_000 }).map((c) => c / 100)), (x) => {
        expect(decimalString(x)).toBe(new Decimal(x).toFixed());
      }),
      { numRuns: 5000 },
    );
  });
});
