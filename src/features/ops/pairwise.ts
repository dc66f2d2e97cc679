import { RECENTER } from './moments.js';
import { finiteMean } from './regression.js';
import { checkWindow, outArray, sameLength } from './util.js';

/**
 * Rolling Corr(x, y, w): sample Pearson correlation of two series over the same window —
 * Qlib's Corr (pandas `x.rolling(w).corr(y)`).
 *
 * O(n): five running sums of shifted values x - Kx, y - Ky, with the shifts set to the
 * window means and the sums recomputed exactly every w rows, or sooner when a window's
 * spread collapses far below its distance to the shift (RECENTER, as in moments.ts).
 * The result is clamped to [-1, 1].
 * NaN when either window has zero variance (an exactly constant window is detected by run
 * length, otherwise Σ(x-x̄)² ≤ 0). Qlib also masks windows whose rolling std is within
 * 2e-5 of 0 (`np.isclose(std, 0, atol=2e-05)` in qlib/data/ops.py Corr); pass
 * `minStd: 2e-5` for that. A row where x or y is NaN or ±Infinity poisons every window
 * containing it (see util.ts).
 */

export interface CorrOptions {
  /** NaN where either window's sample std ≤ minStd (default 0: only zero variance). */
  minStd?: number;
}

export function rollingCorr(x: Float64Array, y: Float64Array, w: number, out?: Float64Array, opts: CorrOptions = {}): Float64Array {
  checkWindow(w, 'Corr');
  sameLength(x, y, 'Corr');
  const n = x.length;
  const o = outArray(out, n, 'Corr');
  const first = w - 1;
  o.fill(NaN, 0, Math.min(first, n));
  if (n < w) return o;
  const minStd = opts.minStd ?? 0;
  const minSs = minStd > 0 ? minStd * minStd * (w - 1) : 0;
  let lastBad = -1;
  let runX = 0;
  let runY = 0;
  for (let j = 0; j < first; j++) {
    const a = x[j]!;
    const b = y[j]!;
    if (a - a !== 0 || b - b !== 0) lastBad = j;
    if (j > 0) {
      if (a !== x[j - 1]) runX = j;
      if (b !== y[j - 1]) runY = j;
    }
  }
  let kx = 0;
  let ky = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  let peakX = 0; // largest sxx / syy since the last exact recompute (see RECENTER)
  let peakY = 0;
  let nextRecompute = first;
  for (let i = first; i < n; i++) {
    const a = x[i]!;
    const b = y[i]!;
    const fin = a - a === 0 && b - b === 0;
    if (!fin) lastBad = i;
    if (i > 0) {
      if (a !== x[i - 1]) runX = i;
      if (b !== y[i - 1]) runY = i;
    }
    const lo = i - first;
    let recompute = i === nextRecompute;
    if (!recompute) {
      const u = x[i - w]!;
      const v = y[i - w]!;
      if (u - u === 0 && v - v === 0) {
        const du = u - kx;
        const dv = v - ky;
        sx -= du;
        sy -= dv;
        sxx -= du * du;
        syy -= dv * dv;
        sxy -= du * dv;
      }
      if (fin) {
        const du = a - kx;
        const dv = b - ky;
        sx += du;
        sy += dv;
        sxx += du * du;
        syy += dv * dv;
        sxy += du * dv;
      }
      if (sxx > peakX) peakX = sxx;
      if (syy > peakY) peakY = syy;
      // Spread ≪ what the sums held, in a clean window: recenter (exact, O(w), rare).
      recompute = lastBad < lo && ((sxx - (sx * sx) / w) * RECENTER < peakX || (syy - (sy * sy) / w) * RECENTER < peakY);
    } else nextRecompute = i + w;
    if (recompute) {
      kx = finiteMean(x, lo, i, kx);
      ky = finiteMean(y, lo, i, ky);
      sx = 0;
      sy = 0;
      sxx = 0;
      syy = 0;
      sxy = 0;
      for (let j = lo; j <= i; j++) {
        const u = x[j]!;
        const v = y[j]!;
        if (u - u === 0 && v - v === 0) {
          const du = u - kx;
          const dv = v - ky;
          sx += du;
          sy += dv;
          sxx += du * du;
          syy += dv * dv;
          sxy += du * dv;
        }
      }
      peakX = sxx;
      peakY = syy;
    }
    if (lastBad >= lo || w < 2 || runX <= lo || runY <= lo) {
      o[i] = NaN;
      continue;
    }
    const vx = sxx - (sx * sx) / w;
    const vy = syy - (sy * sy) / w;
    if (vx <= minSs || vy <= minSs) {
      o[i] = NaN;
      continue;
    }
    const r = (sxy - (sx * sy) / w) / Math.sqrt(vx * vy);
    o[i] = r > 1 ? 1 : r < -1 ? -1 : r;
  }
  return o;
}
