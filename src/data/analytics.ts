/**
 * Ready-made analytics queries over the DuckDB catalog views (`bars`, `bars_raw`,
 * `quarantine`, `corporate_actions`). Each builder returns one SQL SELECT statement
 * (no trailing semicolon, so callers can wrap it, e.g. `COPY (<sql>) TO 'x.csv'`).
 *
 * Every value that ends up in the SQL text is validated first: symbols against a strict
 * ticker pattern, dates as real `YYYY-MM-DD` calendar dates, windows/limits as small
 * positive integers. Nothing else is ever interpolated, so these builders are safe to
 * feed with raw CLI arguments (`kestrel sql --helper returns --arg symbols=AAPL`).
 */
import { isTradingDateString } from '../core/clock.js';
import { InputError } from '../core/errors.js';
import { tryVendorSymbol } from '../model/symbol.js';

/** Largest accepted window / limit: keeps frames and result sizes sane. */
export const MAX_WINDOW = 1000;
/** Trading days per year, for annualising daily volatility. */
export const TRADING_DAYS_PER_YEAR = 252;

export interface RangeOptions {
  /** Restrict to these symbols; omitted = every symbol in the view. */
  symbols?: readonly string[];
  /** First date (inclusive) of the output, `YYYY-MM-DD`. */
  from?: string;
  /** Last date (inclusive) of the output, `YYYY-MM-DD`. */
  to?: string;
}

export type ReturnsOptions = RangeOptions;

export interface RollingVolatilityOptions extends RangeOptions {
  /** Number of daily log returns per estimate (default 20, 2..1000). */
  window?: number;
}

export interface CorrelationMatrixOptions extends RangeOptions {
  /** At least two distinct symbols. */
  symbols: readonly string[];
}

export interface TopMoversOptions extends RangeOptions {
  /** A single date; mutually exclusive with `from`/`to`. */
  date?: string;
  /** Rows to return (default 10, 1..1000). */
  limit?: number;
}

export type CoverageOptions = RangeOptions;

// ---------------------------------------------------------------------------
// Validation: everything that reaches SQL text goes through one of these.
// ---------------------------------------------------------------------------

/** Validates a symbol list (the one ticker grammar; BF-B is read as BF.B, as ingest stores it); returns it de-duplicated in first-seen order. */
export function validateSymbols(symbols: readonly string[], name = 'symbols'): string[] {
  if (!Array.isArray(symbols) || symbols.length === 0) throw new InputError(`${name}: give at least one symbol`);
  const out: string[] = [];
  for (const given of symbols) {
    const s = tryVendorSymbol(given);
    if (s === null) throw new InputError(`${name}: ${JSON.stringify(given)} is not a valid symbol (expected e.g. AAPL, BRK.B: A-Z 0-9, optional .CLASS, ASCII only)`);
    if (!out.includes(s)) out.push(s);
  }
  return out;
}

/** Validates a `YYYY-MM-DD` date that exists on the calendar (2024-02-30 is rejected). */
export function validateDate(value: string, name: string): string {
  if (typeof value !== 'string' || !isTradingDateString(value)) {
    throw new InputError(`${name}: ${JSON.stringify(value)} is not a date (expected YYYY-MM-DD)`);
  }
  return value;
}

/** Validates a window or limit: an integer in [min, 1000]. */
export function validateWindow(value: number, name: string, min = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_WINDOW) {
    throw new InputError(`${name}: ${JSON.stringify(value)} must be an integer from ${min} to ${MAX_WINDOW}`);
  }
  return value;
}

function validateRange(o: RangeOptions): { symbols?: string[]; from?: string; to?: string } {
  const out: { symbols?: string[]; from?: string; to?: string } = {};
  if (o.symbols !== undefined) out.symbols = validateSymbols(o.symbols);
  if (o.from !== undefined) out.from = validateDate(o.from, 'from');
  if (o.to !== undefined) out.to = validateDate(o.to, 'to');
  // ISO dates compare correctly as strings.
  if (out.from && out.to && out.from > out.to) throw new InputError(`from (${out.from}) is after to (${out.to})`);
  return out;
}

// ---------------------------------------------------------------------------
// SQL fragments. Inputs are already validated; quoting is defence in depth.
// ---------------------------------------------------------------------------

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function sqlDate(d: string): string {
  return `DATE ${sqlString(d)}`;
}

function symbolList(symbols: readonly string[]): string {
  return symbols.map(sqlString).join(', ');
}

function where(conds: string[]): string {
  return conds.length ? `WHERE ${conds.join(' AND ')}` : '';
}

