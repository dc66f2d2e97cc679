/**
 * Split finding on gradient/hessian histograms, with LightGBM's regularised formulas:
 *
 *   T(G)        = sign(G) · max(0, |G| − λ1)          (L1 soft-thresholding)
 *   leaf output = −T(G) / (H + λ2)
 *   leaf gain   = T(G)² / (H + λ2)
 *   split gain  = gain(left) + gain(right) − gain(parent) − min_gain_to_split   (must be > 0)
 *
 * A feature's histogram is `nValueBins + 1` (gradient, hessian) pairs; the last pair is the missing bin.
 * Thresholds are scanned left to right, once with the missing rows sent right and once sent left, so the
 * default direction for missing values is learned. Counts are estimated from hessians as LightGBM does
 * (exact when every row's hessian is the same, as for l2 and huber).
 */

export interface SplitParams {
  lambdaL1: number;
  lambdaL2: number;
  minDataInLeaf: number;
  minSumHessianInLeaf: number;
  minGainToSplit: number;
}

/** Layout of a split result record (Float64Array slots). Right-child sums are parent − left. */
export const R_GAIN = 0;
export const R_FEATURE = 1;
export const R_BIN = 2;
export const R_DEFAULT_LEFT = 3;
export const R_LEFT_G = 4;
export const R_LEFT_H = 5;
export const R_LEFT_COUNT = 6;
export const R_SIZE = 8;

export function thresholdL1(s: number, l1: number): number {
  const a = Math.abs(s) - l1;
  return a > 0 ? (s > 0 ? a : -a) : 0;
}

export function leafOutput(sumG: number, sumH: number, l1: number, l2: number): number {
  const t = thresholdL1(sumG, l1);
  return t === 0 ? 0 : -t / (sumH + l2);
}

export function leafGain(sumG: number, sumH: number, l1: number, l2: number): number {
  const t = thresholdL1(sumG, l1);
  return t === 0 ? 0 : (t * t) / (sumH + l2);
}

/** Marks a result record as "no split". */
export function resetSplit(out: Float64Array, base: number): void {
  out[base + R_GAIN] = -Infinity;
  out[base + R_FEATURE] = -1;
  out[base + R_BIN] = 0;
  out[base + R_DEFAULT_LEFT] = 0;
  out[base + R_LEFT_G] = 0;
  out[base + R_LEFT_H] = 0;
  out[base + R_LEFT_COUNT] = 0;
}

/**
 * Best split of one feature, written to `out[base..]` if its gain (already net of the parent's gain and
 * min_gain_to_split) is strictly greater than the gain recorded there and > 0.
 *
 * @param hist  histogram array; the feature's pairs start at `off`
 * @param nv    number of value bins (the missing bin is `nv`)
 */
