import type { Logger } from 'pino';
import { readText, listInputFiles, parseBarFiles, type ParseIssue } from './csv-bars.js';
import { dayNumber, dayString, type Clock } from '../core/clock.js';
import { InputError, KestrelError } from '../core/errors.js';
import { selectRows, type CorporateAction, type SymbolBars } from './bars.js';
import { countTradingDays } from './calendar.js';
import { adjustmentFactors, applyAdjustment, deriveDividends, parseActionsCsv, summarizeErrors, vendorAdjustmentError } from './corporate-actions.js';
import { openDuck } from './duck.js';
import { runGates, type GateVerdicts } from './quality/gates.js';
import { ROW_RULES, type GatesConfig, type RowRule } from './quality/rules.js';
import { loadActions, loadQuarantine, loadRawBars, writeActions, writeBarPartitions, writeQuarantine, type QuarantineRow } from './raw-store.js';
import { SnapshotWriter, readManifest } from './store.js';

/**
 * `kestrel etl`: read bars → merge with the published history → quality gates → corporate
 * actions → adjusted bars → one atomic Parquet snapshot. Gates judge only the rows of this
 * input; rows published by earlier runs stay published. Nothing is written when a tolerance
 * is exceeded.
 */
export interface EtlOptions {
  input: string;
  actionsFile?: string;
  asOf?: string;
  dataDir: string;
  gates: GatesConfig;
  clock: Clock;
  logger: Logger;
  progress?: (stage: string, done: number, total: number) => void;
}

export interface RuleCount {
  quarantined: number;
  by_symbol: Record<string, number>;
  max_rows: number | null;
  exceeded: boolean;
}

export interface QualityReport {
  status: 'published' | 'failed';
  failure: string | null;
  /** Why the run failed: `malformed_input` (the file must be fixed, exit 2) or `quality_gate_failed` (exit 1). */
  failure_code: 'malformed_input' | 'quality_gate_failed' | null;
  generated_at: string;
  as_of: string | null;
  input: { files: string[]; lines_read: number; rows_parsed: number; symbols: number; first_date: string | null; last_date: string | null; has_adj_close: boolean };
  /** The snapshot after this run; all zero when the run failed (nothing was written). */
  published: { rows: number; symbols: number; first_date: string | null; last_date: string | null; restated_rows: number; files_written: number; files_reused: number };
  /** Input rows that passed every gate: published unless the run failed. */
  accepted_rows: number;
  quarantined: { rows: number; fraction: number; max_fraction: number };
  rules: Record<RowRule, RuleCount>;
  /** Lines that could not be read, with file, line, column and reason: the first MALFORMED_LISTED of them. */
  malformed_lines: { total: number; listed: MalformedLine[]; not_listed: number };
  missing_dates: { total: number; symbols: number; max_per_symbol: number | null; by_symbol: Record<string, { count: number; gaps: Array<[string, string]> }> };
  freshness: { checked: boolean; as_of: string | null; latest_date: string | null; lag_trading_days: number | null; max_lag_days: number; ok: boolean; lagging_symbols: Array<{ symbol: string; last_date: string; lag_trading_days: number }> };
  adjustment: {
    actions_from_file: number;
    dividends_derived: number;
    vendor_anomalies: number;
    vendor_adj_close_error: { max: number; median: number; rows: number } | null;
  };
  timings_ms: Record<string, number>;
}

export interface MalformedLine {
  file: string;
  line: number;
  /** Header name of the column at fault; null when the field count is wrong. */
  column: string | null;
  reason: string;
}

/** How many malformed lines a report lists (the rest are counted). */
export const MALFORMED_LISTED = 20;

interface Merged {
  bars: SymbolBars;
  /** 1 where the row comes from this run's input (only those can be quarantined). */
  incoming: Uint8Array;
  restated: number;
}

