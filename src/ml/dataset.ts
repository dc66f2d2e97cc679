import { dayNumber } from '../core/clock.js';
import { InputError } from '../core/errors.js';
import type { FeatureMatrix } from '../features/alpha158.js';

/**
 * Turns per-symbol feature matrices into train/valid/test sets: rows inside each date range
 * with a label, features row-major (±Inf → NaN; trees need no normalisation), and the label
 * z-scored across symbols per date (Qlib's CSZScoreNorm, sample std).
 *
 * The raw label is LABEL0 (the next-day return, `FeatureMatrix.label`) unless the caller
 * passes other raw labels per matrix (e.g. {@link forwardReturn} over a longer horizon);
 * every set also keeps LABEL0 as `next`, to measure what a daily-rebalanced book earns.
 */
export type LabelKind = 'return' | 'abs_return';

export interface DateRange {
  from: string;
  /** Inclusive; null = open-ended. */
  to: string | null;
}

export interface SplitSpec {
  train: DateRange;
  valid: DateRange;
  test: DateRange;
}

export const DEFAULT_SPLIT: SplitSpec = {
  train: { from: '2015-01-01', to: '2017-12-31' },
  valid: { from: '2018-01-01', to: '2018-12-31' },
  test: { from: '2019-01-01', to: null },
};

export interface LabeledSet {
  X: Float64Array;
  y: Float64Array;
  nRows: number;
  nFeatures: number;
  featureNames: string[];
  day: Int32Array;
  symbol: string[];
  /** LABEL0 (raw next-day return) of each row, whatever the training label. */
  next: Float64Array;
}

export function buildSplit(mats: readonly FeatureMatrix[], split: SplitSpec, label: LabelKind, raw?: readonly Float64Array[]): { train: LabeledSet; valid: LabeledSet; test: LabeledSet } {
  return { train: buildSet(mats, split.train, label, raw), valid: buildSet(mats, split.valid, label, raw), test: buildSet(mats, split.test, label, raw) };
}

/**
 * The return from the next close over `horizon` trading days: close[t+1+h] / close[t+1] − 1,
 * so a signal computed at t's close and traded at t+1 earns it (horizon 1 = LABEL0). NaN where
 * the series ends or the ratio is not finite (as LABEL0).
 */
export function forwardReturn(close: ArrayLike<number>, horizon: number): Float64Array {
  if (!(Number.isInteger(horizon) && horizon >= 1)) throw new InputError(`label horizon must be a whole number of days ≥ 1, got ${horizon}`, 'bad_config');
  const n = close.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = i + 1 + horizon < n ? close[i + 1 + horizon]! / close[i + 1]! - 1 : NaN;
    out[i] = r - r === 0 ? r : NaN;
  }
  return out;
}

function range(r: DateRange): [number, number] {
  const lo = dayNumber(r.from);
  const hi = r.to === null ? Infinity : dayNumber(r.to);
  if (!Number.isFinite(lo) || Number.isNaN(hi) || hi < lo) throw new InputError(`bad date range ${r.from}..${r.to ?? ''}`, 'bad_config');
  return [lo, hi];
}

export function buildSet(mats: readonly FeatureMatrix[], r: DateRange, label: LabelKind, rawLabels?: readonly Float64Array[]): LabeledSet {
  const [lo, hi] = range(r);
  const names = mats[0] ? [...mats[0].names] : [];
  const F = names.length;
  if (rawLabels !== undefined) {
    if (rawLabels.length !== mats.length) throw new InputError(`${rawLabels.length} label series for ${mats.length} feature matrices`);
    mats.forEach((m, k) => {
      if (rawLabels[k]!.length !== m.rows) throw new InputError(`${m.symbol}: ${rawLabels[k]!.length} labels for ${m.rows} rows`);
    });
  }
  const labelOf = (k: number): Float64Array => rawLabels?.[k] ?? mats[k]!.label;
  let n = 0;
  mats.forEach((m, k) => {
    const lab = labelOf(k);
    for (let i = 0; i < m.rows; i++) if (m.day[i]! >= lo && m.day[i]! <= hi && Number.isFinite(lab[i]!)) n++;
  });
  const X = new Float64Array(n * F);
  const raw = new Float64Array(n);
  const next = new Float64Array(n);
  const day = new Int32Array(n);
  const symbol = new Array<string>(n);
  let at = 0;
  for (let k = 0; k < mats.length; k++) {
    const m = mats[k]!;
    const lab = labelOf(k);
    for (let i = 0; i < m.rows; i++) {
      const l = lab[i]!;
      if (!(m.day[i]! >= lo && m.day[i]! <= hi && Number.isFinite(l))) continue;
      const base = at * F;
      for (let f = 0; f < F; f++) {
        const v = m.values[f * m.rows + i]!;
        X[base + f] = Number.isFinite(v) ? v : NaN;
      }
      raw[at] = label === 'abs_return' ? Math.abs(l) : l;
      next[at] = m.label[i]!;
      day[at] = m.day[i]!;
      symbol[at] = m.symbol;
      at++;
    }
  }
  const y = zscoreByDate(raw, day);
  // Dates with one symbol have no cross-section: their label is NaN, drop those rows.
  let keep = 0;
  for (let i = 0; i < n; i++) if (Number.isFinite(y[i]!)) keep++;
  if (keep === n) return { X, y, nRows: n, nFeatures: F, featureNames: names, day, symbol, next };
  const X2 = new Float64Array(keep * F);
  const y2 = new Float64Array(keep);
  const n2 = new Float64Array(keep);
  const d2 = new Int32Array(keep);
  const s2 = new Array<string>(keep);
  let j = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(y[i]!)) continue;
    X2.set(X.subarray(i * F, (i + 1) * F), j * F);
    y2[j] = y[i]!;
    n2[j] = next[i]!;
    d2[j] = day[i]!;
    s2[j] = symbol[i]!;
    j++;
  }
  return { X: X2, y: y2, nRows: keep, nFeatures: F, featureNames: names, day: d2, symbol: s2, next: n2 };
}

/** (x − mean) / std per date (sample std); NaN where a date has fewer than 2 rows or no spread. */
export function zscoreByDate(x: Float64Array, day: Int32Array): Float64Array {
  const sum = new Map<number, [number, number, number]>();
  for (let i = 0; i < x.length; i++) {
    const a = sum.get(day[i]!) ?? [0, 0, 0];
    a[0]++;
    a[1] += x[i]!;
    a[2] += x[i]! * x[i]!;
    sum.set(day[i]!, a);
  }
  const stats = new Map<number, [number, number]>();
  for (const [d, [k, s, s2]] of sum) {
    const mean = s / k;
    const v = k > 1 ? Math.max(0, (s2 - k * mean * mean) / (k - 1)) : NaN;
    stats.set(d, [mean, Math.sqrt(v)]);
  }
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const [mean, sd] = stats.get(day[i]!)!;
    out[i] = sd > 0 ? (x[i]! - mean) / sd : NaN;
  }
  return out;
}
