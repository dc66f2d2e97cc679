import { InputError } from '../core/errors.js';
import type { SymbolBars } from '../data/bars.js';
import { rollingMeanStd, rollingSum } from './ops/moments.js';
import { rollingRegression } from './ops/regression.js';
import { rollingMaxIdx, rollingMinIdx } from './ops/extrema.js';
import { rollingOrderStats } from './ops/order-stats.js';
import { rollingCorr } from './ops/pairwise.js';

/**
 * Qlib's Alpha158 feature set, computed per symbol from daily bars.
 *
 * Source of truth: qlib/contrib/data/loader.py, `Alpha158DL.get_feature_config` with its
 * default config — kbar, price {windows: [0], feature: [OPEN, HIGH, LOW, VWAP]}, no volume
 * block, rolling {windows: [5, 10, 20, 30, 60], every operator} — and the label of
 * qlib/contrib/data/handler.py (`Ref($close, -2)/Ref($close, -1) - 1`). The table below
 * lists every column with Qlib's expression verbatim, in Qlib's order; each entry's kernel
 * evaluates exactly that expression, in the same operation order (so results agree with a
 * pandas evaluation to rounding). Operator semantics: ./ops/*.
 *
 * Differences from Qlib, on purpose:
 * - No partial windows: a rolling feature is NaN until its window is full (Qlib's Rolling
 *   uses min_periods=1), and a NaN/±Inf input inside a window makes that window NaN.
 * - Daily bars carry no VWAP: $vwap = ($high + $low + $close) / 3 (typical price).
 * - Every ±Infinity in the output (zero prices or volumes in a denominator) becomes NaN.
 * - $close > Ref($close, 1) with a NaN side is 0 (numpy comparison), exactly as in Qlib,
 *   so CNTP/CNTN/CNTD are defined one row earlier than the Sum-based SUMP family.
 *
 * Input: adjusted prices (split and dividend) and split-adjusted volume.
 *
 * Output layout: column-major — `values[col * rows + row]`. Every kernel produces a whole
 * column, so column-major writes each column contiguously with no strided scatter; use
 * `featureColumn` for one feature or `toRowMajor` for an n × 158 row-major copy.
 */

export type BarsInput = Pick<SymbolBars, 'symbol' | 'day' | 'open' | 'high' | 'low' | 'close' | 'volume'>;

export interface FeatureMatrix {
  symbol: string;
  /** ALPHA158_NAMES (shared, in Qlib's order). */
  names: readonly string[];
  day: Int32Array;
  rows: number;
  layout: 'column-major';
  /** rows × names.length values, column-major: values[col * rows + row]. NaN where undefined. */
  values: Float64Array;
  /** LABEL0 = Ref($close, -2)/Ref($close, -1) - 1: the return from t+1 to t+2 (NaN in the last 2 rows). */
  label: Float64Array;
}

export const ALPHA158_WINDOWS: readonly number[] = [5, 10, 20, 30, 60];
export const LABEL0_EXPR = 'Ref($close, -2)/Ref($close, -1) - 1';

const EPS = 1e-12;
/** Qlib masks Corr and Rsquare where the rolling std is within 2e-5 of 0 (ops.py: np.isclose(..., atol=2e-05)). */
const QLIB_STD_ATOL = 2e-5;

