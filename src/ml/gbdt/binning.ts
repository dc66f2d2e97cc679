/**
 * Quantile binning of a row-major Float64 feature matrix into Uint8 bin ids.
 *
 * Per feature the bin boundaries are found from a sample of rows (LightGBM's greedy, distinct-value
 * aware algorithm): when a feature has at most `maxBin` distinct values each gets its own bin, otherwise
 * frequent values get their own bin and the rest are grouped into bins of about equal counts. Value bin
 * `b` holds `upper[b-1] < x <= upper[b]` (the last upper bound is +Infinity), so a split "bin <= b" is the
 * same as "x <= upper[b]" on raw values. One extra bin, `nValueBins[j]`, holds missing values: NaN and
 * ±Infinity.
 */
import { Rng, mixSeed, sampleSorted } from './rng.js';

export interface Binning {
  readonly nFeatures: number;
  /** Number of value bins per feature (1..maxBin); the missing bin of feature j is `nValueBins[j]`. */
  readonly nValueBins: Int32Array;
  /** Upper bounds of all features' value bins, concatenated; feature j's start at `boundsOffset[j]`. */
  readonly bounds: Float64Array;
  readonly boundsOffset: Int32Array;
}

/** Bytes per row of a binned matrix: the feature count rounded up to a multiple of 4 (word-aligned rows). */
export function rowStrideFor(nFeatures: number): number {
  return (nFeatures + 3) & ~3;
}

/** Upper bound of value bin `bin` of `feature`. */
export function binUpperBound(binning: Binning, feature: number, bin: number): number {
  return binning.bounds[binning.boundsOffset[feature] + bin];
}

/** The upper bounds of one feature's value bins (a view). */
export function featureBounds(binning: Binning, feature: number): Float64Array {
  const o = binning.boundsOffset[feature];
  return binning.bounds.subarray(o, o + binning.nValueBins[feature]);
}

/** Midpoint of a < b that is >= a and < b even when a and b are adjacent doubles. */
function between(a: number, b: number): number {
  const m = a / 2 + b / 2;
  return m >= a && m < b ? m : a;
}

/**
 * Upper bounds of the value bins for one feature from its sorted finite sample values
 * (last bound +Infinity; a feature without finite values gets a single bin).
 */
export function findBinBounds(sorted: Float64Array, maxBin: number): Float64Array {
  const n = sorted.length;
  if (n === 0) return Float64Array.of(Infinity);
  // Distinct values and their counts.
  let nd = 1;
  for (let i = 1; i < n; i++) if (sorted[i] !== sorted[i - 1]) nd++;
  const distinct = new Float64Array(nd);
  const counts = new Int32Array(nd);
  distinct[0] = sorted[0];
  let d = 0;
  for (let i = 0; i < n; i++) {
    if (sorted[i] !== distinct[d]) distinct[++d] = sorted[i];
    counts[d]++;
  }

  if (nd <= maxBin) {
    const out = new Float64Array(nd);
    for (let i = 0; i < nd - 1; i++) out[i] = between(distinct[i], distinct[i + 1]);
    out[nd - 1] = Infinity;
    return out;
  }

  // LightGBM's GreedyFindBin: values at least as frequent as a mean bin get their own bin.
  let meanBinSize = n / maxBin;
  const isBig = new Uint8Array(nd);
  let restBinCnt = maxBin;
  let restSampleCnt = n;
  for (let i = 0; i < nd; i++) {
    if (counts[i] >= meanBinSize) {
      isBig[i] = 1;
      restBinCnt--;
      restSampleCnt -= counts[i];
    }
  }
  meanBinSize = restBinCnt > 0 ? restSampleCnt / restBinCnt : Infinity;
  const upper = new Float64Array(maxBin);
  const lower = new Float64Array(maxBin + 1);
  let nUpper = 0;
  lower[0] = distinct[0];
  let cur = 0;
  for (let i = 0; i < nd - 1; i++) {
    if (!isBig[i]) restSampleCnt -= counts[i];
    cur += counts[i];
    if (isBig[i] || cur >= meanBinSize || (isBig[i + 1] && cur >= Math.max(1, meanBinSize * 0.5))) {
      upper[nUpper] = distinct[i];
      lower[++nUpper] = distinct[i + 1];
      if (nUpper >= maxBin - 1) break;
      cur = 0;
      if (!isBig[i]) {
        restBinCnt--;
        meanBinSize = restBinCnt > 0 ? restSampleCnt / restBinCnt : Infinity;
      }
    }
  }
  const nb = nUpper + 1;
  const out = new Float64Array(nb);
  for (let i = 0; i < nb - 1; i++) out[i] = between(upper[i], lower[i + 1]);
  out[nb - 1] = Infinity;
  return out;
}

