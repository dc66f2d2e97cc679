import { dayNumber } from '../core/clock.js';
import { InputError } from '../core/errors.js';
import { dec, decString } from '../core/money.js';
import type { Catalog } from './catalog.js';

/**
 * Each symbol's latest traded (raw, unadjusted) close, optionally on or before a date and
 * within a look-back window — what a broker simulator fills at and what the price cache is
 * seeded with. A halted name keeps its last close. Prices are decimal text (4 places, exact
 * for vendor prices) with the date they are from.
 */
export async function latestRawCloses(cat: Pick<Catalog, 'query'>, opts: { onOrBefore?: string; withinDays?: number } = {}): Promise<Map<string, { close: string; date: string }>> {
  const where = ['close > 0'];
  if (opts.onOrBefore !== undefined) {
    if (!Number.isFinite(dayNumber(opts.onOrBefore))) throw new InputError(`not a YYYY-MM-DD date: ${JSON.stringify(opts.onOrBefore)}`);
    where.push(`date <= DATE '${opts.onOrBefore}'`);
    if (opts.withinDays !== undefined) where.push(`date > DATE '${opts.onOrBefore}' - INTERVAL ${Math.trunc(opts.withinDays)} DAY`);
  }
  const rows = await cat.query<{ symbol: string; close: number; d: string }>(
    `SELECT symbol, arg_max(close, date) AS close, strftime(max(date), '%Y-%m-%d') AS d
       FROM bars_raw WHERE ${where.join(' AND ')} GROUP BY symbol ORDER BY symbol`,
  );
  return new Map(rows.map((r) => [r.symbol, { close: decString(dec(r.close).toDecimalPlaces(4)), date: r.d }]));
}