export async function runEtl(opts: EtlOptions): Promise<QualityReport> {
  const t0 = performance.now();
  const timings: Record<string, number> = {};
  const lap = (name: string, since: number) => (timings[name] = Math.round(performance.now() - since));
  const progress = opts.progress ?? (() => {});
  if (opts.asOf !== undefined && !Number.isFinite(dayNumber(opts.asOf))) throw new InputError(`--as-of ${JSON.stringify(opts.asOf)} is not a YYYY-MM-DD date`);

  let t = performance.now();
  progress('read', 0, 1);
  const files = listInputFiles(opts.input);
  const fileActions = opts.actionsFile ? readActionsFile(opts.actionsFile) : [];
  const parsed = parseBarFiles(files);
  lap('parse', t);
  progress('read', 1, 1);

  const duck = await openDuck();
  try {
    t = performance.now();
    const manifest = readManifest(opts.dataDir);
    const existing = await loadRawBars(duck, opts.dataDir, manifest);
    const storedActions = await loadActions(duck, opts.dataDir, manifest);
    const storedQuarantine = await loadQuarantine(duck, opts.dataDir, manifest);
    lap('load_existing', t);

    t = performance.now();
    const actionsBySymbol = groupActions(mergeFileActions(storedActions, fileActions));
    const symbols = [...new Set([...existing.keys(), ...parsed.series.keys()])].sort();
    const rules = Object.fromEntries(ROW_RULES.map((r) => [r, { quarantined: 0, by_symbol: {}, max_rows: maxRowsOf(opts.gates, r), exceeded: false }])) as Record<RowRule, RuleCount>;
    const quarantine: QuarantineRow[] = parseIssueRows(parsed.issues);
    const published: SymbolBars[] = [];
    const adjusted: SymbolBars[] = [];
    const factors = new Map<string, Float64Array>();
    const allActions: CorporateAction[] = [];
    const missing: QualityReport['missing_dates']['by_symbol'] = {};
    const vendorErrors: Float64Array[] = [];
    let restated = 0;
    let derivedCount = 0;
    let anomalies = 0;

    symbols.forEach((symbol, k) => {
      const m = merge(existing.get(symbol), parsed.series.get(symbol));
      restated += m.restated;
      const fileActs = actionsBySymbol.get(symbol) ?? [];
      const actionDays = new Set(fileActs.map((a) => dayNumber(a.exDate)));
      const splits = new Map<number, number>();
      for (const a of fileActs) if (a.type === 'split') splits.set(dayNumber(a.exDate), (splits.get(dayNumber(a.exDate)) ?? 1) * a.value);
      const v = runGates(m.bars, opts.gates, actionDays, parsed.files, splits);
      const keep = new Uint8Array(m.bars.day.length);
      for (let i = 0; i < keep.length; i++) {
        if (v.rule[i] === 0 || !m.incoming[i]) keep[i] = 1;
        else quarantine.push(quarantineRow(m.bars, i, v, parsed.files));
      }
      const pub = selectRows(m.bars, keep);
      if (pub.day.length === 0) return;
      if (v.missing.count) missing[symbol] = { count: v.missing.count, gaps: v.missing.gaps };

      // Dividends: an actions file speaks for a symbol; otherwise read them off the vendor's adj_close.
      let acts = fileActs;
      if (pub.adjClose && !fileActs.some((a) => a.type === 'dividend')) {
        const d = deriveDividends(pub);
        derivedCount += d.dividends.length;
        anomalies += d.anomalies.length;
        acts = [...fileActs, ...d.dividends];
      }
      allActions.push(...acts);
      const f = adjustmentFactors(pub, acts);
      const adj = applyAdjustment(pub, f);
      factors.set(symbol, f.price);
      if (pub.adjClose) vendorErrors.push(vendorAdjustmentError(adj.close, pub.adjClose));
      published.push(pub);
      adjusted.push(adj);
      if (k % 25 === 0) progress('gates', k + 1, symbols.length);
    });
    progress('gates', symbols.length, symbols.length);
    lap('gates_adjust', t);

    // Quarantine rows from earlier runs stay unless this input re-judged them.
    const incomingFiles = new Set(parsed.files);
    const rejudged = (q: QuarantineRow) => {
      if (incomingFiles.has(q.file)) return true;
      const b = q.symbol && q.date ? parsed.series.get(q.symbol) : undefined;
      return b !== undefined && b.day.includes(dayNumber(q.date!));
    };
    const kept = storedQuarantine.filter((q) => !rejudged(q));
    const newQuarantine = quarantine.length;
    for (const q of quarantine) {
      const r = rules[q.rule as RowRule];
      r.quarantined++;
      const key = q.symbol ?? '(unknown)';
      r.by_symbol[key] = (r.by_symbol[key] ?? 0) + 1;
    }

    const report = buildReport({
      opts, parsed, rules, missing, published, restated, newQuarantine, vendorErrors,
      actionsFromFile: fileActions.length, derivedCount, anomalies, timings,
    });

    const failure = findFailure(report, opts.gates);
    if (failure) {
      report.status = 'failed';
      report.failure = failure.message;
      report.failure_code = failure.code;
      // Nothing is written: the report must not claim otherwise.
      report.published = { rows: 0, symbols: 0, first_date: null, last_date: null, restated_rows: 0, files_written: 0, files_reused: 0 };
      timings.total = Math.round(performance.now() - t0);
      throw new EtlFailure(`${failure.message}; nothing published`, report, failure.code);
    }

    t = performance.now();
    progress('write', 0, 4);
    const writer = new SnapshotWriter(opts.dataDir, duck, () => opts.clock.now());
    try {
      await writeBarPartitions(duck, writer, 'bars_raw', published, { adjClose: true });
      progress('write', 1, 4);
      await writeBarPartitions(duck, writer, 'bars_adjusted', adjusted, { adjClose: false, factor: factors });
      progress('write', 2, 4);
      await writeQuarantine(duck, writer, [...kept, ...quarantine]);
      await writeActions(duck, writer, allActions);
      progress('write', 3, 4);
      writer.commit({ rows: report.published.rows, symbols: report.published.symbols, last_input: parsed.files, as_of: opts.asOf ?? null });
    } catch (e) {
      writer.discard();
      throw e;
    }
    progress('write', 4, 4);
    report.published.files_written = writer.written.length;
    report.published.files_reused = writer.reused.length;
    lap('write', t);
    timings.total = Math.round(performance.now() - t0);
    opts.logger.info({ rows: report.published.rows, quarantined: report.quarantined.rows, written: writer.written.length, reused: writer.reused.length }, 'snapshot published');
    return report;
  } finally {
    duck.close();
  }
}

