/**
 * Seeded synthetic data shaped like Alpha158 features: 158 columns in correlated groups driven by a few
 * latent factors, plus pure-noise, heavy-tailed and coarse (few distinct values) columns, 5% NaN, and a
 * label with a weak non-linear signal (cross-sectional return–like, low R²).
 */
import { Rng } from '../../src/ml/gbdt/rng.js';

export interface SyntheticData {
  X: Float64Array;
  y: Float64Array;
  nRows: number;
  nFeatures: number;
}

export function gaussian(rng: Rng): number {
  // Box–Muller (one of the pair; simple and seeded).
  const u = 1 - rng.next();
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function makeSynthetic(nRows: number, nFeatures: number, seed: number, nanRate = 0.05): SyntheticData {
  const rng = new Rng(seed);
  const K = 8;
  const X = new Float64Array(nRows * nFeatures);
  const y = new Float64Array(nRows);
  const z = new Float64Array(K);
  // Fixed per-feature loading on a latent factor (same for any seed-independent layout).
  const layout = new Rng(12345);
  const load = new Float64Array(nFeatures);
  for (let j = 0; j < nFeatures; j++) load[j] = 0.3 + 0.65 * layout.next();
  const nCorrelated = Math.floor(nFeatures * 0.6);
  for (let i = 0; i < nRows; i++) {
    for (let k = 0; k < K; k++) z[k] = gaussian(rng);
    const b = i * nFeatures;
    for (let j = 0; j < nFeatures; j++) {
      let v: number;
      if (j < nCorrelated) {
        const a = load[j];
        v = a * z[j % K] + Math.sqrt(1 - a * a) * gaussian(rng);
      } else if (j % 5 === 0) {
        v = Math.round(gaussian(rng) * 3) / 3; // coarse: ~20 distinct values
      } else if (j % 5 === 1) {
        const g = gaussian(rng);
        v = g * g * g; // heavy tails
      } else v = gaussian(rng);
      X[b + j] = rng.next() < nanRate ? NaN : v;
    }
    const signal = 0.3 * Math.tanh(z[0]) + 0.2 * z[1] * (z[2] > 0 ? 1 : -0.5) + 0.15 * Math.sin(2 * z[3]) + 0.1 * (z[4] > 1 ? 1 : 0);
    y[i] = signal + gaussian(rng);
  }
  return { X, y, nRows, nFeatures };
}