/**
 * CTE `r`: one row per bar with the previous bar's close and the simple/log return.
 *
 * Only `to` is applied here. `from` must be applied *after* the lag, otherwise the first
 * day of the range would lose its return (its previous close lies before `from`); callers
 * filter on `from` in the outer query. The previous bar is the previous *row*, so a day
 * missing from `bars` (holiday, quarantined row) makes that return span the gap.
 *
 * Returns are NULL rather than an error when a price is not positive: ln() of zero or a
 * negative number aborts the whole DuckDB query, and one bad bar should not do that.
 */
function returnsCte(symbols: readonly string[] | undefined, to: string | undefined): string {
  const conds: string[] = [];
  if (symbols) conds.push(`symbol IN (${symbolList(symbols)})`);
  if (to) conds.push(`date <= ${sqlDate(to)}`);
  return `lagged AS (
  SELECT date, symbol, close,
         lag(close) OVER (PARTITION BY symbol ORDER BY date) AS prev_close
  FROM bars
  ${where(conds)}
),
r AS (
  SELECT date, symbol, close, prev_close,
         CASE WHEN prev_close > 0 THEN close / prev_close - 1 END AS simple_return,
         ln(CASE WHEN prev_close > 0 AND close > 0 THEN close / prev_close END) AS log_return
  FROM lagged
)`;
}

// ---------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------

/**
 * Daily simple and log returns per symbol.
 * Columns: date, symbol, close, prev_close, simple_return, log_return.
 * The first bar of each symbol has no return and is left out.
 */
export function returnsSql(opts: ReturnsOptions = {}): string {
  const o = validateRange(opts);
  const conds = ['prev_close IS NOT NULL'];
  if (o.from) conds.push(`date >= ${sqlDate(o.from)}`);
  return `WITH ${returnsCte(o.symbols, o.to)}
SELECT date, symbol, close, prev_close, simple_return, log_return
FROM r
${where(conds)}
ORDER BY symbol, date`;
}

/**
 * Rolling annualised volatility: sample stdev of the last `window` daily log returns
 * times sqrt(252). Columns: date, symbol, close, log_return, n, volatility.
 * `volatility` is NULL until `n` (non-NULL log returns in the frame) equals the window.
 */
export function rollingVolatilitySql(opts: RollingVolatilityOptions = {}): string {
  const o = validateRange(opts);
  // A sample stdev needs two observations, so a window of 1 could never produce a value.
  const window = validateWindow(opts.window ?? 20, 'window', 2);
  const conds: string[] = [];
  if (o.from) conds.push(`date >= ${sqlDate(o.from)}`);
  // ROWS (not RANGE ... INTERVAL) so the window is N trading days, not N calendar days.
  // Frame aggregates silently shrink at the start of a series (the first rows see fewer
  // than N returns), hence the explicit count check: a partial window yields NULL, not a
  // noisy estimate. count(log_return) skips the NULL return of each symbol's first bar,
  // so the first value appears on the (window + 1)-th bar.
  return `WITH ${returnsCte(o.symbols, o.to)},
v AS (
  SELECT date, symbol, close, log_return,
         count(log_return) OVER w AS n,
         stddev_samp(log_return) OVER w AS sd
  FROM r
  WINDOW w AS (PARTITION BY symbol ORDER BY date ROWS BETWEEN ${window - 1} PRECEDING AND CURRENT ROW)
)
SELECT date, symbol, close, log_return, CAST(n AS INTEGER) AS n,
       CASE WHEN n = ${window} THEN sd * sqrt(${TRADING_DAYS_PER_YEAR}) END AS volatility
FROM v
${where(conds)}
ORDER BY symbol, date`;
}

/**
 * Pairwise Pearson correlation of daily simple returns, long format:
 * sym_a, sym_b, corr, n (n = dates on which both symbols have a return).
 * Every ordered pair is listed, the diagonal included, so the result PIVOTs straight
 * into a square matrix. corr is NULL when it is undefined (n < 2 or a constant series).
 */
