import { describe, expect, it } from 'vitest';
import { accumulateHistogram, clearFeatures, makeHistLayout, subtractFeatures } from './histogram.js';
import { Rng } from './rng.js';

describe('histogram kernels', () => {
  const F = 7; // not a multiple of 4: the last word has a padding byte
  const S = 8;
  const n = 301;
  const rng = new Rng(4);
  const nvb = Int32Array.from({ length: F }, (_, j) => 3 + 30 * j);
  const bins = new Uint8Array(n * S);
  for (let i = 0; i < n; i++) for (let j = 0; j < F; j++) bins[i * S + j] = Math.floor(rng.next() * (nvb[j] + 1));
  const gh = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    gh[2 * i] = rng.next() - 0.5;
    gh[2 * i + 1] = 0.5 + rng.next();
  }
  const layout = makeHistLayout(nvb);
  const trash = 2 * layout.slotSize;
  const hist = new Float64Array(trash + 512);
  const used = [0, 2, 3, 5, 6]; // features 1 and 4 skipped (e.g. feature_fraction)
  const target = new Int32Array(8);
  for (let f = 0; f < 8; f++) target[f] = used.includes(f) ? layout.featureOffset[f] : trash;

  function naive(rows: number[]): Float64Array {
    const h = new Float64Array(layout.slotSize);
    for (const i of rows) for (const j of used) {
      const q = layout.featureOffset[j] + 2 * bins[i * S + j];
      h[q] += gh[2 * i];
      h[q + 1] += gh[2 * i + 1];
    }
    return h;
  }

  it('accumulates the listed rows of the listed features (odd row counts included)', () => {
    const rows = Array.from({ length: n }, (_, i) => i).filter((i) => i % 3 !== 1);
    const idx = Int32Array.from(rows);
    clearFeatures(hist, 0, layout, Int32Array.from(used), used.length);
    accumulateHistogram(new Uint32Array(bins.buffer), S / 4, gh, idx, 0, idx.length, Int32Array.of(0, 1), 2, target, hist);
    const want = naive(rows);
    for (const j of used) {
      const o = layout.featureOffset[j];
      for (let q = o; q < o + 2 * (nvb[j] + 1); q++) expect(hist[q]).toBeCloseTo(want[q], 12);
    }
  });

  it('derives a child by subtraction (parent − sibling)', () => {
    const all = Int32Array.from({ length: n }, (_, i) => i);
    const words = Int32Array.of(0, 1);
    const u = Int32Array.from(used);
    clearFeatures(hist, 0, layout, u, u.length);
    accumulateHistogram(new Uint32Array(bins.buffer), 2, gh, all, 0, n, words, 2, target, hist);
    const t2 = target.map((t) => (t === trash ? trash : t + layout.slotSize));
    const small = Int32Array.from({ length: 100 }, (_, i) => i);
    clearFeatures(hist, layout.slotSize, layout, u, u.length);
    accumulateHistogram(new Uint32Array(bins.buffer), 2, gh, small, 0, 100, words, 2, t2, hist);
    subtractFeatures(hist, 0, layout.slotSize, layout, u, u.length);
    const want = naive(Array.from({ length: n - 100 }, (_, i) => 100 + i));
    for (const j of used) {
      const o = layout.featureOffset[j];
      for (let q = o; q < o + 2 * (nvb[j] + 1); q++) expect(hist[q]).toBeCloseTo(want[q], 12);
    }
  });
});
