import { InputError } from '../core/errors.js';
import type { CorrelationLookup } from './context.js';
import { isSymbol } from '../model/symbol.js';

/**
 * Return correlations for the cluster check. The checks read a synchronous CorrelationLookup
 * from the context; a CorrelationSource produces one per trading date (asynchronously, before
 * the checks run). The production source reads daily adjusted closes from the DuckDB catalog
 * (`bars` view) and keeps the returns and computed pairs in memory per trading date.
 */
export interface CorrelationSource {
  /** Correlations among `symbols` from the `lookbackDays` daily returns before `tradeDate`. */
  lookup(symbols: readonly string[], tradeDate: string): Promise<CorrelationLookup>;
  close?(): void | Promise<void>;
}

/** A hand-made matrix (tests, simulations, or correlations computed elsewhere). Symmetric; missing pairs are unknown. */
export function staticCorrelations(matrix: Record<string, Record<string, number>>, asOf = 'static'): CorrelationLookup & CorrelationSource {
  const lookup: CorrelationLookup = {
    asOf,
    corr: (a, b) => (a === b ? 1 : (matrix[a]?.[b] ?? matrix[b]?.[a] ?? null)),
  };
  return { ...lookup, lookup: async () => lookup };
}

/**
 * Pearson correlation of two return series over the positions where both are finite (NaN marks
 * a missing return); null when fewer than minObs pairs or a series is constant.
 */
export function pearson(a: Float64Array, b: Float64Array, minObs: number): number | null {
  const n = Math.min(a.length, b.length);
  let k = 0;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === x && y === y) {
      k++;
      sa += x;
      sb += y;
    }
  }
  if (k < minObs || k < 2) return null;
  const ma = sa / k;
  const mb = sb / k;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === x && y === y) {
      const dx = x - ma;
      const dy = y - mb;
      sxy += dx * dy;
      sxx += dx * dx;
      syy += dy * dy;
    }
  }
  if (sxx === 0 || syy === 0) return null;
  const r = sxy / Math.sqrt(sxx * syy);
  return Math.max(-1, Math.min(1, r));
}

/** What the source needs of a catalog: `query` over the `bars` view (src/data/catalog.ts). */
export interface BarsQueryable {
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  close?(): void;
}

export interface CatalogCorrelationOptions {
  /** Opens the catalog on first use, e.g. `() => openCatalog(config.dataDir)`. */
  open: () => Promise<BarsQueryable>;
  lookbackDays: number;
  minObservations: number;
  /** Trading dates kept in memory (LRU). Default 3. */
  keepDays?: number;
}

interface DayCache {
  asOf: string;
  /** Number of return slots (lookbackDays, fewer if the data is shorter). */
  slots: number;
  /** Returns per symbol (NaN where missing); symbols without data map to an all-NaN series. */
  returns: Map<string, Float64Array>;
  pairs: Map<string, number | null>;
  dates: string[];
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Correlations of daily simple returns of adjusted closes over the `lookbackDays` returns that
 * end on the last trading date before `tradeDate` (lookbackDays + 1 closes). A symbol's return
 * on date t needs its closes on t and on the previous date of the window. Computed for the
 * symbols asked (new symbols are fetched incrementally), cached per trading date.
 */
export class CatalogCorrelationSource implements CorrelationSource {
  private catalog: Promise<BarsQueryable> | null = null;
  private readonly days = new Map<string, Promise<DayCache>>();

  constructor(private readonly opts: CatalogCorrelationOptions) {}

  private cat(): Promise<BarsQueryable> {
    if (!this.catalog) {
      this.catalog = this.opts.open();
      this.catalog.catch(() => (this.catalog = null)); // retry on the next call
    }
    return this.catalog;
  }

  async lookup(symbols: readonly string[], tradeDate: string): Promise<CorrelationLookup> {
    if (!DATE_RE.test(tradeDate)) throw new InputError(`trade date must be YYYY-MM-DD, got ${JSON.stringify(tradeDate)}`);
    for (const s of symbols) if (!isSymbol(s)) throw new InputError(`not a ticker: ${JSON.stringify(s)}`);
    const day = await this.day(tradeDate);
    const missing = [...new Set(symbols)].filter((s) => !day.returns.has(s));
    if (missing.length) await this.load(day, missing);
    const minObs = this.opts.minObservations;
    return {
      asOf: day.asOf,
      corr: (a, b) => {
        if (a === b) return 1;
        const key = a < b ? `${a}|${b}` : `${b}|${a}`;
        const hit = day.pairs.get(key);
        if (hit !== undefined) return hit;
        const ra = day.returns.get(a);
        const rb = day.returns.get(b);
        const r = ra && rb ? pearson(ra, rb, minObs) : null;
        if (ra && rb) day.pairs.set(key, r);
        return r;
      },
    };
  }

  private day(tradeDate: string): Promise<DayCache> {
    let p = this.days.get(tradeDate);
    if (p) {
      this.days.delete(tradeDate); // LRU: re-insert as newest
      this.days.set(tradeDate, p);
      return p;
    }
    p = (async () => {
      const cat = await this.cat();
      const rows = await cat.query<{ d: string }>(
        `SELECT strftime(date, '%Y-%m-%d') AS d FROM (SELECT DISTINCT date FROM bars WHERE date < DATE '${tradeDate}') ORDER BY date DESC LIMIT ${this.opts.lookbackDays + 1}`,
      );
      const dates = rows.map((r) => r.d).reverse();
      if (dates.length < 2) throw new InputError(`no price history before ${tradeDate} in the data store for correlations`, 'no_data');
      return { asOf: dates[dates.length - 1]!, slots: dates.length - 1, returns: new Map(), pairs: new Map(), dates };
    })();
    p.catch(() => this.days.delete(tradeDate));
    this.days.set(tradeDate, p);
    while (this.days.size > (this.opts.keepDays ?? 3)) this.days.delete(this.days.keys().next().value!);
    return p;
  }

  private async load(day: DayCache, symbols: string[]): Promise<void> {
    const cat = await this.cat();
    const list = symbols.map((s) => `'${s}'`).join(', ');
    const rows = await cat.query<{ symbol: string; d: string; close: number }>(
      `SELECT symbol, strftime(date, '%Y-%m-%d') AS d, CAST(close AS DOUBLE) AS close FROM bars
       WHERE symbol IN (${list}) AND date >= DATE '${day.dates[0]}' AND date <= DATE '${day.asOf}' ORDER BY symbol, date`,
    );
    const index = new Map(day.dates.map((d, i) => [d, i]));
    const closes = new Map<string, Float64Array>();
    for (const s of symbols) closes.set(s, new Float64Array(day.dates.length).fill(NaN));
    for (const r of rows) {
      const i = index.get(r.d);
      const c = Number(r.close);
      if (i !== undefined && Number.isFinite(c) && c > 0) closes.get(r.symbol)![i] = c;
    }
    for (const [s, c] of closes) {
      const ret = new Float64Array(day.slots);
      for (let i = 1; i < c.length; i++) ret[i - 1] = c[i]! / c[i - 1]! - 1; // NaN propagates for gaps
      day.returns.set(s, ret);
    }
  }

  async close(): Promise<void> {
    const c = this.catalog;
    this.catalog = null;
    this.days.clear();
    if (c) (await c.catch(() => null))?.close?.();
  }
}