/** Per-symbol inputs, derived series and the current window's operator results. */
interface Ctx {
  n: number;
  o: Float64Array;
  h: Float64Array;
  l: Float64Array;
  c: Float64Array;
  v: Float64Array;
  // derived series (whole series)
  vwap: Float64Array;
  posC: Float64Array; // Greater($close-Ref($close, 1), 0)
  negC: Float64Array; // Greater(Ref($close, 1)-$close, 0)
  absC: Float64Array; // Abs($close-Ref($close, 1))
  ratioC: Float64Array; // $close/Ref($close,1)
  gtC: Float64Array; // $close>Ref($close, 1)
  ltC: Float64Array; // $close<Ref($close, 1)
  logV1: Float64Array; // Log($volume+1)
  logVR: Float64Array; // Log($volume/Ref($volume, 1)+1)
  wv: Float64Array; // Abs($close/Ref($close, 1)-1)*$volume
  posV: Float64Array;
  negV: Float64Array;
  absV: Float64Array;
  // operator results for the current window d
  meanC: Float64Array;
  stdC: Float64Array;
  slope: Float64Array;
  rsq: Float64Array;
  resi: Float64Array;
  maxH: Float64Array;
  imax: Float64Array;
  minL: Float64Array;
  imin: Float64Array;
  qU: Float64Array;
  qD: Float64Array;
  rank: Float64Array;
  cntP: Float64Array;
  cntN: Float64Array;
  sumPosC: Float64Array;
  sumNegC: Float64Array;
  sumAbsC: Float64Array;
  meanV: Float64Array;
  stdV: Float64Array;
  meanWv: Float64Array;
  stdWv: Float64Array;
  sumPosV: Float64Array;
  sumNegV: Float64Array;
  sumAbsV: Float64Array;
}

const SCRATCH_KEYS = [
  'vwap', 'posC', 'negC', 'absC', 'ratioC', 'gtC', 'ltC', 'logV1', 'logVR', 'wv', 'posV', 'negV', 'absV',
  'meanC', 'stdC', 'slope', 'rsq', 'resi', 'maxH', 'imax', 'minL', 'imin', 'qU', 'qD', 'rank', 'cntP', 'cntN',
  'sumPosC', 'sumNegC', 'sumAbsC', 'meanV', 'stdV', 'meanWv', 'stdWv', 'sumPosV', 'sumNegV', 'sumAbsV',
] as const;

type Kernel = (k: Ctx, out: Float64Array) => void;
type RollingKernel = (k: Ctx, d: number, out: Float64Array) => void;

// ---- element-wise helpers (plain loops) ----
function div(out: Float64Array, a: Float64Array, b: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i]! / b[i]!;
}
/** a / (b + 1e-12) */
function divEps(out: Float64Array, a: Float64Array, b: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i]! / (b[i]! + EPS);
}
function divScalar(out: Float64Array, a: Float64Array, s: number, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i]! / s;
}

/** KBAR and PRICE columns: Qlib name, Qlib expression, kernel. */
const STATIC: readonly { name: string; expr: string; fn: Kernel }[] = [
  { name: 'KMID', expr: '($close-$open)/$open', fn: ({ n, o, c }, out) => { for (let i = 0; i < n; i++) out[i] = (c[i]! - o[i]!) / o[i]!; } },
  { name: 'KLEN', expr: '($high-$low)/$open', fn: ({ n, o, h, l }, out) => { for (let i = 0; i < n; i++) out[i] = (h[i]! - l[i]!) / o[i]!; } },
  { name: 'KMID2', expr: '($close-$open)/($high-$low+1e-12)', fn: ({ n, o, h, l, c }, out) => { for (let i = 0; i < n; i++) out[i] = (c[i]! - o[i]!) / (h[i]! - l[i]! + EPS); } },
  { name: 'KUP', expr: '($high-Greater($open, $close))/$open', fn: ({ n, o, h, c }, out) => { for (let i = 0; i < n; i++) out[i] = (h[i]! - Math.max(o[i]!, c[i]!)) / o[i]!; } },
  { name: 'KUP2', expr: '($high-Greater($open, $close))/($high-$low+1e-12)', fn: ({ n, o, h, l, c }, out) => { for (let i = 0; i < n; i++) out[i] = (h[i]! - Math.max(o[i]!, c[i]!)) / (h[i]! - l[i]! + EPS); } },
  { name: 'KLOW', expr: '(Less($open, $close)-$low)/$open', fn: ({ n, o, l, c }, out) => { for (let i = 0; i < n; i++) out[i] = (Math.min(o[i]!, c[i]!) - l[i]!) / o[i]!; } },
  { name: 'KLOW2', expr: '(Less($open, $close)-$low)/($high-$low+1e-12)', fn: ({ n, o, h, l, c }, out) => { for (let i = 0; i < n; i++) out[i] = (Math.min(o[i]!, c[i]!) - l[i]!) / (h[i]! - l[i]! + EPS); } },
  { name: 'KSFT', expr: '(2*$close-$high-$low)/$open', fn: ({ n, o, h, l, c }, out) => { for (let i = 0; i < n; i++) out[i] = (2 * c[i]! - h[i]! - l[i]!) / o[i]!; } },
  { name: 'KSFT2', expr: '(2*$close-$high-$low)/($high-$low+1e-12)', fn: ({ n, h, l, c }, out) => { for (let i = 0; i < n; i++) out[i] = (2 * c[i]! - h[i]! - l[i]!) / (h[i]! - l[i]! + EPS); } },
  { name: 'OPEN0', expr: '$open/$close', fn: ({ n, o, c }, out) => div(out, o, c, n) },
  { name: 'HIGH0', expr: '$high/$close', fn: ({ n, h, c }, out) => div(out, h, c, n) },
  { name: 'LOW0', expr: '$low/$close', fn: ({ n, l, c }, out) => div(out, l, c, n) },
  { name: 'VWAP0', expr: '$vwap/$close', fn: ({ n, vwap, c }, out) => div(out, vwap, c, n) },
];