/** Rows of X sampled to find bin boundaries (all rows, in order, when nRows <= sampleCount). */
export function binningSampleRows(nRows: number, sampleCount: number, seed: number): Int32Array | null {
  if (nRows <= sampleCount) return null;
  const rows = new Int32Array(sampleCount);
  sampleSorted(nRows, sampleCount, new Rng(mixSeed(seed, 1)), rows);
  return rows;
}

/**
 * Copies the finite values of columns [j0, j1) of the sampled rows into `cols` (column k − j0 starts at
 * (k − j0) · stride) and their counts into `counts`.
 */
export function gatherColumns(X: Float64Array, nFeatures: number, rows: Int32Array | null, nSample: number, j0: number, j1: number, cols: Float64Array, stride: number, counts: Int32Array): void {
  counts.fill(0, 0, j1 - j0);
  for (let s = 0; s < nSample; s++) {
    const base = (rows ? rows[s] : s) * nFeatures;
    for (let j = j0; j < j1; j++) {
      const v = X[base + j];
      if (v - v === 0) cols[(j - j0) * stride + counts[j - j0]++] = v; // finite only
    }
  }
}

/** Sorts gathered columns [k0, k1) in place and writes their bounds (padded layout) and value-bin counts. */
export function boundsOfColumns(
  cols: Float64Array,
  stride: number,
  counts: Int32Array,
  k0: number,
  k1: number,
  featureOfColumn: number,
  maxBin: number,
  padded: Float64Array,
  nValueBins: Int32Array,
): void {
  for (let k = k0; k < k1; k++) {
    const vals = cols.subarray(k * stride, k * stride + counts[k]);
    vals.sort();
    const b = findBinBounds(vals, maxBin);
    const f = featureOfColumn + k;
    padded.fill(Infinity, f * PAD, (f + 1) * PAD);
    padded.set(b, f * PAD);
    nValueBins[f] = b.length;
  }
}

/** Value bins are searched in per-feature blocks of 256 upper bounds padded with +Infinity. */
export const PAD = 256;

/** A Binning from padded per-feature bounds (see {@link PAD}). */
export function binningFromPadded(padded: Float64Array, nValueBins: Int32Array): Binning {
  const perFeature: Float64Array[] = [];
  for (let f = 0; f < nValueBins.length; f++) perFeature.push(padded.slice(f * PAD, f * PAD + nValueBins[f]));
  return makeBinning(perFeature);
}

/** Bounds of a Binning in the padded layout. */
export function paddedBounds(binning: Binning, shared = false): Float64Array {
  const F = binning.nFeatures;
  const out = new Float64Array(shared ? new SharedArrayBuffer(F * PAD * 8) : new ArrayBuffer(F * PAD * 8));
  out.fill(Infinity);
  for (let f = 0; f < F; f++) out.set(featureBounds(binning, f), f * PAD);
  return out;
}

/**
 * Bins `nRows` rows of X (starting at row `xRow` of X) into `out` starting at row `outRow`, with a
 * branch-free binary search over padded bounds (8 steps; the comparisons become integers, not jumps).
 */