/**
 * A failed run: the report says why; nothing was published. Malformed input is the user's to
 * fix (exit 2, like any bad input); a tolerance exceeded by readable data is a failure (exit 1).
 */
export class EtlFailure extends KestrelError {
  constructor(
    message: string,
    readonly report: QualityReport,
    code: 'malformed_input' | 'quality_gate_failed' = 'quality_gate_failed',
  ) {
    super(message, code, code === 'malformed_input' ? 2 : 1);
  }
}

/** The actions file; every problem with it names the --actions flag (exit 2). */
function readActionsFile(file: string): CorporateAction[] {
  const text = readText(file, '--actions');
  try {
    return parseActionsCsv(text, file);
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`--actions ${e.message}`, e.code);
    throw e;
  }
}

function maxRowsOf(g: GatesConfig, r: RowRule): number | null {
  return g[r].maxRows;
}

/** Stored file actions plus this run's (same symbol, date and type: the new one wins). */
function mergeFileActions(stored: CorporateAction[], fresh: CorporateAction[]): CorporateAction[] {
  const key = (a: CorporateAction) => `${a.symbol}|${a.exDate}|${a.type}`;
  const out = new Map<string, CorporateAction>();
  for (const a of stored) if (a.source === 'file') out.set(key(a), a);
  for (const a of fresh) out.set(key(a), a);
  return [...out.values()];
}

function groupActions(actions: CorporateAction[]): Map<string, CorporateAction[]> {
  const m = new Map<string, CorporateAction[]>();
  for (const a of actions) {
    let list = m.get(a.symbol);
    if (!list) m.set(a.symbol, (list = []));
    list.push(a);
  }
  return m;
}

