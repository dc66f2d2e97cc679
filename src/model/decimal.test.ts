import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FieldError } from '../core/errors.js';
import { dec, Decimal, decimalShape, decString, isDecimalString } from '../core/money.js';
import { BROKER_DECIMAL, brokerDecimalText, decimalProblem, parseDecimal, parseMoney, parsePrice, parseQty } from './decimal.js';

describe('decimalShape: the value read from the text, never expanded', () => {
  it('counts digits before and places after the point with the exponent applied', () => {
    expect(decimalShape('00120.500')).toMatchObject({ intDigits: 3, scale: 1, zero: false });
    expect(decimalShape('1.5e3')).toMatchObject({ intDigits: 4, scale: 0 });
    expect(decimalShape('1e-3')).toMatchObject({ intDigits: 0, scale: 3 });
    expect(decimalShape('-0.000')).toMatchObject({ zero: true, negative: true });
    expect(decimalShape('1e1000000000')).toMatchObject({ intDigits: 1_000_000_001 });
    expect(decimalShape('1e-99999999999999999999')!.scale).toBeGreaterThan(1e19);
    for (const bad of ['', '.', 'e5', '1e', '1,5', ' 1', '1 ', '0x10', 'Infinity', 'NaN', '--1', '1e+-2']) expect(decimalShape(bad)).toBeNull();
  });

  it('property: agrees with decimal.js on values it can build', () => {
    const text = fc.tuple(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.integer({ min: -30, max: 30 })).map(([m, e]) => `${m}e${e}`);
    fc.assert(
      fc.property(text, (t) => {
        const s = decimalShape(t)!;
        const d = new Decimal(t);
        if (d.isZero()) return s.zero;
        const abs = d.abs();
        const intDigits = abs.gte(1) ? abs.trunc().toFixed().length : 0;
        return s.intDigits === intDigits && s.scale === d.decimalPlaces();
      }),
    );
  });
});

describe('dec(): safe on any text', () => {
  it('refuses a text whose expansion would be huge, in microseconds', () => {
    const t = performance.now();
    for (const huge of ['1e1000000000', '1e10000000', '-1e321', '1e-361', `0.${'1'.repeat(361)}`, '1'.repeat(801)]) expect(() => dec(huge)).toThrow(RangeError);
    // Whatever a finite double prints reads back.
    for (const x of [Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 1e-300]) expect(dec(decString(dec(x))).eq(dec(x))).toBe(true);
    expect(performance.now() - t).toBeLessThan(50);
    expect(isDecimalString('1e10000000')).toBe(false);
    expect(decString(dec('1e39'))).toBe('1' + '0'.repeat(39));
    expect(dec('1e319').gt(0)).toBe(true);
  });
});

describe('parseDecimal and the named rules', () => {
  it('accepts what a caller means and gives it back exactly', () => {
    expect(decString(parsePrice('187.25', 'limit_price'))).toBe('187.25');
    expect(decString(parsePrice('1.8725e2', 'limit_price'))).toBe('187.25');
    expect(decString(parseQty('10.000', 'qty'))).toBe('10');
    expect(decString(parseMoney('999999999999999.9999999999', 'capital'))).toBe('999999999999999.9999999999');
    expect(decString(parseMoney(250000.5, 'capital', { allowNumber: true }))).toBe('250000.5');
  });

  it('refuses the issue #14 repros and every out-of-range spelling with a reason per field', () => {
    const cases: Array<[unknown, () => unknown, RegExp]> = [
      ['1e1000000000', () => parsePrice('1e1000000000', 'limit_price'), /limit_price is out of range/],
      ['1e10000000', () => parsePrice('1e10000000', 'limit_price'), /out of range/],
      ['1e-12', () => parsePrice('1e-12', 'limit_price'), /too many decimal places/],
      ['0', () => parsePrice('0', 'limit_price'), /greater than 0/],
      ['1000000000', () => parsePrice('1000000000', 'limit_price'), /out of range/],
      ['1e15', () => parseMoney('1e15', 'capital'), /out of range/],
      [' 10', () => parseQty(' 10', 'qty'), /decimal number/],
      ['10 ', () => parseQty('10 ', 'qty'), /decimal number/],
      ['１０', () => parseQty('１０', 'qty'), /decimal number/],
      ['1,5', () => parseQty('1,5', 'qty'), /decimal number/],
      ['Infinity', () => parseQty('Infinity', 'qty'), /decimal number/],
      [10, () => parseQty(10, 'qty'), /decimal string/],
      [['10'], () => parseQty(['10'], 'qty'), /decimal string/],
      [null, () => parseQty(null, 'qty'), /decimal string/],
      ['long', () => parseQty('1'.repeat(65), 'qty'), /at most 64 characters/],
      ['NaN number', () => parseMoney(Number.NaN, 'capital', { allowNumber: true }), /finite/],
      ['1e2 without exponent', () => parseQty('1e2', 'qty', { allowExponent: false }), /without an exponent/],
    ];
    for (const [, f, re] of cases) {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FieldError);
      expect((err as FieldError).message).toMatch(re);
    }
  });

  it('broker answers: generous but bounded; the broker spelling is kept', () => {
    expect(brokerDecimalText('153.4566666666666667', 'filled_avg_price')).toBe('153.4566666666666667');
    expect(brokerDecimalText(10, 'qty')).toBe('10');
    expect(() => brokerDecimalText('1e100', 'qty')).toThrow(/qty is out of range/);
    expect(decimalProblem('1e15', BROKER_DECIMAL)).toMatch(/out of range/);
  });

  it('property: anything parseDecimal accepts is within the rule, and prints short', () => {
    const rule = { maxIntDigits: 15, maxScale: 10, maxLength: 64 };
    const anyText = fc.oneof(
      fc.string({ maxLength: 70 }),
      fc.tuple(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.integer({ min: -2_000_000_000, max: 2_000_000_000 })).map(([m, e]) => `${m}e${e}`),
      fc.double().map(String),
    );
    fc.assert(
      fc.property(anyText, (t) => {
        let d;
        try {
          d = parseDecimal(t, 'x', rule);
        } catch (e) {
          return e instanceof FieldError;
        }
        return d.abs().lt('1e15') && d.decimalPlaces() <= 10 && decString(d).length <= 27;
      }),
      { numRuns: 2000 },
    );
  });
});