/**
 * Rolling families, one column per window in ALPHA158_WINDOWS ({d} = window). The kernels
 * read the window's operator results prepared by `prepareWindow` (fused where one pass
 * serves several families: Mean+Std, Slope+Rsquare+Resi, Max+IdxMax, Quantiles+Rank).
 */
const ROLLING: readonly { family: string; expr: string; fn: RollingKernel }[] = [
  { family: 'ROC', expr: 'Ref($close, {d})/$close', fn: ({ n, c }, d, out) => { for (let i = 0; i < n; i++) out[i] = i >= d ? c[i - d]! / c[i]! : NaN; } },
  { family: 'MA', expr: 'Mean($close, {d})/$close', fn: (k, _d, out) => div(out, k.meanC, k.c, k.n) },
  { family: 'STD', expr: 'Std($close, {d})/$close', fn: (k, _d, out) => div(out, k.stdC, k.c, k.n) },
  { family: 'BETA', expr: 'Slope($close, {d})/$close', fn: (k, _d, out) => div(out, k.slope, k.c, k.n) },
  { family: 'RSQR', expr: 'Rsquare($close, {d})', fn: (k, _d, out) => out.set(k.rsq.subarray(0, k.n)) },
  { family: 'RESI', expr: 'Resi($close, {d})/$close', fn: (k, _d, out) => div(out, k.resi, k.c, k.n) },
  { family: 'MAX', expr: 'Max($high, {d})/$close', fn: (k, _d, out) => div(out, k.maxH, k.c, k.n) },
  { family: 'MIN', expr: 'Min($low, {d})/$close', fn: (k, _d, out) => div(out, k.minL, k.c, k.n) },
  { family: 'QTLU', expr: 'Quantile($close, {d}, 0.8)/$close', fn: (k, _d, out) => div(out, k.qU, k.c, k.n) },
  { family: 'QTLD', expr: 'Quantile($close, {d}, 0.2)/$close', fn: (k, _d, out) => div(out, k.qD, k.c, k.n) },
  { family: 'RANK', expr: 'Rank($close, {d})', fn: (k, _d, out) => out.set(k.rank.subarray(0, k.n)) },
  {
    family: 'RSV',
    expr: '($close-Min($low, {d}))/(Max($high, {d})-Min($low, {d})+1e-12)',
    fn: ({ n, c, minL, maxH }, _d, out) => { for (let i = 0; i < n; i++) out[i] = (c[i]! - minL[i]!) / (maxH[i]! - minL[i]! + EPS); },
  },
  { family: 'IMAX', expr: 'IdxMax($high, {d})/{d}', fn: (k, d, out) => divScalar(out, k.imax, d, k.n) },
  { family: 'IMIN', expr: 'IdxMin($low, {d})/{d}', fn: (k, d, out) => divScalar(out, k.imin, d, k.n) },
  {
    family: 'IMXD',
    expr: '(IdxMax($high, {d})-IdxMin($low, {d}))/{d}',
    fn: ({ n, imax, imin }, d, out) => { for (let i = 0; i < n; i++) out[i] = (imax[i]! - imin[i]!) / d; },
  },
  { family: 'CORR', expr: 'Corr($close, Log($volume+1), {d})', fn: (k, d, out) => { rollingCorr(k.c, k.logV1, d, out, { minStd: QLIB_STD_ATOL }); } },
  {
    family: 'CORD',
    expr: 'Corr($close/Ref($close,1), Log($volume/Ref($volume, 1)+1), {d})',
    fn: (k, d, out) => { rollingCorr(k.ratioC, k.logVR, d, out, { minStd: QLIB_STD_ATOL }); },
  },
  { family: 'CNTP', expr: 'Mean($close>Ref($close, 1), {d})', fn: (k, _d, out) => out.set(k.cntP.subarray(0, k.n)) },
  { family: 'CNTN', expr: 'Mean($close<Ref($close, 1), {d})', fn: (k, _d, out) => out.set(k.cntN.subarray(0, k.n)) },
  {
    family: 'CNTD',
    expr: 'Mean($close>Ref($close, 1), {d})-Mean($close<Ref($close, 1), {d})',
    fn: ({ n, cntP, cntN }, _d, out) => { for (let i = 0; i < n; i++) out[i] = cntP[i]! - cntN[i]!; },
  },
  {
    family: 'SUMP',
    expr: 'Sum(Greater($close-Ref($close, 1), 0), {d})/(Sum(Abs($close-Ref($close, 1)), {d})+1e-12)',
    fn: (k, _d, out) => divEps(out, k.sumPosC, k.sumAbsC, k.n),
  },
  {
    family: 'SUMN',
    expr: 'Sum(Greater(Ref($close, 1)-$close, 0), {d})/(Sum(Abs($close-Ref($close, 1)), {d})+1e-12)',
    fn: (k, _d, out) => divEps(out, k.sumNegC, k.sumAbsC, k.n),
  },
  {
    family: 'SUMD',
    expr: '(Sum(Greater($close-Ref($close, 1), 0), {d})-Sum(Greater(Ref($close, 1)-$close, 0), {d}))/(Sum(Abs($close-Ref($close, 1)), {d})+1e-12)',
    fn: ({ n, sumPosC, sumNegC, sumAbsC }, _d, out) => { for (let i = 0; i < n; i++) out[i] = (sumPosC[i]! - sumNegC[i]!) / (sumAbsC[i]! + EPS); },
  },
  { family: 'VMA', expr: 'Mean($volume, {d})/($volume+1e-12)', fn: (k, _d, out) => divEps(out, k.meanV, k.v, k.n) },
  { family: 'VSTD', expr: 'Std($volume, {d})/($volume+1e-12)', fn: (k, _d, out) => divEps(out, k.stdV, k.v, k.n) },
  {
    family: 'WVMA',
    expr: 'Std(Abs($close/Ref($close, 1)-1)*$volume, {d})/(Mean(Abs($close/Ref($close, 1)-1)*$volume, {d})+1e-12)',
    fn: (k, _d, out) => divEps(out, k.stdWv, k.meanWv, k.n),
  },
  {
    family: 'VSUMP',
    expr: 'Sum(Greater($volume-Ref($volume, 1), 0), {d})/(Sum(Abs($volume-Ref($volume, 1)), {d})+1e-12)',
    fn: (k, _d, out) => divEps(out, k.sumPosV, k.sumAbsV, k.n),
  },
  {
    family: 'VSUMN',
    expr: 'Sum(Greater(Ref($volume, 1)-$volume, 0), {d})/(Sum(Abs($volume-Ref($volume, 1)), {d})+1e-12)',
    fn: (k, _d, out) => divEps(out, k.sumNegV, k.sumAbsV, k.n),
  },
  {
    family: 'VSUMD',
    expr: '(Sum(Greater($volume-Ref($volume, 1), 0), {d})-Sum(Greater(Ref($volume, 1)-$volume, 0), {d}))/(Sum(Abs($volume-Ref($volume, 1)), {d})+1e-12)',
    fn: ({ n, sumPosV, sumNegV, sumAbsV }, _d, out) => { for (let i = 0; i < n; i++) out[i] = (sumPosV[i]! - sumNegV[i]!) / (sumAbsV[i]! + EPS); },
  },
];

