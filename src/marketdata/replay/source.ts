import type { Catalog } from '../../data/catalog.js';
import type { DailyBar } from './path.js';
import { isSymbol } from '../../model/symbol.js';

/** Where the replay server gets its daily bars. */
export interface ReplaySource {
  symbols(): string[];
  /** The traded (unadjusted) bar of `symbol` on `date` (YYYY-MM-DD), or null. */
  day(symbol: string, date: string): DailyBar | null;
}

/** In-memory source: `bars[symbol][date]`. */
export function staticSource(bars: Record<string, Record<string, DailyBar>>): ReplaySource {
  return {
    symbols: () => Object.keys(bars).sort(),
    day: (symbol, date) => bars[symbol]?.[date] ?? null,
  };
}

/**
 * Catalog-backed source over `bars_raw` (traded prices, not adjusted). The replay needs `day`
 * synchronously, so the rows for [from, to] are read once up front.
 */
export async function catalogSource(cat: Catalog, opts: { from: string; to: string; symbols?: readonly string[] }): Promise<ReplaySource> {
  const date = /^\d{4}-\d{2}-\d{2}$/;
  if (!date.test(opts.from) || !date.test(opts.to)) throw new RangeError('from/to must be YYYY-MM-DD');
  const where = [`date >= DATE '${opts.from}'`, `date <= DATE '${opts.to}'`];
  if (opts.symbols?.length) {
    for (const s of opts.symbols) if (!isSymbol(s)) throw new RangeError(`bad symbol ${JSON.stringify(s)}`);
    where.push(`symbol IN (${opts.symbols.map((s) => `'${s}'`).join(', ')})`);
  }
  const rows = await cat.query<{ d: string; symbol: string; open: number; high: number; low: number; close: number; volume: number }>(
    `SELECT strftime(date, '%Y-%m-%d') AS d, symbol, open::DOUBLE AS open, high::DOUBLE AS high, low::DOUBLE AS low,
            close::DOUBLE AS close, volume::DOUBLE AS volume FROM bars_raw WHERE ${where.join(' AND ')} ORDER BY symbol, date`,
  );
  const bars: Record<string, Record<string, DailyBar>> = {};
  for (const r of rows) {
    (bars[r.symbol] ??= {})[r.d] = { open: Number(r.open), high: Number(r.high), low: Number(r.low), close: Number(r.close), volume: Number(r.volume) };
  }
  return staticSource(bars);
}
