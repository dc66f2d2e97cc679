/**
 * Helpers for the feature tests (no test-framework imports, so it also type-checks in builds).
 * Naive O(n·w) references: the window is copied and evaluated from scratch, NaN if the
 * window is not full or holds a non-finite value (sum-based) / a NaN (order-based).
 */

export const f64 = (xs: readonly number[]): Float64Array => Float64Array.from(xs);

/** Max |a-b| over rows where both are numbers; -1 when the NaN patterns differ. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -1;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Number.isNaN(x) !== Number.isNaN(y)) return -1;
    if (!Number.isNaN(x)) m = Math.max(m, Math.abs(x - y));
  }
  return m;
}

/** Relative version: |a-b| / max(1, |b|). */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -1;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Number.isNaN(x) !== Number.isNaN(y)) return -1;
    if (!Number.isNaN(x)) m = Math.max(m, Math.abs(x - y) / Math.max(1, Math.abs(y)));
  }
  return m;
}

export function naiveRolling(
  x: ArrayLike<number>,
  w: number,
  f: (win: number[]) => number,
  poison: (v: number) => boolean = (v) => !Number.isFinite(v),
): Float64Array {
  const out = new Float64Array(x.length).fill(NaN);
  for (let i = w - 1; i < x.length; i++) {
    const win = Array.from({ length: w }, (_, j) => x[i - w + 1 + j]!);
    out[i] = win.some(poison) ? NaN : f(win);
  }
  return out;
}

export const isNaNv = (v: number): boolean => Number.isNaN(v);

export const naive = {
  mean: (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length,
  sum: (a: number[]): number => a.reduce((s, v) => s + v, 0),
  std(a: number[]): number {
    if (a.length < 2) return NaN;
    const m = naive.mean(a);
    return Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / (a.length - 1));
  },
  max: (a: number[]): number => Math.max(...a),
  min: (a: number[]): number => Math.min(...a),
  idxMax(a: number[]): number {
    let k = 0;
    for (let j = 1; j < a.length; j++) if (a[j]! > a[k]!) k = j;
    return k + 1;
  },
  idxMin(a: number[]): number {
    let k = 0;
    for (let j = 1; j < a.length; j++) if (a[j]! < a[k]!) k = j;
    return k + 1;
  },
  /** pandas rolling quantile, linear interpolation. */
  quantile(a: number[], q: number): number {
    const s = [...a].sort((p, r) => p - r);
    const pos = q * (s.length - 1);
    const lo = Math.floor(pos);
    const frac = pos - lo;
    return frac === 0 ? s[lo]! : s[lo]! + (s[lo + 1]! - s[lo]!) * frac;
  },
  /** pandas rolling rank(pct=True), average ties. */
  rank(a: number[]): number {
    const v = a[a.length - 1]!;
    const lt = a.filter((u) => u < v).length;
    const eq = a.filter((u) => u === v).length;
    return (lt + (eq + 1) / 2) / a.length;
  },
  /** OLS on x = 1..N: [slope, rsquare, resi]. */
  ols(a: number[]): [number, number, number] {
    const n = a.length;
    const xm = (n + 1) / 2;
    const ym = naive.mean(a);
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let j = 0; j < n; j++) {
      sxy += (j + 1 - xm) * (a[j]! - ym);
      sxx += (j + 1 - xm) ** 2;
      syy += (a[j]! - ym) ** 2;
    }
    const slope = sxy / sxx;
    return [slope, (sxy * sxy) / (sxx * syy), a[n - 1]! - (ym + slope * (n - xm))];
  },
  corr(a: number[], b: number[]): number {
    const ma = naive.mean(a);
    const mb = naive.mean(b);
    let sab = 0;
    let saa = 0;
    let sbb = 0;
    for (let j = 0; j < a.length; j++) {
      sab += (a[j]! - ma) * (b[j]! - mb);
      saa += (a[j]! - ma) ** 2;
      sbb += (b[j]! - mb) ** 2;
    }
    return sab / Math.sqrt(saa * sbb);
  },
};
