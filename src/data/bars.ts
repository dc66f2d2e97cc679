/**
 * In-memory shape of daily bars: one columnar series per symbol, sorted by date.
 * Kernels (adjustment, gates, features) loop over these typed arrays directly.
 */
export interface SymbolBars {
  symbol: string;
  /** Trading date as days since 1970-01-01 (see core/clock dayNumber/dayString). */
  day: Int32Array;
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  /** Vendor-adjusted close when the input carries `adj_close`, else null. */
  adjClose: Float64Array | null;
  volume: Float64Array;
  /** Where each row came from: index into the batch's `files` and 1-based line number. */
  fileIdx: Uint16Array;
  line: Int32Array;
}

export const PRICE_FIELDS = ['open', 'high', 'low', 'close'] as const;
export type PriceField = (typeof PRICE_FIELDS)[number];

/** Allocates an empty series of n rows. */
export function allocBars(symbol: string, n: number, withAdj: boolean): SymbolBars {
  return {
    symbol,
    day: new Int32Array(n),
    open: new Float64Array(n),
    high: new Float64Array(n),
    low: new Float64Array(n),
    close: new Float64Array(n),
    adjClose: withAdj ? new Float64Array(n) : null,
    volume: new Float64Array(n),
    fileIdx: new Uint16Array(n),
    line: new Int32Array(n),
  };
}

/** Keeps the rows where keep[i] is true (order preserved). */
export function selectRows(b: SymbolBars, keep: ArrayLike<boolean | number>): SymbolBars {
  let n = 0;
  for (let i = 0; i < b.day.length; i++) if (keep[i]) n++;
  const out = allocBars(b.symbol, n, b.adjClose !== null);
  let j = 0;
  for (let i = 0; i < b.day.length; i++) {
    if (!keep[i]) continue;
    out.day[j] = b.day[i]!;
    out.open[j] = b.open[i]!;
    out.high[j] = b.high[i]!;
    out.low[j] = b.low[i]!;
    out.close[j] = b.close[i]!;
    if (out.adjClose) out.adjClose[j] = b.adjClose![i]!;
    out.volume[j] = b.volume[i]!;
    out.fileIdx[j] = b.fileIdx[i]!;
    out.line[j] = b.line[i]!;
    j++;
  }
  return out;
}

/** A corporate action. Split ratio = new shares per old share (2 = 2-for-1, 0.1 = 1-for-10). */
export type CorporateAction =
  | { symbol: string; exDate: string; type: 'split'; value: number; source: 'file' | 'derived' }
  | { symbol: string; exDate: string; type: 'dividend'; value: number; source: 'file' | 'derived' };
