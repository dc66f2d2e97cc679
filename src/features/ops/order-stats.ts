import { InputError } from '../../core/errors.js';
import { checkOut, checkWindow, fillHead, outArray } from './util.js';

/**
 * Rolling Quantile and Rank — Qlib's Quantile (pandas `rolling(w).quantile(q)`, linear
 * interpolation) and Rank (pandas `rolling(w).rank(pct=True)`: percentile rank of the
 * newest value within its window, ties get their average rank).
 *
 *   Quantile: pos = q·(w-1), lo = ⌊pos⌋; v_lo + (v_lo+1 - v_lo)·(pos - lo)   (pandas' formula)
 *   Rank:     ((#less + 1 + #less-or-equal) / 2) / w
 *
 * Two exact implementations, same results:
 * - w ≤ 64 (every Alpha158 window): the window kept as a sorted Float64Array. Each step
 *   finds the leaving and the entering value by binary search (O(log w) comparisons) and
 *   shifts the values between the two positions by one slot (at most w moves, a bounded
 *   constant here); quantiles are then direct reads and the rank is the insertion position.
 * - w > 64: O(n log w). Rows are processed in blocks of B = w outputs. A block's windows
 *   span 2w - 1 rows; those values are sorted once (native Float64Array sort) so each row
 *   gets an integer rank id (binary search), and a Fenwick tree over the ids holds the
 *   window's multiset: insert / remove / k-th smallest / count-≤ are all O(log w), and
 *   sorting 2w - 1 values per w outputs is O(log w) per row as well.
 *
 * NaN inside the window → NaN (see util.ts); ±Infinity is ordered normally.
 */

let sortedBuf = new Float64Array(256);
let ridBuf = new Int32Array(256);
let bitBuf = new Int32Array(257);

function ensure(m: number): void {
  if (sortedBuf.length < m) {
    const cap = Math.max(m, sortedBuf.length * 2);
    sortedBuf = new Float64Array(cap);
    ridBuf = new Int32Array(cap);
    bitBuf = new Int32Array(cap + 1);
  }
}

/**
 * Fused rolling quantiles (one output per q in `qs`) and percentile rank of one series
 * and window. `outRank` may be null, `qs` may be empty.
 */
export function rollingOrderStats(
  x: Float64Array,
  w: number,
  qs: readonly number[],
  outQ: readonly Float64Array[],
  outRank: Float64Array | null,
): void {
  checkWindow(w, 'Quantile/Rank');
  const n = x.length;
  if (qs.length !== outQ.length) throw new InputError('Quantile: one output per quantile', 'bad_input');
  for (const q of qs) {
    if (!(q >= 0 && q <= 1)) throw new InputError(`Quantile: q must be in [0, 1], got ${q}`, 'bad_input');
  }
  for (const o of outQ) checkOut(o, n, 'Quantile');
  checkOut(outRank, n, 'Rank');
  const first = w - 1;
  for (const o of outQ) fillHead(o, first);
  fillHead(outRank, first);
  if (n < w) return;

  const nq = qs.length;
  const qLo = new Int32Array(nq);
  const qFrac = new Float64Array(nq);
  for (let t = 0; t < nq; t++) {
    const pos = qs[t]! * (w - 1);
    qLo[t] = Math.floor(pos);
    qFrac[t] = pos - qLo[t]!;
  }
  if (w <= SMALL_WINDOW) sortedWindow(x, w, qLo, qFrac, outQ, outRank);
  else fenwickBlocks(x, w, qLo, qFrac, outQ, outRank);
}

/** Largest window handled by the sorted-array path. */
const SMALL_WINDOW = 64;

function sortedWindow(
  x: Float64Array,
  w: number,
  qLo: Int32Array,
  qFrac: Float64Array,
  outQ: readonly Float64Array[],
  outRank: Float64Array | null,
): void {
  const n = x.length;
  const nq = qLo.length;
  ensure(w + 1);
  const a = sortedBuf; // the window's non-NaN values, ascending, a[0, cnt)
  let cnt = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    const old = i >= w ? x[i - w]! : NaN;
    let pos: number; // where v now sits (valid when v is not NaN)
    // r: index of one instance of the leaving value (lower bound), or -1 if nothing leaves.
    let r = -1;
    if (old === old) {
      let lo = 0;
      let hi = cnt;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (a[mid]! < old) lo = mid + 1;
        else hi = mid;
      }
      r = lo;
    }
    if (v === v) {
      // u: upper bound of v in the current contents (old still present).
      let lo = 0;
      let hi = cnt;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (a[mid]! <= v) lo = mid + 1;
        else hi = mid;
      }
      const u = lo;
      if (r < 0) {
        for (let j = cnt; j > u; j--) a[j] = a[j - 1]!;
        a[u] = v;
        pos = u;
        cnt++;
      } else if (u > r) {
        for (let j = r; j < u - 1; j++) a[j] = a[j + 1]!;
        a[u - 1] = v;
        pos = u - 1;
      } else {
        for (let j = r; j > u; j--) a[j] = a[j - 1]!;
        a[u] = v;
        pos = u;
      }
    } else {
      pos = -1;
      if (r >= 0) {
        for (let j = r; j < cnt - 1; j++) a[j] = a[j + 1]!;
        cnt--;
      }
    }
    if (i < w - 1) continue;
    if (cnt < w) {
      for (let t = 0; t < nq; t++) outQ[t]![i] = NaN;
      if (outRank !== null) outRank[i] = NaN;
      continue;
    }
    for (let t = 0; t < nq; t++) {
      const k = qLo[t]!;
      const frac = qFrac[t]!;
      const vlo = a[k]!;
      outQ[t]![i] = frac === 0 ? vlo : vlo + (a[k + 1]! - vlo) * frac;
    }
    if (outRank !== null) {
      // v was placed after every equal value: pos + 1 values are ≤ v. Count those < v.
      let lt = pos;
      if (pos > 0 && a[pos - 1] === v) {
        let lo = 0;
        let hi = pos;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (a[mid]! < v) lo = mid + 1;
          else hi = mid;
        }
        lt = lo;
      }
      outRank[i] = (lt + 1 + pos + 1) / 2 / w;
    }
  }
}