/** The 158 column names in Qlib's order. */
export const ALPHA158_NAMES: readonly string[] = Object.freeze([
  ...STATIC.map((s) => s.name),
  ...ROLLING.flatMap((r) => ALPHA158_WINDOWS.map((d) => `${r.family}${d}`)),
]);

/** Qlib's expression of each column, aligned with ALPHA158_NAMES. */
export const ALPHA158_EXPRESSIONS: readonly string[] = Object.freeze([
  ...STATIC.map((s) => s.expr),
  ...ROLLING.flatMap((r) => ALPHA158_WINDOWS.map((d) => r.expr.replaceAll('{d}', String(d)))),
]);

/** 158. */
export const ALPHA158_COLUMNS = ALPHA158_NAMES.length;
const NCOL = ALPHA158_COLUMNS;

// ---- scratch: one pooled buffer per thread, sliced into views per symbol ----
let pool = new Float64Array(0);
function scratchViews(n: number): Float64Array[] {
  const need = n * SCRATCH_KEYS.length;
  if (pool.length < need) pool = new Float64Array(Math.max(need, pool.length * 2));
  return SCRATCH_KEYS.map((_, s) => pool.subarray(s * n, (s + 1) * n));
}

function makeCtx(b: BarsInput): Ctx {
  const n = b.close.length;
  for (const f of ['open', 'high', 'low', 'volume'] as const) {
    if (b[f].length !== n) throw new InputError(`${b.symbol}: ${f} has ${b[f].length} rows, close has ${n}`, 'bad_length');
  }
  if (b.day.length !== n) throw new InputError(`${b.symbol}: day has ${b.day.length} rows, close has ${n}`, 'bad_length');
  const views = scratchViews(n);
  const ctx = { n, o: b.open, h: b.high, l: b.low, c: b.close, v: b.volume } as Record<string, unknown>;
  SCRATCH_KEYS.forEach((key, s) => {
    ctx[key] = views[s];
  });
  const k = ctx as unknown as Ctx;
  const { h, l, c, v } = k;
  const { vwap, posC, negC, absC, ratioC, gtC, ltC, logV1, logVR, wv, posV, negV, absV } = k;
  for (let i = 0; i < n; i++) {
    const ci = c[i]!;
    const vi = v[i]!;
    const pc = i > 0 ? c[i - 1]! : NaN; // Ref($close, 1)
    const pv = i > 0 ? v[i - 1]! : NaN; // Ref($volume, 1)
    vwap[i] = (h[i]! + l[i]! + ci) / 3;
    const d = ci - pc; // $close-Ref($close, 1)
    posC[i] = Math.max(d, 0);
    negC[i] = Math.max(pc - ci, 0);
    absC[i] = Math.abs(d);
    const r = ci / pc;
    ratioC[i] = r;
    gtC[i] = ci > pc ? 1 : 0;
    ltC[i] = ci < pc ? 1 : 0;
    logV1[i] = Math.log(vi + 1);
    logVR[i] = Math.log(vi / pv + 1);
    wv[i] = Math.abs(r - 1) * vi;
    posV[i] = Math.max(vi - pv, 0);
    negV[i] = Math.max(pv - vi, 0);
    absV[i] = Math.abs(vi - pv);
  }
  return k;
}