/** History rows, with this input's rows replacing history on the same date. */
function merge(old: SymbolBars | undefined, fresh: SymbolBars | undefined): Merged {
  if (!old) return { bars: fresh!, incoming: new Uint8Array(fresh!.day.length).fill(1), restated: 0 };
  if (!fresh) return { bars: old, incoming: new Uint8Array(old.day.length), restated: 0 };
  const freshDays = new Set(fresh.day);
  const keepOld = old.day.map((d) => (freshDays.has(d) ? 0 : 1));
  const oldKept = selectRows(old, keepOld);
  let restated = 0;
  const freshByDay = new Map<number, number>();
  for (let i = fresh.day.length - 1; i >= 0; i--) freshByDay.set(fresh.day[i]!, i);
  for (let i = 0; i < old.day.length; i++) {
    const j = freshByDay.get(old.day[i]!);
    if (j !== undefined && (old.close[i] !== fresh.close[j] || old.open[i] !== fresh.open[j] || old.high[i] !== fresh.high[j] || old.low[i] !== fresh.low[j] || old.volume[i] !== fresh.volume[j])) restated++;
  }
  const n = oldKept.day.length + fresh.day.length;
  const bars = selectRows(concat(oldKept, fresh), new Uint8Array(n).fill(1));
  const incoming = new Uint8Array(n);
  // Stable merge by day: positions of fresh rows in the concatenation are oldKept.length..n-1.
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => bars.day[a]! - bars.day[b]! || a - b);
  const sorted = permute(bars, order);
  order.forEach((src, dst) => (incoming[dst] = src >= oldKept.day.length ? 1 : 0));
  return { bars: sorted, incoming, restated };
}

function concat(a: SymbolBars, b: SymbolBars): SymbolBars {
  const cat = <T extends Float64Array | Int32Array | Uint16Array>(x: T, y: T, make: (n: number) => T): T => {
    const out = make(x.length + y.length);
    out.set(x, 0);
    out.set(y, x.length);
    return out;
  };
  const f64 = (n: number) => new Float64Array(n);
  const adjA = a.adjClose ?? new Float64Array(a.day.length).fill(NaN);
  const adjB = b.adjClose ?? new Float64Array(b.day.length).fill(NaN);
  return {
    symbol: a.symbol,
    day: cat(a.day, b.day, (n) => new Int32Array(n)),
    open: cat(a.open, b.open, f64),
    high: cat(a.high, b.high, f64),
    low: cat(a.low, b.low, f64),
    close: cat(a.close, b.close, f64),
    adjClose: a.adjClose || b.adjClose ? cat(adjA, adjB, f64) : null,
    volume: cat(a.volume, b.volume, f64),
    fileIdx: cat(a.fileIdx, b.fileIdx, (n) => new Uint16Array(n)),
    line: cat(a.line, b.line, (n) => new Int32Array(n)),
  };
}

function permute(b: SymbolBars, order: number[]): SymbolBars {
  const pick = <T extends Float64Array | Int32Array | Uint16Array>(x: T): T => {
    const out = new (x.constructor as new (n: number) => T)(order.length);
    for (let i = 0; i < order.length; i++) out[i] = x[order[i]!]!;
    return out;
  };
  return {
    symbol: b.symbol,
    day: pick(b.day),
    open: pick(b.open),
    high: pick(b.high),
    low: pick(b.low),
    close: pick(b.close),
    adjClose: b.adjClose ? pick(b.adjClose) : null,
    volume: pick(b.volume),
    fileIdx: pick(b.fileIdx),
    line: pick(b.line),
  };
}

function quarantineRow(b: SymbolBars, i: number, v: GateVerdicts, files: readonly string[]): QuarantineRow {
  const adj = b.adjClose?.[i];
  return {
    date: dayString(b.day[i]!),
    symbol: b.symbol,
    rule: ROW_RULES[v.rule[i]! - 1]!,
    detail: v.detail.get(i) ?? '',
    file: files[b.fileIdx[i]!] ?? '',
    line: b.line[i]!,
    open: b.open[i]!,
    high: b.high[i]!,
    low: b.low[i]!,
    close: b.close[i]!,
    adj_close: adj === undefined || Number.isNaN(adj) ? null : adj,
    volume: b.volume[i]!,
  };
}

