import { dayNumber, dayString } from '../core/clock.js';
import { FieldError } from '../core/errors.js';
import { dec, decString, type Decimal } from '../core/money.js';
import { isTradingDay, nextTradingDay } from '../data/calendar.js';
import { STRATEGY_ID_PATTERN } from '../execution/order-input.js';
import { MONEY, parseDecimal } from '../model/decimal.js';
import { trySymbol } from '../model/symbol.js';
import { HttpError } from '../observability/http-app.js';
import type { RunRequest, RunRequestBody } from './types.js';

/**
 * Meaning checks of a run request, after the JSON schema checked its shape (unknown fields,
 * types → 400). Every problem is reported with its field (→ 422 `invalid_run_request`);
 * nothing is written for an invalid request.
 */

const STRATEGY_ID_RE = new RegExp(STRATEGY_ID_PATTERN);
export const MAX_CAPITAL = dec('1e13');
export const DEFAULT_TOP_N = 10;
export const DEFAULT_BOTTOM_N = 10;
export const MAX_SYMBOLS = 20_000;
export const MAX_N = 10_000;

type Problem = { field: string; reason: string };

export function parseRunRequest(body: RunRequestBody): RunRequest {
  const problems: Problem[] = [];
  const bad = (field: string, reason: string) => problems.push({ field, reason });

  if (typeof body.strategy_id !== 'string' || !STRATEGY_ID_RE.test(body.strategy_id)) bad('strategy_id', 'must be 1-64 characters of A-Z a-z 0-9 _ . : - starting with a letter or digit');

  const asOf = tradingDate(body.as_of_date, 'as_of_date', bad);
  let tradeDate: string | null = null;
  if (body.trade_date !== undefined) {
    tradeDate = tradingDate(body.trade_date, 'trade_date', bad);
    if (tradeDate && asOf && tradeDate <= asOf) bad('trade_date', `must be after as_of_date ${asOf} (orders are for a session after the signals' close)`);
  } else if (asOf) {
    try {
      tradeDate = dayString(nextTradingDay(dayNumber(asOf)));
    } catch (e) {
      bad('as_of_date', e instanceof Error ? e.message : String(e));
    }
  }

  let symbols: string[] | null = null;
  if (body.symbols !== undefined) {
    if (!Array.isArray(body.symbols) || body.symbols.length === 0) bad('symbols', 'must be a non-empty array of tickers (omit it for every symbol)');
    else if (body.symbols.length > MAX_SYMBOLS) bad('symbols', `at most ${MAX_SYMBOLS} symbols`);
    else {
      // The one ticker grammar (src/model/symbol.ts): ASCII upper-casing only, no trimming.
      const norm = body.symbols.map((s) => trySymbol(s));
      const wrong = body.symbols.filter((_s, i) => norm[i] === null);
      if (wrong.length) bad('symbols', `not US equity tickers (A-Z 0-9, optional .CLASS, ASCII only, no spaces): ${wrong.slice(0, 5).map((s) => JSON.stringify(s)).join(', ')}${wrong.length > 5 ? ` and ${wrong.length - 5} more` : ''}`);
      else symbols = [...new Set(norm as string[])].sort();
    }
  }

  const capital = decimalField(body.capital, 'capital', bad);
  if (capital && (capital.lte(0) || capital.gt(MAX_CAPITAL))) bad('capital', `must be greater than 0 and at most ${decString(MAX_CAPITAL)}`);
  const pct = decimalField(body.max_position_pct, 'max_position_pct', bad);
  if (pct && (pct.lte(0) || pct.gt(1))) bad('max_position_pct', 'must be a fraction of capital: greater than 0 and at most 1 (0.05 = 5 %)');

  const topN = count(body.top_n ?? DEFAULT_TOP_N, 'top_n', bad);
  const bottomN = count(body.bottom_n ?? DEFAULT_BOTTOM_N, 'bottom_n', bad);

  if (problems.length) throw invalid(problems);
  return {
    strategy_id: body.strategy_id,
    as_of_date: asOf!,
    trade_date: tradeDate!,
    symbols,
    capital: capital!,
    max_position_pct: pct!,
    top_n: topN,
    bottom_n: bottomN,
    dry_run: body.dry_run === true,
  };
}

function tradingDate(v: unknown, field: string, bad: (f: string, r: string) => void): string | null {
  if (typeof v !== 'string' || !Number.isFinite(dayNumber(v))) {
    bad(field, 'must be a calendar date YYYY-MM-DD');
    return null;
  }
  try {
    if (!isTradingDay(dayNumber(v))) {
      bad(field, `${v} is not an NYSE trading day`);
      return null;
    }
  } catch (e) {
    bad(field, e instanceof Error ? e.message : String(e));
    return null;
  }
  return v;
}

/** A decimal string or JSON number, through the one bounded parser (money range: |x| < 1e15, 10 places). */
function decimalField(v: unknown, field: string, bad: (f: string, r: string) => void): Decimal | null {
  try {
    return parseDecimal(v, field, { ...MONEY, allowNumber: true });
  } catch (e) {
    if (e instanceof FieldError) bad(field, e.reason);
    else throw e;
    return null;
  }
}

function count(v: unknown, field: string, bad: (f: string, r: string) => void): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_N) {
    bad(field, `must be a whole number from 0 to ${MAX_N}`);
    return 0;
  }
  return v;
}

export function invalid(details: Problem[]): HttpError {
  return new HttpError(422, 'invalid_run_request', `invalid run request: ${details.map((d) => `${d.field} ${d.reason}`).join('; ')}`, details);
}

/** The parameters that must match for a second request to be "the same run" (canonical JSON). */
export function runParams(r: Pick<RunRequest, 'trade_date' | 'symbols' | 'capital' | 'max_position_pct' | 'top_n' | 'bottom_n'>): string {
  return JSON.stringify({
    trade_date: r.trade_date,
    symbols: r.symbols,
    capital: decString(r.capital),
    max_position_pct: decString(r.max_position_pct),
    top_n: r.top_n,
    bottom_n: r.bottom_n,
  });
}