function prepareWindow(k: Ctx, d: number): void {
  rollingMeanStd(k.c, d, k.meanC, k.stdC);
  rollingRegression(k.c, d, k.slope, k.rsq, k.resi, { minStd: QLIB_STD_ATOL });
  rollingMaxIdx(k.h, d, k.maxH, k.imax);
  rollingMinIdx(k.l, d, k.minL, k.imin);
  rollingOrderStats(k.c, d, [0.8, 0.2], [k.qU, k.qD], k.rank);
  rollingMeanStd(k.gtC, d, k.cntP, null);
  rollingMeanStd(k.ltC, d, k.cntN, null);
  rollingSum(k.posC, d, k.sumPosC);
  rollingSum(k.negC, d, k.sumNegC);
  rollingSum(k.absC, d, k.sumAbsC);
  rollingMeanStd(k.v, d, k.meanV, k.stdV);
  rollingMeanStd(k.wv, d, k.meanWv, k.stdWv);
  rollingSum(k.posV, d, k.sumPosV);
  rollingSum(k.negV, d, k.sumNegV);
  rollingSum(k.absV, d, k.sumAbsV);
}

/** ±Infinity → NaN in place (x - x is 0 only for finite x). */
function finiteOrNaN(a: Float64Array): void {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    if (x - x !== 0) a[i] = NaN;
  }
}

