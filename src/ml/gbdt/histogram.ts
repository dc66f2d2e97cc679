/**
 * Gradient/hessian histogram kernels over a row-major Uint8 bin matrix whose rows are padded to a
 * multiple of 4 bytes, so each 32-bit word holds the bins of 4 consecutive features.
 *
 * A histogram slot holds, for every feature, `nValueBins + 1` (sum gradient, sum hessian) pairs
 * (Float64, interleaved). A thread owns a list of words (groups of 4 features) and builds only those
 * features' histograms; features it must skip (not sampled for this tree, padding) are pointed at a
 * per-thread scratch area ("trash") so the inner loop has no branches.
 */

/** Per-feature offsets (in Float64 units) of each feature's pairs inside a histogram slot, and the slot size. */
export interface HistLayout {
  readonly featureOffset: Int32Array;
  readonly nValueBins: Int32Array;
  /** Float64 values per slot. */
  readonly slotSize: number;
}

export function makeHistLayout(nValueBins: Int32Array): HistLayout {
  const F = nValueBins.length;
  const featureOffset = new Int32Array(F);
  let o = 0;
  for (let j = 0; j < F; j++) {
    featureOffset[j] = o;
    o += 2 * (nValueBins[j] + 1);
  }
  // Round slots to whole 64-byte cache lines so different slots never share a line.
  return { featureOffset, nValueBins, slotSize: (o + 7) & ~7 };
}

/**
 * Accumulates rows `idx[start..end)` into the histogram.
 *
 * @param words   the words (feature groups) to process: `words[0..nWords)`
 * @param target  absolute Float64 offset of each processed feature's pairs: `target[4*k + b]` is feature
 *                `4*words[k] + b` (a scratch offset for features that are skipped)
 * @param gh      packed (gradient, hessian) per row
 */
export function accumulateHistogram(
  bins32: Uint32Array,
  wordsPerRow: number,
  gh: Float64Array,
  idx: Int32Array,
  start: number,
  end: number,
  words: Int32Array,
  nWords: number,
  target: Int32Array,
  hist: Float64Array,
): void {
  let p = start;
  // Two rows at a time: independent update chains overlap in the CPU.
  for (; p + 1 < end; p += 2) {
    const i0 = idx[p];
    const i1 = idx[p + 1];
    const g0 = gh[2 * i0];
    const h0 = gh[2 * i0 + 1];
    const g1 = gh[2 * i1];
    const h1 = gh[2 * i1 + 1];
    const r0 = i0 * wordsPerRow;
    const r1 = i1 * wordsPerRow;
    for (let k = 0; k < nWords; k++) {
      const w = words[k];
      const v0 = bins32[r0 + w];
      const v1 = bins32[r1 + w];
      const o = k << 2;
      const t0 = target[o];
      const t1 = target[o + 1];
      const t2 = target[o + 2];
      const t3 = target[o + 3];
      let q = t0 + ((v0 & 255) << 1);
      hist[q] += g0;
      hist[q + 1] += h0;
      q = t0 + ((v1 & 255) << 1);
      hist[q] += g1;
      hist[q + 1] += h1;
      q = t1 + ((v0 >>> 7) & 510);
      hist[q] += g0;
      hist[q + 1] += h0;
      q = t1 + ((v1 >>> 7) & 510);
      hist[q] += g1;
      hist[q + 1] += h1;
      q = t2 + ((v0 >>> 15) & 510);
      hist[q] += g0;
      hist[q + 1] += h0;
      q = t2 + ((v1 >>> 15) & 510);
      hist[q] += g1;
      hist[q + 1] += h1;
      q = t3 + ((v0 >>> 23) & 510);
      hist[q] += g0;
      hist[q + 1] += h0;
      q = t3 + ((v1 >>> 23) & 510);
      hist[q] += g1;
      hist[q + 1] += h1;
    }
  }
  if (p < end) {
    const i0 = idx[p];
    const g0 = gh[2 * i0];
    const h0 = gh[2 * i0 + 1];
    const r0 = i0 * wordsPerRow;
    for (let k = 0; k < nWords; k++) {
      const v0 = bins32[r0 + words[k]];
      const o = k << 2;
      let q = target[o] + ((v0 & 255) << 1);
      hist[q] += g0;
      hist[q + 1] += h0;
      q = target[o + 1] + ((v0 >>> 7) & 510);
      hist[q] += g0;
      hist[q + 1] += h0;
      q = target[o + 2] + ((v0 >>> 15) & 510);
      hist[q] += g0;
      hist[q + 1] += h0;
      q = target[o + 3] + ((v0 >>> 23) & 510);
      hist[q] += g0;
      hist[q + 1] += h0;
    }
  }
}

/** Zeroes the pairs of the listed features in a slot. */
export function clearFeatures(hist: Float64Array, slotBase: number, layout: HistLayout, features: Int32Array, nFeatures: number): void {
  const off = layout.featureOffset;
  const nvb = layout.nValueBins;
  for (let k = 0; k < nFeatures; k++) {
    const j = features[k];
    const s = slotBase + off[j];
    hist.fill(0, s, s + 2 * (nvb[j] + 1));
  }
}

/** dst -= src for the listed features (histogram subtraction: larger child = parent − smaller child). */
export function subtractFeatures(hist: Float64Array, dstBase: number, srcBase: number, layout: HistLayout, features: Int32Array, nFeatures: number): void {
  const off = layout.featureOffset;
  const nvb = layout.nValueBins;
  for (let k = 0; k < nFeatures; k++) {
    const j = features[k];
    const d = dstBase + off[j];
    const s = srcBase + off[j];
    const len = 2 * (nvb[j] + 1);
    for (let q = 0; q < len; q++) hist[d + q] -= hist[s + q];
  }
}
