import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { averagePrice, cents, dec, decString, isDecimalString, money, priceAtTick, sum } from './money.js';

describe('money', () => {
  it('is exact where floats drift', () => {
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(decString(dec('0.1').plus('0.2'))).toBe('0.3');
    expect(decString(sum(Array.from({ length: 1000 }, () => '0.01')))).toBe('10');
    expect(decString(dec(0.1))).toBe('0.1');
  });

  it('rounds cash half-even', () => {
    expect(money('2.345')).toBe('2.34');
    expect(money('2.355')).toBe('2.36');
    expect(money('-1.005')).toBe('-1.00');
  });

  it('rounds at the edges: cents for money, the tick for prices, 4 dp for averages', () => {
    expect(cents('24959.06999999999999999999999999999999998099')).toBe('24959.07');
    expect(cents('-0.00000000000000000000000000000000001901')).toBe('0.00'); // never "-0.00"
    expect(cents('0.125')).toBe('0.12');
    expect(cents('-1477.225')).toBe('-1477.22');
    expect(priceAtTick('325.7657')).toBe('325.77');
    expect(priceAtTick('0.98765')).toBe('0.9876');
    expect(priceAtTick('1')).toBe('1.00');
    expect(averagePrice('36.23695652173913043478260869565217391304')).toBe('36.2370');
    expect(averagePrice('-0.00001')).toBe('0.0000');
  });

  it('rejects what is not a decimal', () => {
    for (const bad of ['', 'abc', '1,5', '0x10', 'NaN', 'Infinity', '1e', '--1']) expect(() => dec(bad)).toThrow(RangeError);
    expect(() => dec(Number.NaN)).toThrow(RangeError);
    expect(isDecimalString('12.50')).toBe(true);
    expect(isDecimalString('12,50')).toBe(false);
  });

  it('property: a + b − b = a and (a × b) / b = a for cents and share counts', () => {
    const cents = fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }).map((c) => dec(c.toString()).div(100));
    const qty = fc.integer({ min: 1, max: 10_000_000 }).map((q) => dec(q));
    fc.assert(fc.property(cents, cents, (a, b) => a.plus(b).minus(b).eq(a)));
    fc.assert(fc.property(cents, qty, (a, q) => a.times(q).div(q).eq(a)));
  });

  it('property: the canonical string parses back to the same value', () => {
    fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e15, max: 1e15 }), (x) => dec(decString(dec(x))).eq(dec(x))));
  });
});
