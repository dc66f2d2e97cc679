import { dayNumber } from '../core/clock.js';
import { dec, type Decimal, type DecimalLike } from '../core/money.js';
import type { Catalog } from '../data/catalog.js';

/**
 * Prices for sizing: the traded (unadjusted) close of the signal date. Orders are in real
 * shares at real prices, so sizing must not use split/dividend-adjusted closes.
 */
export interface PriceSource {
  /** Closes on `date` for the given symbols; symbols without one are absent from the map. */
  prices(date: string, symbols: readonly string[]): Promise<Map<string, Decimal>>;
  /** One symbol's close on `date`, or null. */
  price(symbol: string, date: string): Promise<Decimal | null>;
}

type CatalogLike = Pick<Catalog, 'query' | 'views'>;

/**
 * `bars_raw.close` from the DuckDB catalog. The first request for a date loads every symbol's
 * close of that date in one query; the date's map is then cached (the last `cacheDates` dates).
 *
 * Pass an open catalog (tests, one-shot CLI runs), or `{ open }` for a long-running service: a
 * catalog's views list the Parquet files of the snapshot it was opened on, so a service opens a
 * fresh one (a few ms) for each date it has not cached, and sees what later ETL runs published.
 */
export class CatalogPriceSource implements PriceSource {
  private readonly cache = new Map<string, Promise<Map<string, Decimal>>>();
  private readonly cacheDates: number;

  constructor(
    private readonly source: CatalogLike | { open: () => Promise<CatalogLike & Pick<Catalog, 'close'>> },
    opts: { cacheDates?: number } = {},
  ) {
    this.cacheDates = opts.cacheDates ?? 8;
    if (!('open' in source)) checkViews(source);
  }

  async prices(date: string, symbols: readonly string[]): Promise<Map<string, Decimal>> {
    const all = await this.forDate(date);
    const out = new Map<string, Decimal>();
    for (const s of symbols) {
      const p = all.get(s);
      if (p) out.set(s, p);
    }
    return out;
  }

  async price(symbol: string, date: string): Promise<Decimal | null> {
    return (await this.forDate(date)).get(symbol) ?? null;
  }

  private forDate(date: string): Promise<Map<string, Decimal>> {
    if (!Number.isFinite(dayNumber(date))) return Promise.reject(new RangeError(`not a date: ${JSON.stringify(date)}`));
    let p = this.cache.get(date);
    if (p) {
      this.cache.delete(date); // refresh its place (LRU)
      this.cache.set(date, p);
      return p;
    }
    p = this.load(date);
    this.cache.set(date, p);
    p.catch(() => this.cache.delete(date));
    while (this.cache.size > this.cacheDates) this.cache.delete(this.cache.keys().next().value!);
    return p;
  }

  private async load(date: string): Promise<Map<string, Decimal>> {
    // DOUBLE → VARCHAR is DuckDB's shortest round-trip text: 187.25 stays "187.25".
    const sql = `SELECT symbol, CAST(close AS VARCHAR) AS close FROM bars_raw WHERE date = DATE '${date}' AND close IS NOT NULL AND NOT isnan(close) AND close > 0`;
    let rows: Array<{ symbol: string; close: string | null }>;
    if ('open' in this.source) {
      const cat = await this.source.open();
      try {
        checkViews(cat);
        rows = await cat.query(sql);
      } finally {
        cat.close();
      }
    } else rows = await this.source.query(sql);
    const out = new Map<string, Decimal>();
    for (const r of rows) if (r.close !== null) out.set(r.symbol, dec(r.close));
    return out;
  }
}

function checkViews(c: CatalogLike): void {
  if (!c.views.includes('bars_raw')) throw new Error('the data catalog has no bars_raw view: run `kestrel etl` first');
}

/** Fixed prices for tests, benches and backtests: `{ date: { symbol: price } }` or one map for every date. */
export class StaticPriceSource implements PriceSource {
  private readonly byDate = new Map<string, Map<string, Decimal>>();
  private readonly any: Map<string, Decimal> | null;

  constructor(prices: { byDate?: Record<string, Record<string, DecimalLike>>; all?: Record<string, DecimalLike> }) {
    for (const [d, m] of Object.entries(prices.byDate ?? {})) this.byDate.set(d, toMap(m));
    this.any = prices.all ? toMap(prices.all) : null;
  }

  /** Sets (or replaces) prices for a date. */
  set(date: string, prices: Record<string, DecimalLike>): void {
    this.byDate.set(date, toMap(prices));
  }

  async prices(date: string, symbols: readonly string[]): Promise<Map<string, Decimal>> {
    const m = this.byDate.get(date) ?? this.any ?? new Map<string, Decimal>();
    const out = new Map<string, Decimal>();
    for (const s of symbols) {
      const p = m.get(s);
      if (p) out.set(s, p);
    }
    return out;
  }

  async price(symbol: string, date: string): Promise<Decimal | null> {
    return (this.byDate.get(date) ?? this.any)?.get(symbol) ?? null;
  }
}

function toMap(m: Record<string, DecimalLike>): Map<string, Decimal> {
  return new Map(Object.entries(m).map(([s, p]) => [s, dec(p)]));
}