/** LABEL0 = Ref($close, -2)/Ref($close, -1) - 1 (±Infinity → NaN). */
export function label0(close: Float64Array, out?: Float64Array): Float64Array {
  const n = close.length;
  const o = out ?? new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = i + 2 < n ? close[i + 2]! / close[i + 1]! - 1 : NaN;
    o[i] = r - r === 0 ? r : NaN;
  }
  return o;
}

/** Caller-provided output storage (e.g. views into one buffer shared by many symbols). */
export interface Alpha158Into {
  /** rows × 158 values (column-major). */
  values: Float64Array;
  /** rows values. */
  label: Float64Array;
}

/**
 * Alpha158 features and LABEL0 of one symbol's adjusted daily bars (rows sorted by date).
 * Writes into `into` when given (every element is overwritten), else allocates.
 */
export function alpha158(bars: BarsInput, into?: Alpha158Into): FeatureMatrix {
  const k = makeCtx(bars);
  const n = k.n;
  if (into !== undefined && (into.values.length !== n * NCOL || into.label.length !== n)) {
    throw new InputError(`${bars.symbol}: output buffers must hold ${n} × ${NCOL} values and ${n} labels`, 'bad_length');
  }
  const values = into?.values ?? new Float64Array(n * NCOL);
  for (let c = 0; c < STATIC.length; c++) {
    const out = values.subarray(c * n, (c + 1) * n);
    STATIC[c]!.fn(k, out);
    finiteOrNaN(out);
  }
  const nw = ALPHA158_WINDOWS.length;
  for (let wi = 0; wi < nw; wi++) {
    const d = ALPHA158_WINDOWS[wi]!;
    prepareWindow(k, d);
    for (let f = 0; f < ROLLING.length; f++) {
      const c = STATIC.length + f * nw + wi;
      const out = values.subarray(c * n, (c + 1) * n);
      ROLLING[f]!.fn(k, d, out);
      finiteOrNaN(out); // while the column is still in cache
    }
  }
  return { symbol: bars.symbol, names: ALPHA158_NAMES, day: bars.day, rows: n, layout: 'column-major', values, label: label0(bars.close, into?.label) };
}

/** One feature's column (a view into the matrix, no copy). */
export function featureColumn(m: FeatureMatrix, name: string): Float64Array {
  const c = m.names.indexOf(name);
  if (c < 0) throw new InputError(`unknown feature ${name}`, 'bad_input');
  return m.values.subarray(c * m.rows, (c + 1) * m.rows);
}

/** Row-major copy of the matrix: out[row * cols + col]. */
export function toRowMajor(m: FeatureMatrix): Float64Array {
  const n = m.rows;
  const nc = m.names.length;
  const out = new Float64Array(n * nc);
  for (let c = 0; c < nc; c++) {
    const base = c * n;
    for (let r = 0; r < n; r++) out[r * nc + c] = m.values[base + r]!;
  }
  return out;
}

/**
 * Bars with open/high/low/close multiplied by adjClose/close (split- and dividend-adjusted
 * prices, CRSP style); volume is left as is. Returns the input when it has no adjClose.
 */
export function adjustByAdjClose<T extends BarsInput & { adjClose: Float64Array | null }>(b: T): T {
  const a = b.adjClose;
  if (a === null) return b;
  const n = b.close.length;
  const open = new Float64Array(n);
  const high = new Float64Array(n);
  const low = new Float64Array(n);
  const close = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const f = a[i]! / b.close[i]!;
    open[i] = b.open[i]! * f;
    high[i] = b.high[i]! * f;
    low[i] = b.low[i]! * f;
    close[i] = b.close[i]! * f;
  }
  return { ...b, open, high, low, close };
}