export function correlationMatrixSql(opts: CorrelationMatrixOptions): string {
  if (!opts || opts.symbols === undefined) throw new InputError('correlation_matrix: symbols is required (at least two)');
  const o = validateRange(opts);
  const symbols = o.symbols!;
  if (symbols.length < 2) throw new InputError('correlation_matrix: give at least two distinct symbols');
  const conds = ['simple_return IS NOT NULL'];
  if (o.from) conds.push(`date >= ${sqlDate(o.from)}`);
  // Pairs are built from the requested list (not from the data) so a symbol with no
  // overlapping history still gets its row (n = 0, corr NULL) instead of vanishing.
  // The self-join on date keeps only days both symbols traded: Pearson needs pairs.
  // DuckDB's corr() gives NaN for zero variance; map it to NULL so JSON/CSV stay clean.
  return `WITH ${returnsCte(symbols, o.to)},
d AS (
  SELECT date, symbol, simple_return AS ret FROM r
  ${where(conds)}
),
stats AS (
  SELECT a.symbol AS sym_a, b.symbol AS sym_b, corr(a.ret, b.ret) AS c, count(*) AS n
  FROM d AS a JOIN d AS b ON a.date = b.date
  GROUP BY a.symbol, b.symbol
),
syms AS (SELECT unnest([${symbolList(symbols)}]) AS symbol)
SELECT sa.symbol AS sym_a, sb.symbol AS sym_b,
       CASE WHEN s.n >= 2 AND NOT isnan(s.c) THEN s.c END AS corr,
       CAST(coalesce(s.n, 0) AS INTEGER) AS n
FROM syms AS sa CROSS JOIN syms AS sb
LEFT JOIN stats AS s ON s.sym_a = sa.symbol AND s.sym_b = sb.symbol
ORDER BY sym_a, sym_b`;
}

/**
 * Biggest absolute daily moves (simple returns), on one `date` or over `from`..`to`
 * (or all history). Columns: date, symbol, prev_close, close, simple_return, abs_return.
 */
export function topMoversSql(opts: TopMoversOptions = {}): string {
  const o = validateRange(opts);
  const limit = validateWindow(opts.limit ?? 10, 'limit');
  const conds = ['simple_return IS NOT NULL'];
  let to = o.to;
  if (opts.date !== undefined) {
    if (o.from || o.to) throw new InputError('top_movers: give either date or from/to, not both');
    const date = validateDate(opts.date, 'date');
    conds.push(`date = ${sqlDate(date)}`);
    to = date;
  } else if (o.from) {
    conds.push(`date >= ${sqlDate(o.from)}`);
  }
  // Ties on abs_return are broken by date and symbol so the same query always
  // returns the same rows at the LIMIT boundary.
  return `WITH ${returnsCte(o.symbols, to)}
SELECT date, symbol, prev_close, close, simple_return, abs(simple_return) AS abs_return
FROM r
${where(conds)}
ORDER BY abs_return DESC, date, symbol
LIMIT ${limit}`;
}

/**
 * Per-symbol data coverage: first_date, last_date, rows (bars kept), quarantined_rows
 * (quarantine records) and quarantine_rules (distinct rules seen, comma-separated,
 * NULL when none). Symbols that only appear in quarantine are listed too, with rows = 0.
 */
export function coverageSql(opts: CoverageOptions = {}): string {
  const o = validateRange(opts);
  const conds: string[] = [];
  if (o.symbols) conds.push(`symbol IN (${symbolList(o.symbols)})`);
  if (o.from) conds.push(`date >= ${sqlDate(o.from)}`);
  if (o.to) conds.push(`date <= ${sqlDate(o.to)}`);
  // FULL OUTER JOIN: a symbol whose every row was rejected has no bars at all, and
  // that is exactly the case coverage should surface.
  return `WITH b AS (
  SELECT symbol, min(date) AS first_date, max(date) AS last_date, count(*) AS n
  FROM bars
  ${where(conds)}
  GROUP BY symbol
),
q AS (
  SELECT symbol, count(*) AS n, string_agg(DISTINCT rule, ',' ORDER BY rule) AS rules
  FROM quarantine
  ${where(conds)}
  GROUP BY symbol
)
SELECT coalesce(b.symbol, q.symbol) AS symbol,
       b.first_date, b.last_date,
       CAST(coalesce(b.n, 0) AS INTEGER) AS "rows",
       CAST(coalesce(q.n, 0) AS INTEGER) AS quarantined_rows,
       q.rules AS quarantine_rules
FROM b FULL OUTER JOIN q ON b.symbol = q.symbol
ORDER BY symbol NULLS LAST`;
}

// ---------------------------------------------------------------------------
// String-argument registry for the CLI (`--helper NAME --arg key=value ...`).
// ---------------------------------------------------------------------------

export interface Helper {
  description: string;
  /** Human-readable parameter summary for `--help` output. */
  params: string;
  /** Builds the SQL from raw `key=value` strings; throws InputError on bad input. */
  build(args: Record<string, string>): string;
}

