import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FieldError } from '../core/errors.js';
import { asciiUpper, isSymbol, normalizeVendorSymbol, parseSymbol, SYMBOL_PATTERN, trySymbol } from './symbol.js';

describe('parseSymbol: one grammar, ASCII only', () => {
  it('accepts tickers and share classes, upper-casing ASCII only', () => {
    expect(parseSymbol('AAPL')).toBe('AAPL');
    expect(parseSymbol('aapl')).toBe('AAPL');
    expect(parseSymbol('brk.b')).toBe('BRK.B');
    expect(parseSymbol('A')).toBe('A');
    expect(parseSymbol('ABCDEFGHIJ.XYZ')).toBe('ABCDEFGHIJ.XYZ');
  });

  it('refuses what Unicode case folding and trimming used to turn into real tickers (issue #14)', () => {
    // The old code: 'MſFT'.trim().toUpperCase() === 'MSFT', 'ıbm' → 'IBM', 'ﬀ' → 'FF'.
    expect('MſFT'.toUpperCase()).toBe('MSFT');
    for (const bad of ['MſFT', 'ıbm', 'ﬀ', '\u00a0AAPL', '\ufeffAAPL', 'AAPL\u2003', ' AAPL', 'AAPL ', 'AAPL\n', 'AA PL', 'ＡＡＰＬ', 'AAPL\u0000', 'µ', 'ǅ']) {
      expect(trySymbol(bad), JSON.stringify(bad)).toBeNull();
      expect(() => parseSymbol(bad)).toThrow(FieldError);
    }
    for (const bad of ['', '1BAD', 'TOOLONGSYMBOL', 'BRK.', 'BRK.BBBB', 'BRK..B', '.B', 'BRK-B', 'BRK/B', 'A.B.C']) expect(trySymbol(bad), bad).toBeNull();
    for (const bad of [123, null, undefined, ['AAPL'], { s: 'AAPL' }]) expect(trySymbol(bad)).toBeNull();
  });

  it('says which field and why, with the bad value escaped', () => {
    try {
      parseSymbol('MſFT\u0000', 'symbols[2]');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FieldError);
      expect((e as FieldError).field).toBe('symbols[2]');
      expect((e as FieldError).code).toBe('invalid_symbol');
      expect((e as FieldError).message).toContain('"MſFT\\u0000"');
    }
  });

  it('maps vendor share-class separators at ingest only', () => {
    expect(normalizeVendorSymbol('BRK-B')).toBe('BRK.B');
    expect(normalizeVendorSymbol('brk/b')).toBe('BRK.B');
    expect(normalizeVendorSymbol('AAPL')).toBe('AAPL');
    expect(() => normalizeVendorSymbol('BRK-B-C')).toThrow(FieldError);
    expect(() => normalizeVendorSymbol('BRK–B')).toThrow(FieldError); // en dash
  });

  it('property: the output is always canonical, and only ASCII letters changed', () => {
    const re = new RegExp(SYMBOL_PATTERN);
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 16 }), fc.string({ unit: 'binary', maxLength: 16 }), fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9]{0,9}(\.[a-zA-Z0-9]{1,3})?$/)), (s) => {
        const out = trySymbol(s);
        if (out === null) return true;
        return re.test(out) && isSymbol(out) && out.length === s.length && asciiUpper(s) === out && [...s].every((c) => c.charCodeAt(0) < 128);
      }),
      { numRuns: 3000 },
    );
  });
});