function fenwickBlocks(
  x: Float64Array,
  w: number,
  qLo: Int32Array,
  qFrac: Float64Array,
  outQ: readonly Float64Array[],
  outRank: Float64Array | null,
): void {
  const n = x.length;
  const nq = qLo.length;
  const first = w - 1;
  const B = w;
  ensure(B + w);
  const sorted = sortedBuf;
  const rid = ridBuf;
  const bit = bitBuf;

  for (let b0 = first; b0 < n; b0 += B) {
    const b1 = Math.min(n, b0 + B);
    const s0 = b0 - first;
    // Rank ids: position of the value's first occurrence in the block's sorted values.
    let m = 0;
    for (let j = s0; j < b1; j++) {
      const v = x[j]!;
      if (v === v) sorted[m++] = v;
    }
    sorted.subarray(0, m).sort();
    for (let j = s0; j < b1; j++) {
      const v = x[j]!;
      if (v !== v) {
        rid[j - s0] = -1;
        continue;
      }
      let a = 0;
      let b = m;
      while (a < b) {
        const mid = (a + b) >>> 1;
        if (sorted[mid]! < v) a = mid + 1;
        else b = mid;
      }
      rid[j - s0] = a;
    }
    bit.fill(0, 0, m + 1);
    let top = 1;
    while (top * 2 <= m) top *= 2;
    let cnt = 0; // finite values in the window
    for (let j = s0; j < b0; j++) {
      const r = rid[j - s0]!;
      if (r >= 0) {
        for (let p = r + 1; p <= m; p += p & -p) bit[p]!++;
        cnt++;
      }
    }
    for (let i = b0; i < b1; i++) {
      const r = rid[i - s0]!;
      if (r >= 0) {
        for (let p = r + 1; p <= m; p += p & -p) bit[p]!++;
        cnt++;
      }
      if (i > b0) {
        const ro = rid[i - w - s0]!;
        if (ro >= 0) {
          for (let p = ro + 1; p <= m; p += p & -p) bit[p]!--;
          cnt--;
        }
      }
      if (cnt < w) {
        for (let t = 0; t < nq; t++) outQ[t]![i] = NaN;
        if (outRank !== null) outRank[i] = NaN;
        continue;
      }
      for (let t = 0; t < nq; t++) {
        // k-th smallest (0-based) by binary lifting on the Fenwick tree.
        let kk = qLo[t]!;
        let pos = 0;
        for (let step = top; step > 0; step >>= 1) {
          const np = pos + step;
          if (np <= m && bit[np]! <= kk) {
            pos = np;
            kk -= bit[np]!;
          }
        }
        const vlo = sorted[pos]!;
        const frac = qFrac[t]!;
        if (frac === 0) {
          outQ[t]![i] = vlo;
          continue;
        }
        kk = qLo[t]! + 1;
        pos = 0;
        for (let step = top; step > 0; step >>= 1) {
          const np = pos + step;
          if (np <= m && bit[np]! <= kk) {
            pos = np;
            kk -= bit[np]!;
          }
        }
        const vhi = sorted[pos]!;
        outQ[t]![i] = vlo + (vhi - vlo) * frac;
      }
      if (outRank !== null) {
        // r ≥ 0 here (a NaN newest value would have made cnt < w).
        let le = 0; // values with id ≤ r, i.e. ≤ x[i]
        for (let p = r + 1; p > 0; p -= p & -p) le += bit[p]!;
        let lt = 0; // values with id < r, i.e. < x[i]
        for (let p = r; p > 0; p -= p & -p) lt += bit[p]!;
        outRank[i] = (lt + 1 + le) / 2 / w;
      }
    }
  }
}

/** Quantile(x, w, q): rolling q-quantile with linear interpolation (pandas default). */
export function rollingQuantile(x: Float64Array, w: number, q: number, out?: Float64Array): Float64Array {
  const o = outArray(out, x.length, 'Quantile');
  rollingOrderStats(x, w, [q], [o], null);
  return o;
}

/** Rank(x, w): percentile rank of the newest value in its window, average ties (pandas rank(pct=True)). */
export function rollingRank(x: Float64Array, w: number, out?: Float64Array): Float64Array {
  const o = outArray(out, x.length, 'Rank');
  rollingOrderStats(x, w, [], [], o);
  return o;
}