/** Rejects unknown keys so a typo (`form=2019-01-01`) is an error, not a silently ignored filter. */
function checkArgs(helper: string, args: Record<string, string>, allowed: readonly string[]): void {
  if (args === null || typeof args !== 'object') throw new InputError(`${helper}: arguments must be key=value pairs`);
  for (const key of Object.keys(args)) {
    if (!allowed.includes(key)) {
      throw new InputError(`${helper}: unknown argument ${JSON.stringify(key)} (allowed: ${allowed.join(', ')})`);
    }
    if (typeof args[key] !== 'string') throw new InputError(`${helper}: ${key} must be a string`);
  }
}

function arg(args: Record<string, string>, key: string): string | undefined {
  return Object.hasOwn(args, key) ? args[key] : undefined;
}

/** `AAPL,MSFT` → ['AAPL','MSFT']; blanks around commas are tolerated, empty items are not. */
function parseSymbolsArg(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return validateSymbols(v.split(/[ \t]*,[ \t]*/));
}

/** Digits only: Number() alone would accept `1e3`, `0x10`, ` 5 `. */
function parseIntArg(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,4}$/.test(v)) throw new InputError(`${name}: ${JSON.stringify(v)} must be an integer from 1 to ${MAX_WINDOW}`);
  return Number(v);
}

function rangeArgs(args: Record<string, string>): RangeOptions {
  const o: RangeOptions = {};
  const symbols = parseSymbolsArg(arg(args, 'symbols'));
  if (symbols) o.symbols = symbols;
  const from = arg(args, 'from');
  if (from !== undefined) o.from = from;
  const to = arg(args, 'to');
  if (to !== undefined) o.to = to;
  return o;
}

const RANGE_PARAMS = 'symbols=AAPL,MSFT (optional, default all) from=YYYY-MM-DD to=YYYY-MM-DD (optional, inclusive)';

export const HELPERS: Record<string, Helper> = {
  returns: {
    description: 'Daily simple and log returns per symbol (close over previous close).',
    params: RANGE_PARAMS,
    build(args) {
      checkArgs('returns', args, ['symbols', 'from', 'to']);
      return returnsSql(rangeArgs(args));
    },
  },
  rolling_volatility: {
    description: `Annualised rolling volatility: stdev of daily log returns over a window × sqrt(${TRADING_DAYS_PER_YEAR}); NULL until the window is full.`,
    params: `${RANGE_PARAMS} window=N (trading days, default 20, 2..${MAX_WINDOW})`,
    build(args) {
      checkArgs('rolling_volatility', args, ['symbols', 'from', 'to', 'window']);
      const o: RollingVolatilityOptions = rangeArgs(args);
      const window = parseIntArg(arg(args, 'window'), 'window');
      if (window !== undefined) o.window = window;
      return rollingVolatilitySql(o);
    },
  },
  correlation_matrix: {
    description: 'Pairwise Pearson correlation of daily simple returns (long format: sym_a, sym_b, corr, n).',
    params: 'symbols=AAPL,MSFT,... (required, at least two) from=YYYY-MM-DD to=YYYY-MM-DD (optional)',
    build(args) {
      checkArgs('correlation_matrix', args, ['symbols', 'from', 'to']);
      const o = rangeArgs(args);
      if (!o.symbols) throw new InputError('correlation_matrix: symbols is required (at least two)');
      return correlationMatrixSql({ ...o, symbols: o.symbols });
    },
  },
  top_movers: {
    description: 'Biggest absolute daily moves (simple returns) on a date or over a date range.',
    params: `date=YYYY-MM-DD or from=YYYY-MM-DD to=YYYY-MM-DD (optional, default all history) symbols=... (optional) limit=N (default 10, 1..${MAX_WINDOW})`,
    build(args) {
      checkArgs('top_movers', args, ['symbols', 'from', 'to', 'date', 'limit']);
      const o: TopMoversOptions = rangeArgs(args);
      const date = arg(args, 'date');
      if (date !== undefined) o.date = date;
      const limit = parseIntArg(arg(args, 'limit'), 'limit');
      if (limit !== undefined) o.limit = limit;
      return topMoversSql(o);
    },
  },
  coverage: {
    description: 'Per symbol: first/last date, bar rows, quarantined rows and the quarantine rules seen.',
    params: RANGE_PARAMS,
    build(args) {
      checkArgs('coverage', args, ['symbols', 'from', 'to']);
      return coverageSql(rangeArgs(args));
    },
  },
};

/** Looks up a helper by name (own keys only, so `toString` is not a helper) and builds its SQL. */
export function buildHelperSql(name: string, args: Record<string, string> = {}): string {
  if (!Object.hasOwn(HELPERS, name)) {
    throw new InputError(`unknown helper ${JSON.stringify(name)} (available: ${Object.keys(HELPERS).join(', ')})`);
  }
  return HELPERS[name]!.build(args);
}
