import { RECENTER } from './moments.js';
import { checkOut, checkWindow, fillHead, outArray } from './util.js';

/**
 * Rolling OLS of the window's values y on x = 1..N (oldest = 1, newest = N) — Qlib's
 * Slope, Rsquare and Resi (qlib/data/_libs/rolling.pyx):
 *   Slope   = Σ(x-x̄)(y-ȳ) / Σ(x-x̄)²                     with x̄ = (N+1)/2, Σ(x-x̄)² = N(N²-1)/12
 *   Rsquare = [Σ(x-x̄)(y-ȳ)]² / (Σ(x-x̄)² · Σ(y-ȳ)²)     (squared Pearson r of x and y)
 *   Resi    = y_N - (ȳ + Slope·(N - x̄))                  (residual of the newest point)
 *
 * O(n): Σy' and Σk·y' (k = position in the window) slide in O(1) — dropping the oldest
 * point lowers every position by one, i.e. Σk·y' -= Σy' — and Σy'² for Rsquare; y' = y - K
 * with K the window mean at the last exact recompute (every N rows, or sooner when the
 * window's spread collapses far below its distance to K, see RECENTER in moments.ts), so
 * prices around 1e4 keep full precision.
 *
 * A constant window gives Slope = 0, Resi = 0 and Rsquare = NaN (0/0, as in Qlib). Qlib
 * additionally sets Rsquare to NaN where the rolling std is within 2e-5 of 0
 * (`np.isclose(std, 0, atol=2e-05)` in ops.py); pass `minStd: 2e-5` for that. Rsquare is
 * clamped to ≤ 1. N = 1 gives NaN (no regression through one point).
 * NaN or ±Infinity inside the window → NaN (see util.ts).
 */

export interface RegressionOptions {
  /** Rsquare is NaN where the window's sample std ≤ minStd (default 0: only zero variance). */
  minStd?: number;
}

/** Fused rolling Slope / Rsquare / Resi; any output may be null. */
export function rollingRegression(
  y: Float64Array,
  w: number,
  outSlope: Float64Array | null,
  outRsq: Float64Array | null,
  outResi: Float64Array | null,
  opts: RegressionOptions = {},
): void {
  checkWindow(w, 'Slope/Rsquare/Resi');
  const n = y.length;
  checkOut(outSlope, n, 'Slope');
  checkOut(outRsq, n, 'Rsquare');
  checkOut(outResi, n, 'Resi');
  const minStd = opts.minStd ?? 0;
  const first = w - 1;
  fillHead(outSlope, first);
  fillHead(outRsq, first);
  fillHead(outResi, first);
  if (n < w) return;
  const xbar = (w + 1) / 2;
  const sxx = (w * (w * w - 1)) / 12;
  const tail = w - xbar; // x_N - x̄
  const minSs = minStd > 0 ? minStd * minStd * (w - 1) : 0; // std ≤ minStd  ⇔  Σ(y-ȳ)² ≤ minStd²·(w-1)
  let lastBad = -1;
  let runStart = 0;
  for (let j = 0; j < first; j++) {
    const v = y[j]!;
    if (v - v !== 0) lastBad = j;
    if (j > 0 && v !== y[j - 1]) runStart = j;
  }
  let s1 = 0; // Σ y'
  let s2 = 0; // Σ y'²
  let sky = 0; // Σ k·y', k = 1..w
  let peak = 0; // largest s2 since the last exact recompute (see RECENTER)
  let k = 0;
  let nextRecompute = first;
  for (let i = first; i < n; i++) {
    const v = y[i]!;
    const fin = v - v === 0;
    if (!fin) lastBad = i;
    if (i > 0 && v !== y[i - 1]) runStart = i;
    const lo = i - first;
    if (i === nextRecompute) {
      k = finiteMean(y, lo, i, k);
      s1 = 0;
      s2 = 0;
      sky = 0;
      for (let j = lo; j <= i; j++) {
        const u = y[j]!;
        if (u - u === 0) {
          const e = u - k;
          s1 += e;
          s2 += e * e;
          sky += (j - lo + 1) * e;
        }
      }
      peak = s2;
      nextRecompute = i + w;
    } else {
      const u = y[i - w]!;
      sky -= s1; // every point moves one position back; the leaving one lands on k = 0
      if (u - u === 0) {
        const e = u - k;
        s1 -= e;
        s2 -= e * e;
      }
      if (fin) {
        const e = v - k;
        s1 += e;
        s2 += e * e;
        sky += w * e;
      }
      if (s2 > peak) peak = s2;
    }
    if (lastBad >= lo || w < 2) {
      if (outSlope !== null) outSlope[i] = NaN;
      if (outRsq !== null) outRsq[i] = NaN;
      if (outResi !== null) outResi[i] = NaN;
    } else if (runStart <= lo) {
      if (outSlope !== null) outSlope[i] = 0;
      if (outRsq !== null) outRsq[i] = NaN;
      if (outResi !== null) outResi[i] = 0;
    } else {
      if ((s2 - (s1 * s1) / w) * RECENTER < peak) {
        // Spread ≪ distance to K: recenter on the current window (exact, O(w), rare).
        k = finiteMean(y, lo, i, k);
        s1 = 0;
        s2 = 0;
        sky = 0;
        for (let j = lo; j <= i; j++) {
          const e = y[j]! - k;
          s1 += e;
          s2 += e * e;
          sky += (j - lo + 1) * e;
        }
        peak = s2;
      }
      const sxy = sky - xbar * s1;
      const slope = sxy / sxx;
      if (outSlope !== null) outSlope[i] = slope;
      if (outResi !== null) outResi[i] = v - k - (s1 / w + slope * tail);
      if (outRsq !== null) {
        const syy = s2 - (s1 * s1) / w;
        if (syy <= minSs) outRsq[i] = NaN;
        else {
          const r2 = (sxy * sxy) / (sxx * syy);
          outRsq[i] = r2 > 1 ? 1 : r2;
        }
      }
    }
  }
}

/** Mean of the finite values of y[lo..hi], or `dflt` when there are none. */
export function finiteMean(y: Float64Array, lo: number, hi: number, dflt: number): number {
  let s = 0;
  let m = 0;
  for (let j = lo; j <= hi; j++) {
    const u = y[j]!;
    if (u - u === 0) {
      s += u;
      m++;
    }
  }
  return m > 0 ? s / m : dflt;
}

/** Slope(y, w): OLS slope of the window on x = 1..w. */
export function rollingSlope(y: Float64Array, w: number, out?: Float64Array): Float64Array {
  const o = outArray(out, y.length, 'Slope');
  rollingRegression(y, w, o, null, null);
  return o;
}

/** Rsquare(y, w): R² of the window's OLS fit on x = 1..w. */
export function rollingRsquare(y: Float64Array, w: number, out?: Float64Array, opts?: RegressionOptions): Float64Array {
  const o = outArray(out, y.length, 'Rsquare');
  rollingRegression(y, w, null, o, null, opts);
  return o;
}

/** Resi(y, w): residual of the newest point of the window's OLS fit on x = 1..w. */
export function rollingResi(y: Float64Array, w: number, out?: Float64Array): Float64Array {
  const o = outArray(out, y.length, 'Resi');
  rollingRegression(y, w, null, null, o);
  return o;
}
