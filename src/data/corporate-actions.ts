import { dayNumber, dayString } from '../core/clock.js';
import { InputError } from '../core/errors.js';
import { tryVendorSymbol } from '../model/symbol.js';
import type { CorporateAction, SymbolBars } from './bars.js';

/**
 * Corporate actions: reading them from CSV, turning them into backward-adjustment
 * factors, and deriving cash dividends from a vendor's adj_close column.
 *
 * Backward adjustment is anchored at the last row: prices on or after the latest
 * ex-date stay raw, earlier prices are scaled so that returns across an ex-date
 * exclude the mechanical drop from a split or dividend (CRSP-style multiplicative factors).
 */

// ---------------------------------------------------------------------------
// CSV

const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const RATIO_RE = /^([^:]+):([^:]+)$/;

/** Header name → canonical column. */
const COLUMN_ALIASES: Record<string, 'symbol' | 'ex_date' | 'type' | 'value'> = {
  symbol: 'symbol',
  ex_date: 'ex_date',
  date: 'ex_date',
  type: 'type',
  value: 'value',
  ratio: 'value',
  amount: 'value',
};

/** Blanks around a field are CSV layout: ASCII spaces and tabs only (NBSP, BOM and the like are data). */
const asciiTrim = (s: string) => s.replace(/^[ \t]+|[ \t]+$/g, '');
function unquote(s: string): string {
  const t = asciiTrim(s);
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? asciiTrim(t.slice(1, -1).replace(/""/g, '"')) : t;
}

function strictNumber(s: string): number {
  return NUMBER_RE.test(s) ? Number(s) : NaN;
}

/** `2` → 2, `7:1` → 7, `1:10` → 0.1; NaN when it is neither. */
function parseSplitRatio(s: string): number {
  const m = RATIO_RE.exec(s);
  if (!m) return strictNumber(s);
  const n = strictNumber(m[1]!.trim());
  const d = strictNumber(m[2]!.trim());
  // A zero or negative side is reported as a non-positive ratio, not as unreadable text.
  if (!(d > 0)) return Number.isFinite(d) && Number.isFinite(n) ? 0 : NaN;
  return n / d;
}

/**
 * Reads `symbol,ex_date,type,value` (any column order, case-insensitive names;
 * `date` = ex_date, `ratio`/`amount` = value). Split value is new shares per old share
 * (`2`, `7:1`, `1:10`); dividend value is cash per share. The first bad line throws an
 * InputError `file:line: what is wrong`. Symbols are upper-cased like the bars reader does.
 */
