import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addF, fixedString, mulF, parseFixed, subF } from './fixed.js';
import { dec, decString } from './money.js';

const decimalText = fc
  .tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 10n ** 15n }), fc.integer({ min: 0, max: 12 }))
  .map(([neg, m, s]) => {
    const d = m.toString().padStart(s + 1, '0');
    return `${neg ? '-' : ''}${s ? `${d.slice(0, -s)}.${d.slice(-s)}` : d}`;
  });

describe('fixed-point', () => {
  it('parses and prints canonically', () => {
    expect(fixedString(parseFixed('-12.3400'))).toBe('-12.34');
    expect(fixedString(parseFixed('0.000'))).toBe('0');
    expect(fixedString(parseFixed('.5'))).toBe('0.5');
    expect(fixedString(subF(parseFixed('0.1'), parseFixed('0.35')))).toBe('-0.25');
    for (const bad of ['', '.', '1e5', 'abc', '1.2.3', '--1']) expect(() => parseFixed(bad)).toThrow(RangeError);
  });

  it('property: + − × agree exactly with decimal.js', () => {
    fc.assert(
      fc.property(decimalText, decimalText, (a, b) => {
        const fa = parseFixed(a);
        const fb = parseFixed(b);
        return (
          fixedString(addF(fa, fb)) === decString(dec(a).plus(b)) &&
          fixedString(subF(fa, fb)) === decString(dec(a).minus(b)) &&
          fixedString(mulF(fa, fb)) === decString(dec(a).times(b))
        );
      }),
    );
  });
});
