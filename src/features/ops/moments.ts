import { checkOut, checkWindow, fillHead, outArray } from './util.js';

/**
 * Rolling Sum, Mean and Std (sample, ddof = 1) — Qlib's Sum/Mean/Std, pandas'
 * rolling(w, min_periods=w).sum()/.mean()/.std().
 *
 * O(n): running sums updated as the window slides and recomputed exactly from the window
 * every w rows, so rounding cannot accumulate over a long series.
 * - Sum and Mean use a compensated (Neumaier) running sum, like pandas' Kahan sum: a large
 *   value leaving the window does not leave its rounding error behind.
 * - The variance uses sums of deviations from a shift K = the window mean at the last
 *   recompute: var = (Σ(x-K)² - (Σ(x-K))²/w) / (w-1). Its rounding error is about
 *   ε·w·max Σ(x-K)² since the last recompute; when that peak exceeds RECENTER × Σ(x-x̄)²
 *   (the window's spread collapsed far below what the sums held, e.g. after a spike left)
 *   the sums are recomputed exactly around the current mean. Prices around 1e4 keep full precision, and a negative rounding
 *   residue is clamped to 0, so Std is never negative or NaN on finite input.
 * - Like pandas, a window whose w values are all identical is detected exactly (run length
 *   of equal values ≥ w) and returns Mean = that value, Std = 0, Sum = value·w.
 *
 * NaN or ±Infinity inside the window → NaN (see util.ts). Std with w = 1 is NaN (ddof 1).
 */

/**
 * Recompute the shifted sums when their peak Σ(x-K)² since the last recompute exceeds this
 * multiple of Σ(x-x̄)²: keeps the relative error of the variance below about
 * w·ε·RECENTER ≈ 1e-10 for w = 60. Shared with regression.ts and pairwise.ts.
 */
export const RECENTER = 1e4;

/** Fused rolling mean and sample std of the same series and window; either output may be null. */
export function rollingMeanStd(
  x: Float64Array,
  w: number,
  outMean: Float64Array | null,
  outStd: Float64Array | null,
): void {
  checkWindow(w, 'Mean/Std');
  const n = x.length;
  checkOut(outMean, n, 'Mean');
  checkOut(outStd, n, 'Std');
  const first = w - 1;
  fillHead(outMean, first);
  fillHead(outStd, first);
  if (n < w) return;
  let lastBad = -1;
  let runStart = 0;
  for (let j = 0; j < first; j++) {
    const v = x[j]!;
    if (v - v !== 0) lastBad = j;
    if (j > 0 && v !== x[j - 1]) runStart = j;
  }
  let s = 0; // Σx, Neumaier-compensated by c
  let c = 0;
  let s1 = 0; // Σ(x-K)
  let s2 = 0; // Σ(x-K)²
  let peak = 0; // largest s2 since the last exact recompute: bounds its accumulated rounding error
  let k = 0;
  let nextRecompute = first;
  const wm1 = w - 1;
  for (let i = first; i < n; i++) {
    const v = x[i]!;
    const fin = v - v === 0;
    if (!fin) lastBad = i;
    if (i > 0 && v !== x[i - 1]) runStart = i;
    const lo = i - first;
    if (i === nextRecompute) {
      s = 0;
      c = 0;
      let m = 0;
      for (let j = lo; j <= i; j++) {
        const u = x[j]!;
        if (u - u === 0) {
          const t = s + u;
          c += Math.abs(s) >= Math.abs(u) ? s - t + u : u - t + s;
          s = t;
          m++;
        }
      }
      if (m > 0) k = (s + c) / m;
      s1 = 0;
      s2 = 0;
      for (let j = lo; j <= i; j++) {
        const u = x[j]!;
        if (u - u === 0) {
          const e = u - k;
          s1 += e;
          s2 += e * e;
        }
      }
      peak = s2;
      nextRecompute = i + w;
    } else {
      const u = x[i - w]!;
      if (u - u === 0) {
        const t = s - u;
        c += Math.abs(s) >= Math.abs(u) ? s - t - u : -u - t + s;
        s = t;
        const e = u - k;
        s1 -= e;
        s2 -= e * e;
      }
      if (fin) {
        const t = s + v;
        c += Math.abs(s) >= Math.abs(v) ? s - t + v : v - t + s;
        s = t;
        const e = v - k;
        s1 += e;
        s2 += e * e;
      }
      if (s2 > peak) peak = s2;
    }
    if (lastBad >= lo) {
      if (outMean !== null) outMean[i] = NaN;
      if (outStd !== null) outStd[i] = NaN;
    } else if (runStart <= lo) {
      if (outMean !== null) outMean[i] = v;
      if (outStd !== null) outStd[i] = wm1 > 0 ? 0 : NaN;
    } else {
      if (outMean !== null) outMean[i] = (s + c) / w;
      if (outStd !== null) {
        let ss = s2 - (s1 * s1) / w;
        if (ss * RECENTER < peak) {
          // Spread ≪ distance to K: recenter on the current window (exact, O(w), rare).
          k = (s + c) / w;
          s1 = 0;
          s2 = 0;
          for (let j = lo; j <= i; j++) {
            const e = x[j]! - k;
            s1 += e;
            s2 += e * e;
          }
          ss = s2 - (s1 * s1) / w;
          peak = s2;
        }
        outStd[i] = ss > 0 ? Math.sqrt(ss / wm1) : 0;
      }
    }
  }
}