function parseIssueRows(issues: ParseIssue[]): QuarantineRow[] {
  return issues.map((p) => ({
    date: p.date, symbol: p.symbol, rule: 'malformed', detail: p.detail, file: p.file, line: p.line,
    open: null, high: null, low: null, close: null, adj_close: null, volume: null,
  }));
}

function dateRange(series: Iterable<SymbolBars>): { first: string | null; last: string | null } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const b of series) {
    if (b.day.length === 0) continue;
    lo = Math.min(lo, b.day[0]!);
    hi = Math.max(hi, b.day[b.day.length - 1]!);
  }
  return Number.isFinite(lo) ? { first: dayString(lo), last: dayString(hi) } : { first: null, last: null };
}

function buildReport(x: {
  opts: EtlOptions;
  parsed: ReturnType<typeof parseBarFiles>;
  rules: Record<RowRule, RuleCount>;
  missing: QualityReport['missing_dates']['by_symbol'];
  published: SymbolBars[];
  restated: number;
  newQuarantine: number;
  vendorErrors: Float64Array[];
  actionsFromFile: number;
  derivedCount: number;
  anomalies: number;
  timings: Record<string, number>;
}): QualityReport {
  const { opts, parsed, rules, published } = x;
  const g = opts.gates;
  const inRange = dateRange(parsed.series.values());
  const outRange = dateRange(published);
  const pubRows = published.reduce((s, b) => s + b.day.length, 0);
  const linesRead = parsed.rows + parsed.issues.length;
  for (const r of ROW_RULES) rules[r].exceeded = rules[r].max_rows !== null && rules[r].quarantined > rules[r].max_rows!;

  const missTotal = Object.values(x.missing).reduce((s, m) => s + m.count, 0);
  // Freshness: trading days after the latest published date, up to and including --as-of.
  const fresh: QualityReport['freshness'] = { checked: false, as_of: opts.asOf ?? null, latest_date: outRange.last, lag_trading_days: null, max_lag_days: g.freshness.maxLagDays, ok: true, lagging_symbols: [] };
  if (opts.asOf && g.freshness.enabled) {
    const asOf = dayNumber(opts.asOf);
    const lag = (last: number) => (last >= asOf ? 0 : countTradingDays(last + 1, asOf));
    fresh.checked = true;
    fresh.lag_trading_days = outRange.last ? lag(dayNumber(outRange.last)) : null;
    fresh.ok = fresh.lag_trading_days !== null && fresh.lag_trading_days <= g.freshness.maxLagDays;
    for (const b of published) {
      const last = b.day[b.day.length - 1]!;
      const l = lag(last);
      if (l > g.freshness.maxLagDays) fresh.lagging_symbols.push({ symbol: b.symbol, last_date: dayString(last), lag_trading_days: l });
    }
    fresh.lagging_symbols.sort((a, b) => b.lag_trading_days - a.lag_trading_days || (a.symbol < b.symbol ? -1 : 1));
  }
  const err = x.vendorErrors.length ? summarizeErrors(x.vendorErrors) : null;
  return {
    status: 'published',
    failure: null,
    failure_code: null,
    generated_at: opts.clock.now().toISOString(),
    as_of: opts.asOf ?? null,
    input: { files: parsed.files, lines_read: linesRead, rows_parsed: parsed.rows, symbols: parsed.series.size, first_date: inRange.first, last_date: inRange.last, has_adj_close: parsed.hasAdjClose },
    published: { rows: pubRows, symbols: published.length, first_date: outRange.first, last_date: outRange.last, restated_rows: x.restated, files_written: 0, files_reused: 0 },
    accepted_rows: parsed.rows - Object.entries(rules).reduce((n, [name, r]) => n + (name === 'malformed' ? 0 : r.quarantined), 0),
    quarantined: { rows: x.newQuarantine, fraction: linesRead ? x.newQuarantine / linesRead : 0, max_fraction: g.maxQuarantineFraction },
    rules,
    malformed_lines: {
      total: parsed.issues.length,
      listed: parsed.issues.slice(0, MALFORMED_LISTED).map((p) => ({ file: p.file, line: p.line, column: p.column, reason: p.detail })),
      not_listed: Math.max(0, parsed.issues.length - MALFORMED_LISTED),
    },
    missing_dates: { total: missTotal, symbols: Object.keys(x.missing).length, max_per_symbol: g.missing_dates.maxMissingDays, by_symbol: x.missing },
    freshness: fresh,
    adjustment: { actions_from_file: x.actionsFromFile, dividends_derived: x.derivedCount, vendor_anomalies: x.anomalies, vendor_adj_close_error: err && err.rows ? err : null },
    timings_ms: x.timings,
  };
}