export function binRowsPadded(X: Float64Array, xRow: number, nFeatures: number, padded: Float64Array, nValueBins: Int32Array, out: Uint8Array, outRow: number, nRows: number): void {
  const stride = rowStrideFor(nFeatures);
  for (let r = 0; r < nRows; r++) {
    const xb = (xRow + r) * nFeatures;
    const ob = (outRow + r) * stride;
    for (let j = 0; j < nFeatures; j++) {
      const v = X[xb + j];
      if (v - v !== 0) {
        out[ob + j] = nValueBins[j];
        continue;
      }
      const b = j * PAD;
      let lo = 0;
      lo |= +(v > padded[b + (lo | 127)]) << 7;
      lo |= +(v > padded[b + (lo | 63)]) << 6;
      lo |= +(v > padded[b + (lo | 31)]) << 5;
      lo |= +(v > padded[b + (lo | 15)]) << 4;
      lo |= +(v > padded[b + (lo | 7)]) << 3;
      lo |= +(v > padded[b + (lo | 3)]) << 2;
      lo |= +(v > padded[b + (lo | 1)]) << 1;
      lo |= +(v > padded[b + lo]);
      out[ob + j] = lo;
    }
  }
}

export interface FitBinningOptions {
  maxBin: number;
  /** Rows sampled to find the boundaries (all rows when nRows <= sampleCount). */
  sampleCount: number;
  seed: number;
}

/** Finds the bin boundaries of every feature from (a sample of) the rows of X (single thread). */
export function fitBinning(X: Float64Array, nRows: number, nFeatures: number, opts: FitBinningOptions): Binning {
  const rows = binningSampleRows(nRows, opts.sampleCount, opts.seed);
  const nSample = rows ? rows.length : nRows;
  const BLOCK = Math.min(16, nFeatures);
  const cols = new Float64Array(BLOCK * nSample);
  const counts = new Int32Array(BLOCK);
  const padded = new Float64Array(nFeatures * PAD);
  const nValueBins = new Int32Array(nFeatures);
  for (let j0 = 0; j0 < nFeatures; j0 += BLOCK) {
    const j1 = Math.min(nFeatures, j0 + BLOCK);
    gatherColumns(X, nFeatures, rows, nSample, j0, j1, cols, nSample, counts);
    boundsOfColumns(cols, nSample, counts, 0, j1 - j0, j0, opts.maxBin, padded, nValueBins);
  }
  return binningFromPadded(padded, nValueBins);
}

/** Assembles a Binning from per-feature upper bounds (each ascending, ending with +Infinity). */
export function makeBinning(perFeature: Float64Array[]): Binning {
  const nFeatures = perFeature.length;
  const nValueBins = new Int32Array(nFeatures);
  const boundsOffset = new Int32Array(nFeatures);
  let total = 0;
  for (let j = 0; j < nFeatures; j++) {
    boundsOffset[j] = total;
    nValueBins[j] = perFeature[j].length;
    total += perFeature[j].length;
  }
  const bounds = new Float64Array(total);
  for (let j = 0; j < nFeatures; j++) bounds.set(perFeature[j], boundsOffset[j]);
  return { nFeatures, nValueBins, bounds, boundsOffset };
}

/** Bin id of one value of `feature`. */
export function binValue(binning: Binning, feature: number, v: number): number {
  const nv = binning.nValueBins[feature];
  if (v - v !== 0) return nv;
  const b = binning.bounds;
  let lo = binning.boundsOffset[feature];
  let hi = lo + nv - 1;
  const o = lo;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v <= b[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo - o;
}

/** Bins a whole matrix into a new (optionally shared) row-major Uint8 matrix with padded rows (single thread). */
export function binMatrix(X: Float64Array, nRows: number, nFeatures: number, binning: Binning, shared = false): Uint8Array {
  const bytes = nRows * rowStrideFor(nFeatures);
  const out = new Uint8Array(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  binRowsPadded(X, 0, nFeatures, paddedBounds(binning), binning.nValueBins, out, 0, nRows);
  return out;
}
