/**
 * Evaluation metrics for cross-sectional return predictions: MSE, and per-date (group) Pearson IC and
 * Spearman rank IC with their mean, standard deviation and ICIR (mean / std of the daily ICs).
 *
 * Pairs where the prediction or the label is NaN are dropped. A date with fewer than 2 pairs, or where
 * either side is constant, has no IC (NaN) and is left out of the summary (as pandas' mean/std skip NaN).
 * The standard deviation is the sample one (n − 1), as pandas computes it.
 */
import { InputError } from '../core/errors.js';

type Numbers = ArrayLike<number>;

function checkLengths(pred: Numbers, label: Numbers, groups?: Numbers): void {
  if (pred.length !== label.length) throw new InputError(`predictions (${pred.length}) and labels (${label.length}) differ in length`);
  if (groups && groups.length !== pred.length) throw new InputError(`group ids (${groups.length}) and predictions (${pred.length}) differ in length`);
}

/** Mean squared error over the pairs where both values are numbers. */
export function mse(pred: Numbers, label: Numbers): number {
  checkLengths(pred, label);
  let s = 0;
  let n = 0;
  for (let i = 0; i < pred.length; i++) {
    const d = pred[i] - label[i];
    if (d === d) {
      s += d * d;
      n++;
    }
  }
  return n > 0 ? s / n : NaN;
}

/** Pearson correlation; NaN when fewer than 2 values or either side is constant. */
export function pearson(a: Numbers, b: Numbers): number {
  checkLengths(a, b);
  const n = a.length;
  if (n < 2) return NaN;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : NaN;
}

/** Ranks 1..n with ties given their average rank. */
export function averageRanks(x: Numbers): Float64Array {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => x[i] - x[j]);
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && x[order[j + 1]] === x[order[i]]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]] = r;
    i = j + 1;
  }
  return ranks;
}

/** Spearman rank correlation (Pearson on average ranks). */
export function spearman(a: Numbers, b: Numbers): number {
  checkLengths(a, b);
  return pearson(averageRanks(a), averageRanks(b));
}

export interface IcStats {
  /** Mean of the daily ICs that are defined. */
  mean: number;
  /** Sample standard deviation of the daily ICs. */
  std: number;
  /** mean / std. */
  icir: number;
}

export interface DailyIc {
  /** Distinct group ids, ascending. */
  groups: number[];
  /** Pairs used per group. */
  counts: Int32Array;
  ic: Float64Array;
  rankIc: Float64Array;
}

/** Pearson IC and Spearman rank IC of each date group. */
export function dailyIc(pred: Numbers, label: Numbers, groups: Numbers): DailyIc {
  checkLengths(pred, label, groups);
  const byGroup = new Map<number, number[]>();
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i];
    const l = label[i];
    if (p !== p || l !== l) continue;
    const g = groups[i];
    let rows = byGroup.get(g);
    if (!rows) byGroup.set(g, (rows = []));
    rows.push(i);
  }
  const ids = [...byGroup.keys()].sort((a, b) => a - b);
  const ic = new Float64Array(ids.length);
  const rankIc = new Float64Array(ids.length);
  const counts = new Int32Array(ids.length);
  ids.forEach((g, k) => {
    const rows = byGroup.get(g)!;
    const p = rows.map((i) => pred[i]);
    const l = rows.map((i) => label[i]);
    counts[k] = rows.length;
    ic[k] = pearson(p, l);
    rankIc[k] = spearman(p, l);
  });
  return { groups: ids, counts, ic, rankIc };
}

/** Mean, sample std and ICIR of a series of daily ICs (NaN entries skipped). */
export function icStats(daily: Numbers): IcStats {
  const v: number[] = [];
  for (let i = 0; i < daily.length; i++) if (daily[i] === daily[i]) v.push(daily[i]);
  const n = v.length;
  const m = n > 0 ? v.reduce((s, x) => s + x, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(v.reduce((s, x) => s + (x - m) * (x - m), 0) / (n - 1)) : NaN;
  return { mean: m, std, icir: std > 0 ? m / std : NaN };
}

export interface IcSummary {
  ic: IcStats;
  rankIc: IcStats;
  daily: DailyIc;
}

/** Daily IC and rank IC with their mean, std and ICIR. */
export function icSummary(pred: Numbers, label: Numbers, groups: Numbers): IcSummary {
  const daily = dailyIc(pred, label, groups);
  return { ic: icStats(daily.ic), rankIc: icStats(daily.rankIc), daily };
}

/**
 * Share of rows whose prediction equals another row's on the same date (NaN predictions skipped).
 * A model with few distinct scores (a tree or two) ties most names, and whatever breaks the ties
 * then picks the book: a share near 1 means a weak model.
 */
export function tieShare(pred: Numbers, groups: Numbers): number {
  checkLengths(pred, pred, groups);
  const perDate = new Map<number, Map<number, number>>();
  let n = 0;
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i];
    if (p !== p) continue;
    n++;
    let counts = perDate.get(groups[i]);
    if (!counts) perDate.set(groups[i], (counts = new Map()));
    counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  let tied = 0;
  for (const counts of perDate.values()) for (const c of counts.values()) if (c > 1) tied += c;
  return n > 0 ? tied / n : NaN;
}
