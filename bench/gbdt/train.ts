/**
 * Training benchmark: ours vs XGBoost 1.7 `hist` (2 threads) on the same synthetic 351,000 × 158 matrix
 * with Qlib's LightGBM Alpha158 parameters and a 60,000-row validation set.
 *
 *   npx tsx bench/gbdt/train.ts [--rows 351000] [--threads 2] [--no-xgb]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainGbdt } from '../../src/ml/index.js';
import { makeSynthetic } from './data.js';

const args = process.argv.slice(2);
const arg = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const nTrain = arg('rows', 351_000);
const nValid = arg('valid', 60_000);
const threads = arg('threads', 2);
const rounds = arg('rounds', 1000);
const F = 158;
const cpuSeconds = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1e6;

const tg = performance.now();
const train = makeSynthetic(nTrain, F, 1);
const valid = makeSynthetic(nValid, F, 2);
console.log(`data: ${nTrain} × ${F} train, ${nValid} valid, generated in ${((performance.now() - tg) / 1000).toFixed(1)} s`);

const params = {
  objective: 'l2' as const,
  learning_rate: 0.2,
  max_depth: 8,
  num_leaves: 210,
  lambda_l1: 205.7,
  lambda_l2: 580.98,
  feature_fraction: 0.8879,
  bagging_fraction: 0.8789,
  bagging_freq: 1,
  min_data_in_leaf: 20,
  early_stopping_rounds: 50,
  num_boost_round: rounds,
  seed: 0,
};

const t0 = performance.now();
const c0 = process.cpuUsage();
let cpuAtFirstTree = 0;
const res = await trainGbdt(params, train, valid, {
  threads,
  onIteration: (it) => {
    if (it === 1) cpuAtFirstTree = cpuSeconds(process.cpuUsage(c0));
  },
});
const total = (performance.now() - t0) / 1000;
const cpuTotal = cpuSeconds(process.cpuUsage(c0));
const treesRun = res.history.length;
const perTree = res.timings.boosting / treesRun;
// CPU seconds (all threads) per tree, from the end of the first tree on: less sensitive to other load on the machine.
const cpuPerTree = treesRun > 1 ? (cpuTotal - cpuAtFirstTree) / (treesRun - 1) : NaN;
const pv = res.model.predict(valid.X, valid.nRows);
let mse = 0;
for (let i = 0; i < valid.nRows; i++) mse += (pv[i] - valid.y[i]) ** 2;
mse /= valid.nRows;
let leaves = 0;
for (const t of res.model.trees) leaves += t.numLeaves;
console.log(
  `ours (${threads} threads): ${perTree.toFixed(4)} s/tree (CPU ${cpuPerTree.toFixed(4)} s/tree), total ${total.toFixed(1)} s ` +
    `(binning ${res.timings.binning.toFixed(1)} s, threads ${res.timings.threadStart.toFixed(2)} s, boosting ${res.timings.boosting.toFixed(1)} s), ` +
    `${treesRun} trees run, best iteration ${res.bestIteration}, avg leaves ${(leaves / Math.max(1, res.model.numTrees)).toFixed(1)}, valid MSE ${mse.toFixed(6)}`,
);

if (!args.includes('--no-xgb')) {
  const dir = mkdtempSync(join(tmpdir(), 'kestrel-gbdt-bench-'));
  try {
    const w = (name: string, a: Float64Array): void => writeFileSync(join(dir, name), new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    w('X.bin', train.X);
    w('y.bin', train.y);
    w('Xv.bin', valid.X);
    w('yv.bin', valid.y);
    const script = new URL('./xgb_train.py', import.meta.url).pathname;
    const r = spawnSync('/usr/bin/python3', [script, dir, String(nTrain), String(nValid), String(F)], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) {
      console.log(`xgboost: failed (${r.error?.message ?? r.stderr.trim().split('\n').at(-1)})`);
    } else {
      const x = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
        dmatrix_s: number;
        train_s: number;
        train_cpu_s: number;
        trees: number;
        best_iteration: number;
        valid_mse: number;
        version: string;
      };
      const xPerTree = x.train_s / x.trees;
      const xCpuPerTree = x.train_cpu_s / x.trees;
      const xTotal = x.dmatrix_s + x.train_s;
      console.log(
        `xgboost ${x.version} hist (2 threads): ${xPerTree.toFixed(4)} s/tree (CPU ${xCpuPerTree.toFixed(4)} s/tree), total ${xTotal.toFixed(1)} s ` +
          `(QuantileDMatrix ${x.dmatrix_s.toFixed(1)} s, boosting ${x.train_s.toFixed(1)} s), ${x.trees} trees run, best iteration ${x.best_iteration}, valid MSE ${x.valid_mse.toFixed(6)}`,
      );
      console.log(
        `ratio ours/xgboost: per tree ${(perTree / xPerTree).toFixed(3)} (CPU per tree ${(cpuPerTree / xCpuPerTree).toFixed(3)}), total ${(total / xTotal).toFixed(3)}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
