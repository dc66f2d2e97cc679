/** Small seeded datasets for the GBDT tests. */
import { Rng } from './rng.js';

export interface TestData {
  X: Float64Array;
  y: Float64Array;
  nRows: number;
  nFeatures: number;
}

/** y = sin(3·x0) + (x1 > 0.2) + 0.5·x2·x3 + noise, features uniform in [−1, 1], some NaN. */
export function makeRegression(nRows: number, nFeatures: number, seed: number, opts: { noise?: number; nanRate?: number } = {}): TestData {
  const rng = new Rng(seed);
  const noise = opts.noise ?? 0.1;
  const nanRate = opts.nanRate ?? 0.03;
  const X = new Float64Array(nRows * nFeatures);
  const y = new Float64Array(nRows);
  for (let i = 0; i < nRows; i++) {
    for (let j = 0; j < nFeatures; j++) X[i * nFeatures + j] = rng.next() < nanRate ? NaN : 2 * rng.next() - 1;
    const v = (j: number): number => (j < nFeatures && !Number.isNaN(X[i * nFeatures + j]) ? X[i * nFeatures + j] : 0);
    y[i] = Math.sin(3 * v(0)) + (v(1) > 0.2 ? 1 : 0) + 0.5 * v(2) * v(3) + noise * (rng.next() - 0.5);
  }
  return { X, y, nRows, nFeatures };
}
