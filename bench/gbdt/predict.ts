/**
 * Inference benchmark: a 100-tree model (num_leaves 210, max_depth 8, trained on synthetic Alpha158-shaped
 * data) predicting batches of 500 rows × 158 features.
 *
 *   npx tsx bench/gbdt/predict.ts
 */
import { GbdtModel, trainGbdt } from '../../src/ml/index.js';
import { makeSynthetic } from './data.js';

const F = 158;
const train = makeSynthetic(60_000, F, 3);
const { model: trained } = await trainGbdt(
  { learning_rate: 0.2, num_leaves: 210, max_depth: 8, min_data_in_leaf: 20, num_boost_round: 100, feature_fraction: 0.8879, seed: 1 },
  train,
  undefined,
  { threads: 2 },
);
// Through JSON, as a deployed model would be loaded.
const model = GbdtModel.fromJSON(JSON.stringify(trained));
let leaves = 0;
let depthSum = 0;
for (const t of model.trees) {
  leaves += t.numLeaves;
  const walk = (node: number, d: number): void => {
    if (node < 0) depthSum += d;
    else {
      walk(t.leftChild[node], d + 1);
      walk(t.rightChild[node], d + 1);
    }
  };
  walk(0, 0);
}
const batch = makeSynthetic(500, F, 4);
const times: number[] = [];
let sink = 0;
for (let r = 0; r < 3000; r++) {
  const t0 = performance.now();
  const p = model.predict(batch.X, 500);
  const dt = performance.now() - t0;
  sink += p[r % 500];
  if (r >= 500) times.push(dt);
}
times.sort((a, b) => a - b);
const q = (f: number): number => times[Math.floor(f * (times.length - 1))];
console.log(
  `model: ${model.numTrees} trees, avg ${(leaves / model.numTrees).toFixed(1)} leaves, avg leaf depth ${(depthSum / leaves).toFixed(2)}; ` +
    `predict 500 × ${F}: median ${q(0.5).toFixed(3)} ms, p10 ${q(0.1).toFixed(3)} ms, p90 ${q(0.9).toFixed(3)} ms (${((q(0.5) * 1e6) / (500 * model.numTrees)).toFixed(1)} ns per row·tree)` +
    (Number.isFinite(sink) ? '' : ' (non-finite output!)'),
);