export function findBestSplitForFeature(
  hist: Float64Array,
  off: number,
  nv: number,
  feature: number,
  sumG: number,
  sumH: number,
  count: number,
  p: SplitParams,
  out: Float64Array,
  base: number,
): void {
  const l1 = p.lambdaL1;
  const l2 = p.lambdaL2;
  const minHess = p.minSumHessianInLeaf;
  const shift = leafGain(sumG, sumH, l1, l2) + p.minGainToSplit;
  const cntFactor = count / sumH;
  // Count constraints as bounds on the left hessian (no rounding per candidate):
  //   round(hl·cf) >= minData          ⟺ hl·cf >= minData − 0.5
  //   count − round(hl·cf) >= minData  ⟺ hl·cf <  count − minData + 0.5
  const minData = p.minDataInLeaf;
  const lowL = minData - 0.5;
  const highL = count - minData + 0.5;
  const gm = hist[off + 2 * nv];
  const hm = hist[off + 2 * nv + 1];
  const hasMissing = hm > 0;
  let best = out[base + R_GAIN];
  if (!(best > 0)) best = 0;
  // A candidate wins when tL²/dL + tR²/dR − shift > best, i.e. tL²·dR + tR²·dL > (best + shift)·dL·dR
  // (dL, dR > 0): no division in the scan.
  let bar = best + shift;
  let found = false;
  let bBin = 0;
  let bDefLeft = 0;
  let bG = 0;
  let bH = 0;
  let bNum = 0;
  let bDen = 1;
  let gl = 0;
  let hl = 0;
  let doneRight = false; // missing-right scan can no longer satisfy the right child's constraints
  let doneLeft = !hasMissing;
  const last = hasMissing ? nv : nv - 1; // with missing rows, "all values left, missing right" is a split
  for (let t = 0; t < last; t++) {
    const gb = hist[off + 2 * t];
    const hb = hist[off + 2 * t + 1];
    // An empty bin changes nothing: same candidates as the previous threshold.
    if (hb === 0 && gb === 0) continue;
    gl += gb;
    hl += hb;
    if (!doneRight) {
      // Missing rows go right.
      const hr = sumH - hl;
      const c = hl * cntFactor;
      if (c >= highL || hr < minHess) doneRight = true;
      else if (c >= lowL && hl >= minHess) {
        let a = Math.abs(gl) - l1;
        const tl2 = a > 0 ? a * a : 0;
        a = Math.abs(sumG - gl) - l1;
        const tr2 = a > 0 ? a * a : 0;
        const dl = hl + l2;
        const dr = hr + l2;
        const num = tl2 * dr + tr2 * dl;
        const den = dl * dr;
        if (num > bar * den) {
          bar = num / den;
          found = true;
          bBin = t;
          bDefLeft = 0;
          bG = gl;
          bH = hl;
          bNum = num;
          bDen = den;
        }
      }
    }
    if (!doneLeft && t < nv - 1) {
      // Missing rows go left.
      const gL = gl + gm;
      const hL = hl + hm;
      const hr = sumH - hL;
      const c = hL * cntFactor;
      if (c >= highL || hr < minHess) doneLeft = true;
      else if (c >= lowL && hL >= minHess) {
        let a = Math.abs(gL) - l1;
        const tl2 = a > 0 ? a * a : 0;
        a = Math.abs(sumG - gL) - l1;
        const tr2 = a > 0 ? a * a : 0;
        const dl = hL + l2;
        const dr = hr + l2;
        const num = tl2 * dr + tr2 * dl;
        const den = dl * dr;
        if (num > bar * den) {
          bar = num / den;
          found = true;
          bBin = t;
          bDefLeft = 1;
          bG = gL;
          bH = hL;
          bNum = num;
          bDen = den;
        }
      }
    }
    if (doneRight && doneLeft) break;
  }
  if (!found) return;
  const bC = Math.round(bH * cntFactor);
  const gain = bNum / bDen - shift;
  if (!(gain > best)) return; // rounding at the margin
  // Without missing rows in this node the default direction is free: send missing values to the larger child.
  if (!hasMissing) bDefLeft = bC >= count - bC ? 1 : 0;
  out[base + R_GAIN] = gain;
  out[base + R_FEATURE] = feature;
  out[base + R_BIN] = bBin;
  out[base + R_DEFAULT_LEFT] = bDefLeft;
  out[base + R_LEFT_G] = bG;
  out[base + R_LEFT_H] = bH;
  out[base + R_LEFT_COUNT] = bC;
}

/** Copies `src[sb..]` into `dst[db..]` when its gain is strictly better (ties keep the lower feature, found first). */
export function mergeSplit(dst: Float64Array, db: number, src: Float64Array, sb: number): void {
  const gs = src[sb + R_GAIN];
  const gd = dst[db + R_GAIN];
  if (gs > gd || (gs === gd && gs > -Infinity && src[sb + R_FEATURE] < dst[db + R_FEATURE])) {
    for (let k = 0; k < R_SIZE; k++) dst[db + k] = src[sb + k];
  }
}