export function parseActionsCsv(text: string, file: string): CorporateAction[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const fail = (line: number, msg: string): never => {
    throw new InputError(`${file}:${line}: ${msg}`);
  };

  let h = 0;
  while (h < lines.length && lines[h]!.trim() === '') h++;
  if (h === lines.length) return [];

  const col = { symbol: -1, ex_date: -1, type: -1, value: -1 };
  const names = lines[h]!.split(',').map((s) => unquote(s).toLowerCase());
  for (let j = 0; j < names.length; j++) {
    const c = COLUMN_ALIASES[names[j]!];
    if (c === undefined) continue; // extra columns (notes, source…) are allowed
    if (col[c] !== -1) fail(h + 1, `column "${c}" given twice in header (as "${names[col[c]]}" and "${names[j]}")`);
    col[c] = j;
  }
  for (const c of ['symbol', 'ex_date', 'type', 'value'] as const) {
    if (col[c] === -1) fail(h + 1, `header is missing column "${c}" (expected symbol,ex_date,type,value)`);
  }
  const width = Math.max(col.symbol, col.ex_date, col.type, col.value) + 1;

  const out: CorporateAction[] = [];
  const firstLine = new Map<string, number>();
  for (let i = h + 1; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === '') continue;
    const at = i + 1;
    const f = raw.split(',');
    if (f.length < width) fail(at, `expected at least ${width} fields, got ${f.length}`);

    // The one ticker grammar (src/model/symbol.ts); vendor classes BRK-B, BRK/B become BRK.B.
    const given = unquote(f[col.symbol]!);
    const symbol = tryVendorSymbol(given) ?? fail(at, `bad symbol ${JSON.stringify(given)}`);
    const exDate = unquote(f[col.ex_date]!);
    if (!Number.isFinite(dayNumber(exDate))) fail(at, `ex_date must be a real YYYY-MM-DD date, got "${exDate}"`);
    const typeText = unquote(f[col.type]!);
    const type = typeText.toLowerCase();
    if (type !== 'split' && type !== 'dividend') fail(at, `type must be "split" or "dividend", got "${typeText}"`);
    const valueText = unquote(f[col.value]!);

    let value: number;
    if (type === 'split') {
      value = parseSplitRatio(valueText);
      if (Number.isNaN(value)) fail(at, `split ratio must be a number or N:M, got "${valueText}"`);
      if (!(value > 0) || !Number.isFinite(value)) fail(at, `split ratio must be positive, got "${valueText}"`);
    } else {
      value = strictNumber(valueText);
      if (Number.isNaN(value)) fail(at, `dividend amount must be a number, got "${valueText}"`);
      if (!(value > 0) || !Number.isFinite(value)) fail(at, `dividend amount must be positive, got "${valueText}"`);
    }

    const key = `${symbol}|${exDate}|${type}`;
    const prev = firstLine.get(key);
    if (prev !== undefined) fail(at, `duplicate ${type} for ${symbol} on ${exDate} (first on line ${prev})`);
    firstLine.set(key, at);
    out.push({ symbol, exDate, type: type as 'split' | 'dividend', value, source: 'file' });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Factors

export interface AdjustmentFactors {
  /** adjusted price = raw price × price[i] */
  price: Float64Array;
  /** adjusted volume = raw volume × volume[i] (splits only) */
  volume: Float64Array;
}

const validPrice = (x: number): boolean => x > 0 && x < Infinity;

/**
 * Backward-adjustment factors for ONE symbol's rows (day ascending).
 *
 * price[i] = Π over actions with exDay > day[i] of f(action):
 * - split with ratio R: f = 1/R; volume factor × R.
 * - dividend D: f = 1 − D / C, C = raw close of the last row strictly before the ex-date
 *   (rows with a non-positive/non-finite close are passed over so one bad row cannot poison the series).
 * - split R and dividends on the same ex-date: the dividend is quoted per POST-split share
 *   (that is how it trades on the ex-date), i.e. D·R per pre-split share, so f = (1/R)·(1 − D·R / C).
 *   Several dividends (or splits) on one date are summed (multiplied).
 * Actions on or before the first row change nothing; actions after the last row scale every row.
 *
 * Throws InputError for a malformed action or a dividend that is not below the close before it.
 * O(n + a log a): actions are sorted once, then one backward walk accumulates the product.
 */
export function adjustmentFactors(bars: Pick<SymbolBars, 'day' | 'close'>, actions: CorporateAction[]): AdjustmentFactors {
  const { day, close } = bars;
  const n = day.length;
  const price = new Float64Array(n).fill(1);
  const volume = new Float64Array(n).fill(1);
  if (actions.length === 0 || n === 0) return { price, volume };

  const sym = actions[0]!.symbol;
  const sorted = actions.map((a) => {
    if (a.symbol !== sym) throw new Error(`adjustmentFactors: actions for one symbol only, got ${sym} and ${a.symbol}`);
    const d = dayNumber(a.exDate);
    if (!Number.isFinite(d)) throw new InputError(`${a.symbol}: ${a.type} has a bad ex-date "${a.exDate}"`);
    if (!validPrice(a.value)) throw new InputError(`${a.symbol} ${a.exDate}: ${a.type} value must be positive and finite, got ${a.value}`);
    return { d, a };
  });
  sorted.sort((x, y) => x.d - y.d);

  // Group by ex-date: combined split ratio and summed dividend per date, ascending.
  const gDay: number[] = [];
  const gRatio: number[] = [];
  const gDiv: number[] = [];
  for (const { d, a } of sorted) {
    const g = gDay.length - 1;
    if (g < 0 || gDay[g] !== d) {
      gDay.push(d);
      gRatio.push(1);
      gDiv.push(0);
    }
    const k = gDay.length - 1;
    if (a.type === 'split') gRatio[k]! *= a.value;
    else gDiv[k]! += a.value;
  }

  let p = 1;
  let v = 1;
  let k = gDay.length - 1;
  let c = n - 1; // last row with a valid close at or before the current row; only moves back, so O(n) total
  for (let i = n - 1; i >= 0; i--) {
    if (i < n - 1 && day[i]! >= day[i + 1]!) throw new Error(`adjustmentFactors: days not strictly ascending at row ${i}`);
    // Every action with exDay > day[i] applies to row i and all earlier rows; row i is the last one before it.
    while (k >= 0 && gDay[k]! > day[i]!) {
      const r = gRatio[k]!;
      let f = 1 / r;
      if (gDiv[k]! > 0) {
        if (c > i) c = i;
        while (c >= 0 && !validPrice(close[c]!)) c--;
        const date = dayString(gDay[k]!);
        if (c < 0) throw new InputError(`${sym} ${date}: dividend ${gDiv[k]} has no valid close before its ex-date`);
        const cash = gDiv[k]! * r; // per pre-split share
        const cb = close[c]!;
        if (cash >= cb) {
          const per = r === 1 ? '' : ` (${gDiv[k]} per post-split share × ratio ${r})`;
          throw new InputError(`${sym} ${date}: dividend ${cash}${per} is not below the close ${cb} on ${dayString(day[c]!)}; cannot adjust`);
        }
        f *= 1 - cash / cb;
      }
      p *= f;
      v *= r;
      k--;
    }
    price[i] = p;
    volume[i] = v;
  }
  return { price, volume };
}

function checkLengths(bars: SymbolBars, f: AdjustmentFactors): void {
  const n = bars.day.length;
  if (f.price.length !== n || f.volume.length !== n) {
    throw new Error(`${bars.symbol}: factor length ${f.price.length}/${f.volume.length} does not match ${n} rows`);
  }
}

function scaled(bars: SymbolBars, f: AdjustmentFactors, divide: boolean): SymbolBars {
  checkLengths(bars, f);
  const n = bars.day.length;
  const open = new Float64Array(n);
  const high = new Float64Array(n);
  const low = new Float64Array(n);
  const close = new Float64Array(n);
  const volume = new Float64Array(n);
  const { price: pf, volume: vf } = f;
  // Divide rather than multiply by a reciprocal: x·f/f rounds back to x more often.
  if (divide) {
    for (let i = 0; i < n; i++) {
      const p = pf[i]!;
      open[i] = bars.open[i]! / p;
      high[i] = bars.high[i]! / p;
      low[i] = bars.low[i]! / p;
      close[i] = bars.close[i]! / p;
      volume[i] = bars.volume[i]! / vf[i]!;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const p = pf[i]!;
      open[i] = bars.open[i]! * p;
      high[i] = bars.high[i]! * p;
      low[i] = bars.low[i]! * p;
      close[i] = bars.close[i]! * p;
      volume[i] = bars.volume[i]! * vf[i]!;
    }
  }
  // Copies rather than shared references, so the result never aliases the input.
  return {
    symbol: bars.symbol,
    day: bars.day.slice(),
    open,
    high,
    low,
    close,
    adjClose: bars.adjClose ? bars.adjClose.slice() : null,
    volume,
    fileIdx: bars.fileIdx.slice(),
    line: bars.line.slice(),
  };
}

/** New bars with OHLC × price factor and volume × volume factor; adjClose is copied unchanged. */
export function applyAdjustment(bars: SymbolBars, f: AdjustmentFactors): SymbolBars {
  return scaled(bars, f, false);
}

/** Inverse of applyAdjustment: OHLC ÷ price factor, volume ÷ volume factor. */
export function unapplyAdjustment(bars: SymbolBars, f: AdjustmentFactors): SymbolBars {
  return scaled(bars, f, true);
}

// ---------------------------------------------------------------------------
// Dividends from a vendor adj_close

export interface DeriveOptions {
  /**
   * Floor on the relative step r_{i-1}/r_i must move away from 1 to count (default 2e-5).
   * The effective threshold is max(minRelStep, 3 × rounding-noise bound); see deriveDividends.
   */
  minRelStep?: number;
  /** Decimals the vendor rounds adj_close to (default 4, as Yahoo). */
  adjDecimals?: number;
}

export interface DerivedDividends {
  dividends: CorporateAction[];
  anomalies: Array<{ exDate: string; detail: string }>;
}

/** Steps bigger than this are still reported as dividends but flagged: they look like an unadjusted split. */
const LARGE_STEP = 0.2;

/**
 * Recovers cash dividends from a vendor adj_close built with CRSP-style factors:
 * r_i = adjClose[i]/close[i] is 1 on the last row and, read backward in time, steps down at each
 * ex-date by q = r_{i-1}/r_i = 1 − D/close[i-1]; so D = close[i-1]·(1 − q), rounded to 6 decimals.
 *
 * Threshold: adj_close is rounded to `adjDecimals` (u = 0.5·10^-adjDecimals absolute), so q carries
 * relative noise of at most u·(1/adj[i-1] + 1/adj[i]). A step counts when |1 − q| exceeds
 * max(minRelStep = 2e-5, 3 × that bound): three times a hard bound leaves margin for float error
 * and a vendor close that is itself slightly rounded, while a $0.01 dividend on a $100 stock
 * (1e-4 relative; noise bound there ≈ 1e-6) is still found. Dividends smaller than the noise on
 * low-priced (deeply back-adjusted) rows are unrecoverable by construction.
 *
 * Rows whose close or adjClose is not positive and finite are skipped (the next valid row is
 * compared with the last valid one). Steps the other way (q > 1 + threshold: r falls from one row
 * to the next) are not dividends and go to anomalies, as do implausibly large steps.
 */
export function deriveDividends(bars: SymbolBars, opts: DeriveOptions = {}): DerivedDividends {
  const dividends: CorporateAction[] = [];
  const anomalies: Array<{ exDate: string; detail: string }> = [];
  const adj = bars.adjClose;
  if (!adj) return { dividends, anomalies };
  const minRel = opts.minRelStep ?? 2e-5;
  const u = 0.5 * 10 ** -(opts.adjDecimals ?? 4);
  const { close, day } = bars;

  let prev = -1;
  for (let i = 0; i < close.length; i++) {
    const c = close[i]!;
    const a = adj[i]!;
    if (!validPrice(c) || !validPrice(a)) continue;
    if (prev >= 0) {
      const cp = close[prev]!;
      const ap = adj[prev]!;
      const q = (ap / cp) / (a / c);
      const threshold = Math.max(minRel, 3 * u * (1 / ap + 1 / a));
      if (q < 1 - threshold) {
        const exDate = dayString(day[i]!);
        const step = 1 - q;
        const amount = Math.round(cp * step * 1e6) / 1e6;
        if (amount > 0) {
          dividends.push({ symbol: bars.symbol, exDate, type: 'dividend', value: amount, source: 'derived' });
        } else {
          anomalies.push({ exDate, detail: `adj_close/close rose ${fmtPct(step)} but the implied dividend rounds to 0 at close ${cp}` });
        }
        if (step > LARGE_STEP) {
          anomalies.push({ exDate, detail: `adj_close/close rose ${fmtPct(step)} (implied dividend ${amount}); looks like a split missing from close` });
        }
      } else if (q > 1 + threshold) {
        anomalies.push({
          exDate: dayString(day[i]!),
          detail: `adj_close/close fell ${fmtPct(1 - 1 / q)} since ${dayString(day[prev]!)}; a dividend only makes it rise (vendor re-adjustment or bad row?)`,
        });
      }
    }
    prev = i;
  }
  return { dividends, anomalies };
}

function fmtPct(x: number): string {
  return `${(x * 100).toPrecision(3)}%`;
}

// ---------------------------------------------------------------------------
// Comparing with the vendor

/** Per-row |ours − vendor| / vendor; NaN where either side is not a positive finite price. */
export function vendorAdjustmentError(ours: Float64Array, vendor: Float64Array): Float64Array {
  if (ours.length !== vendor.length) throw new Error(`vendorAdjustmentError: lengths differ (${ours.length} vs ${vendor.length})`);
  const out = new Float64Array(ours.length);
  for (let i = 0; i < out.length; i++) {
    const o = ours[i]!;
    const v = vendor[i]!;
    out[i] = validPrice(v) && Number.isFinite(o) ? Math.abs(o - v) / v : NaN;
  }
  return out;
}

/** Max and median over all non-NaN entries; both NaN when there are none (rows = 0). */
export function summarizeErrors(errs: Float64Array[]): { max: number; median: number; rows: number } {
  let rows = 0;
  for (const e of errs) for (let i = 0; i < e.length; i++) if (!Number.isNaN(e[i]!)) rows++;
  if (rows === 0) return { max: NaN, median: NaN, rows: 0 };
  const all = new Float64Array(rows);
  let j = 0;
  for (const e of errs) {
    for (let i = 0; i < e.length; i++) {
      const x = e[i]!;
      if (!Number.isNaN(x)) all[j++] = x;
    }
  }
  all.sort();
  const mid = rows >> 1;
  const median = rows % 2 === 1 ? all[mid]! : (all[mid - 1]! + all[mid]!) / 2;
  return { max: all[rows - 1]!, median, rows };
}