interface Failure {
  message: string;
  code: 'malformed_input' | 'quality_gate_failed';
}

/**
 * The first tolerance the run exceeds, or null. Malformed lines are judged first: when they
 * alone break a tolerance (or nothing could be read at all) the input must be fixed, and the
 * message names the first bad line so the fix is obvious from the one line on stderr.
 */
function findFailure(r: QualityReport, g: GatesConfig): Failure | null {
  const bad = r.malformed_lines;
  if (bad.total > 0) {
    const first = bad.listed[0]!;
    const where = `${first.file} line ${first.line}: ${first.reason}`;
    const more = bad.total > 1 ? ` (and ${(bad.total - 1).toLocaleString('en-US')} more malformed line${bad.total > 2 ? 's' : ''})` : '';
    const frac = r.input.lines_read ? bad.total / r.input.lines_read : 0;
    const input = (why: string): Failure => ({ message: `${why}: ${where}${more}`, code: 'malformed_input' });
    if (r.input.rows_parsed === 0) return input('no line of the input could be read');
    if (r.rules.malformed.exceeded) return input(`quality gate malformed: ${bad.total} malformed lines, tolerance is ${r.rules.malformed.max_rows}`);
    if (frac > g.maxQuarantineFraction) return input(`${pct(frac)} of input lines are malformed, tolerance is ${pct(g.maxQuarantineFraction)} (maxQuarantineFraction)`);
  }
  const quality = (message: string): Failure => ({ message, code: 'quality_gate_failed' });
  for (const name of ROW_RULES) {
    const c = r.rules[name];
    if (c.exceeded) return quality(`quality gate ${name}: ${c.quarantined} rows flagged, tolerance is ${c.max_rows}`);
  }
  if (r.quarantined.fraction > g.maxQuarantineFraction) {
    return quality(`quarantined ${pct(r.quarantined.fraction)} of input rows, tolerance is ${pct(g.maxQuarantineFraction)} (maxQuarantineFraction)`);
  }
  if (g.missing_dates.maxRows !== null && r.missing_dates.total > g.missing_dates.maxRows) {
    return quality(`quality gate missing_dates: ${r.missing_dates.total} trading days missing, tolerance is ${g.missing_dates.maxRows}`);
  }
  if (g.missing_dates.maxMissingDays !== null) {
    const worst = Object.entries(r.missing_dates.by_symbol).sort((a, b) => b[1].count - a[1].count)[0];
    if (worst && worst[1].count > g.missing_dates.maxMissingDays) return quality(`quality gate missing_dates: ${worst[0]} misses ${worst[1].count} trading days, tolerance is ${g.missing_dates.maxMissingDays}`);
  }
  if (r.freshness.checked && !r.freshness.ok) {
    return quality(`quality gate freshness: latest date ${r.freshness.latest_date ?? 'none'} is ${r.freshness.lag_trading_days ?? '∞'} trading days behind --as-of ${r.as_of}, tolerance is ${r.freshness.max_lag_days}`);
  }
  if (r.published.rows === 0) return quality('nothing to publish: no row passed the quality gates');
  return null;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