/** Mean(x, w): rolling arithmetic mean. */
export function rollingMean(x: Float64Array, w: number, out?: Float64Array): Float64Array {
  const o = outArray(out, x.length, 'Mean');
  rollingMeanStd(x, w, o, null);
  return o;
}

/** Std(x, w): rolling sample standard deviation (ddof = 1). */
export function rollingStd(x: Float64Array, w: number, out?: Float64Array): Float64Array {
  const o = outArray(out, x.length, 'Std');
  rollingMeanStd(x, w, null, o);
  return o;
}

/** Sum(x, w): rolling sum (compensated). */
export function rollingSum(x: Float64Array, w: number, out?: Float64Array): Float64Array {
  checkWindow(w, 'Sum');
  const n = x.length;
  const o = outArray(out, n, 'Sum');
  const first = w - 1;
  fillHead(o, first);
  if (n < w) return o;
  let lastBad = -1;
  let runStart = 0;
  for (let j = 0; j < first; j++) {
    const v = x[j]!;
    if (v - v !== 0) lastBad = j;
    if (j > 0 && v !== x[j - 1]) runStart = j;
  }
  let s = 0;
  let c = 0;
  let nextRecompute = first;
  for (let i = first; i < n; i++) {
    const v = x[i]!;
    const fin = v - v === 0;
    if (!fin) lastBad = i;
    if (i > 0 && v !== x[i - 1]) runStart = i;
    const lo = i - first;
    if (i === nextRecompute) {
      s = 0;
      c = 0;
      for (let j = lo; j <= i; j++) {
        const u = x[j]!;
        if (u - u === 0) {
          const t = s + u;
          c += Math.abs(s) >= Math.abs(u) ? s - t + u : u - t + s;
          s = t;
        }
      }
      nextRecompute = i + w;
    } else {
      const u = x[i - w]!;
      if (u - u === 0) {
        const t = s - u;
        c += Math.abs(s) >= Math.abs(u) ? s - t - u : -u - t + s;
        s = t;
      }
      if (fin) {
        const t = s + v;
        c += Math.abs(s) >= Math.abs(v) ? s - t + v : v - t + s;
        s = t;
      }
    }
    if (lastBad >= lo) o[i] = NaN;
    else if (runStart <= lo) o[i] = v * w;
    else o[i] = s + c;
  }
  return o;
}
