import { describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.js';
import { choiceFlag, dateFlag, fractionFlag, intFlag, moneyFlag, numberFlag, textFlag, urlFlag } from './flags.js';

/** The message of the InputError the parser throws (fails the test when it does not throw one). */
function refusal(parse: (raw: string) => unknown, raw: string): string {
  try {
    parse(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).exitCode).toBe(2);
    return (e as Error).message;
  }
  throw new Error(`${JSON.stringify(raw)} was accepted`);
}

describe('flag parsers', () => {
  it('money: positive, plain digits, at most cents; canonical text', () => {
    const capital = moneyFlag('--capital', { max: '1000000000000', example: '100000' });
    expect(capital('100000')).toBe('100000');
    expect(capital(' 2500.50 ')).toBe('2500.5');
    expect(capital('1_000_000')).toBe('1000000');
    expect(refusal(capital, 'abc')).toBe('--capital "abc" must be a positive amount in USD, e.g. 100000');
    for (const bad of ['-5', '0', '1e6', '0x10', 'Infinity', '$100', '', '١٠٠']) expect(refusal(capital, bad)).toMatch(/^--capital ".*" must be a positive amount in USD/);
    expect(refusal(capital, '2000000000000')).toMatch(/must be at most 1000000000000 USD/);
    expect(refusal(capital, '100.001')).toMatch(/at most 2 decimals/);
  });

  it('fraction: (0, max]; a percent is refused with the convention, never divided by 100', () => {
    const pct = fractionFlag('--max-position-pct', 'capital');
    expect(pct('0.1')).toBe('0.1');
    expect(pct('.05')).toBe('0.05');
    expect(pct('1')).toBe('1');
    expect(refusal(pct, '10')).toBe('--max-position-pct "10" is a fraction of capital from 0 to 1, not a percent (10% = 0.1)');
    expect(refusal(pct, '10%')).toBe('--max-position-pct "10%" is a fraction of capital from 0 to 1, not a percent (10% = 0.1)');
    for (const bad of ['0', '-0.1', '1000', 'NaN', '0.1.2', 'ten']) expect(refusal(pct, bad)).toMatch(/^--max-position-pct ".*" is a fraction of capital/);
  });

  it('whole numbers, decimals in a range, dates, choices, text, URLs', () => {
    const days = intFlag('--days', 1, 2520, 'a whole number of trading days');
    expect(days('20')).toBe(20);
    for (const bad of ['0', '2521', '3.5', '1e3', 'x', '']) expect(refusal(days, bad)).toMatch(/^--days ".*" must be a whole number of trading days from 1 to 2520$/);
    const bps = numberFlag('--slippage-bps', 0, 1000, 'basis points');
    expect(bps('2.5')).toBe(2.5);
    expect(bps('0')).toBe(0);
    expect(refusal(bps, '-5')).toBe('--slippage-bps "-5" must be basis points from 0 to 1000');
    expect(refusal(bps, '1e2')).toMatch(/basis points/);
    const asOf = dateFlag('--as-of');
    expect(asOf('2019-12-31')).toBe('2019-12-31');
    for (const bad of ['2019-02-30', '2019-13-01', '20191231', 'yesterday']) expect(refusal(asOf, bad)).toMatch(/^--as-of ".*" must be a date YYYY-MM-DD/);
    expect(choiceFlag('--kind', ['a', 'b'])('b')).toBe('b');
    expect(refusal(choiceFlag('--kind', ['a', 'b']), 'c')).toBe('--kind "c" must be one of a, b');
    expect(textFlag('--reason', 10, 'say why')('  x ')).toBe('x');
    expect(refusal(textFlag('--reason', 10, 'say why'), '   ')).toMatch(/must not be empty: say why/);
    expect(refusal(textFlag('--reason', 10, 'say why'), 'x'.repeat(11))).toMatch(/too long: at most 10/);
    expect(urlFlag('--url', 'http://127.0.0.1:7301')('http://h:1/')).toBe('http://h:1');
    expect(refusal(urlFlag('--url', 'http://127.0.0.1:7301'), 'ftp://h')).toMatch(/must be an http\(s\) base URL/);
  });
});
