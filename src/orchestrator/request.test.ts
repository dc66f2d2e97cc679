import { describe, expect, it } from 'vitest';
import { HttpError } from '../observability/http-app.js';
import { parseRunRequest, runParams } from './request.js';
import type { RunRequestBody } from './types.js';

const body = (over: Partial<RunRequestBody> = {}): RunRequestBody => ({ strategy_id: 'momentum-v2', as_of_date: '2025-01-16', capital: '100000', max_position_pct: 0.1, ...over });

function problems(b: RunRequestBody): Record<string, string> {
  try {
    parseRunRequest(b);
  } catch (e) {
    expect(e).toBeInstanceOf(HttpError);
    const h = e as HttpError;
    expect(h.statusCode).toBe(422);
    expect(h.code).toBe('invalid_run_request');
    return Object.fromEntries((h.details ?? []).map((d) => [d.field, d.reason]));
  }
  throw new Error('expected a 422');
}

describe('parseRunRequest', () => {
  it('fills defaults: trade_date = the next NYSE trading day, top_n/bottom_n = 10, not a dry run', () => {
    const r = parseRunRequest(body());
    expect(r).toMatchObject({ strategy_id: 'momentum-v2', as_of_date: '2025-01-16', trade_date: '2025-01-17', top_n: 10, bottom_n: 10, dry_run: false, symbols: null });
    expect(r.capital.toString()).toBe('100000');
    expect(r.max_position_pct.toString()).toBe('0.1');
  });

  it('skips weekends and holidays for the default trade_date (Fri 2025-01-17 → Tue 2025-01-21, MLK day)', () => {
    expect(parseRunRequest(body({ as_of_date: '2025-01-17' })).trade_date).toBe('2025-01-21');
  });

  it('normalises symbols (ASCII upper case, unique, sorted) and accepts numbers or decimal strings', () => {
    const r = parseRunRequest(body({ symbols: ['msft', 'AAPL', 'aapl', 'BRK.B'], capital: 250000.5, max_position_pct: '1' }));
    expect(r.symbols).toEqual(['AAPL', 'BRK.B', 'MSFT']);
    expect(r.capital.toString()).toBe('250000.5');
  });

  it('refuses what Unicode trimming and case folding used to turn into tickers, and out-of-range decimals (issue #14)', () => {
    for (const s of [' msft', 'MſFT', 'ıbm', 'ﬀ', '\u00a0AAPL', '\ufeffAAPL', 'AAPL\u2003']) expect(problems(body({ symbols: ['AAPL', s] })), JSON.stringify(s)).toHaveProperty('symbols');
    expect(problems(body({ capital: '1e1000000000' })).capital).toMatch(/out of range/);
    expect(problems(body({ capital: 1e300 })).capital).toMatch(/out of range/);
    expect(problems(body({ max_position_pct: '1e-1000000' })).max_position_pct).toMatch(/decimal places/);
  });

  it('reports every bad field with a reason', () => {
    const p = problems({
      strategy_id: '-bad',
      as_of_date: '2025-01-18', // a Saturday
      trade_date: '2025-02-30',
      capital: '-5',
      max_position_pct: 1.5,
      top_n: -1,
      bottom_n: 2.5,
      symbols: ['AAPL', 'not a ticker'],
    });
    expect(Object.keys(p).sort()).toEqual(['as_of_date', 'bottom_n', 'capital', 'max_position_pct', 'strategy_id', 'symbols', 'top_n', 'trade_date']);
    expect(p.as_of_date).toMatch(/not an NYSE trading day/);
    expect(p.trade_date).toMatch(/YYYY-MM-DD/);
    expect(p.max_position_pct).toMatch(/at most 1/);
  });

  it('trade_date must be a trading day after as_of_date', () => {
    expect(problems(body({ trade_date: '2025-01-16' })).trade_date).toMatch(/after as_of_date/);
    expect(problems(body({ trade_date: '2025-01-20' })).trade_date).toMatch(/not an NYSE trading day/);
    expect(parseRunRequest(body({ trade_date: '2025-01-22' })).trade_date).toBe('2025-01-22');
  });

  it('capital must be a positive decimal; dates outside the calendar are reasons, not crashes', () => {
    expect(problems(body({ capital: 'lots' })).capital).toMatch(/decimal/);
    expect(problems(body({ capital: 0 })).capital).toMatch(/greater than 0/);
    expect(problems(body({ as_of_date: '1980-01-02' })).as_of_date).toMatch(/1990|range|calendar/i);
  });

  it('runParams is the identity of a run: equal for equal requests however written', () => {
    const a = parseRunRequest(body({ capital: '100000.00', symbols: ['MSFT', 'AAPL'] }));
    const b = parseRunRequest(body({ capital: 100000, symbols: ['aapl', 'msft'], trade_date: '2025-01-17' }));
    expect(runParams(a)).toBe(runParams(b));
    expect(runParams(a)).not.toBe(runParams(parseRunRequest(body({ capital: 100001 }))));
  });
});
