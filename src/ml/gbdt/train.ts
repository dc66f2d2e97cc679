/**
 * Gradient boosting driver: binning, per-iteration gradients, bagging and feature sampling, tree growth
 * on the shared thread pool, score updates, metrics and early stopping.
 */
import { availableParallelism } from 'node:os';
import { InputError } from '../../core/errors.js';
import { rowStrideFor, type Binning } from './binning.js';
import { makeHistLayout } from './histogram.js';
import { decisionType, GbdtModel, MISSING_NONFINITE, type GbdtTree } from './model.js';
import { evalMetric, makeObjective } from './objectives.js';
import { HistEngine } from './parallel.js';
import { resolveParams, type GbdtParams, type ResolvedParams } from './params.js';
import { Rng, mixSeed, sampleSorted } from './rng.js';
import { histFloat64Length, planSize } from './task.js';
import { TreeGrower, addBinnedPredictions, type GrownTree } from './tree.js';

export interface GbdtDataset {
  /** Row-major feature matrix, nRows × nFeatures; NaN (and ±Infinity) = missing. */
  X: Float64Array;
  y: Float64Array;
  nRows: number;
  nFeatures: number;
  featureNames?: string[];
}

export interface TrainOptions {
  /** Threads building histograms (main thread included). Default: all cores for large data, 1 for small. */
  threads?: number;
  /** Called after each iteration (1-based) with the train and (if any) validation metric. */
  onIteration?: (iteration: number, trainMetric: number, validMetric: number | undefined) => void;
  /** Upper bound on the memory of the histogram pool (default 1 GiB); fewer slots means some rebuilding. */
  histogramPoolBytes?: number;
}

export interface IterationRecord {
  iteration: number;
  train: number;
  valid?: number;
}

export interface TrainResult {
  model: GbdtModel;
  /** Number of trees kept in `model`: the best validation iteration with early stopping, else all trees. */
  bestIteration: number;
  history: IterationRecord[];
  /** Per feature: total split gain and number of splits in the kept trees. */
  importance: { gain: Float64Array; split: Int32Array };
  /** Wall-clock seconds: thread start, binning (boundaries + bin matrices + set-up), boosting (all iterations run). */
  timings: { threadStart: number; binning: number; boosting: number };
}

function checkDataset(d: GbdtDataset, what: string, nFeatures?: number): void {
  if (typeof d !== 'object' || d === null) throw new InputError(`${what} data must be an object`);
  if (!(d.X instanceof Float64Array)) throw new InputError(`${what}.X must be a Float64Array`);
  if (!(d.y instanceof Float64Array)) throw new InputError(`${what}.y must be a Float64Array`);
  if (!Number.isInteger(d.nRows) || d.nRows < 1) throw new InputError(`${what}.nRows must be a positive integer, got ${d.nRows}`);
  if (!Number.isInteger(d.nFeatures) || d.nFeatures < 1) throw new InputError(`${what}.nFeatures must be a positive integer, got ${d.nFeatures}`);
  if (nFeatures !== undefined && d.nFeatures !== nFeatures) throw new InputError(`${what}.nFeatures is ${d.nFeatures}, training data has ${nFeatures}`);
  if (d.X.length !== d.nRows * d.nFeatures) throw new InputError(`${what}.X has ${d.X.length} values, expected nRows × nFeatures = ${d.nRows} × ${d.nFeatures}`);
  if (d.y.length !== d.nRows) throw new InputError(`${what}.y has ${d.y.length} labels for ${d.nRows} rows`);
  for (let i = 0; i < d.nRows; i++) if (!Number.isFinite(d.y[i])) throw new InputError(`${what}.y[${i}] is not a finite number`);
  if (d.featureNames !== undefined && d.featureNames.length !== d.nFeatures) {
    throw new InputError(`${what}.featureNames has ${d.featureNames.length} names for ${d.nFeatures} features`);
  }
}

function resolveThreads(threads: number | undefined, nRows: number, nFeatures: number): number {
  if (threads === undefined) return nRows * nFeatures < 2_000_000 ? 1 : Math.min(availableParallelism(), 16);
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new InputError(`threads must be an integer in [1, 256], got ${threads}`);
  return threads;
}

/** Features that can split: more than one value bin, or some missing values. */
function splittableFeatures(bins: Uint8Array, nRows: number, stride: number, binning: Binning): number[] {
  const out: number[] = [];
  for (let j = 0; j < binning.nFeatures; j++) {
    const nv = binning.nValueBins[j];
    let ok = nv > 1;
    if (!ok) {
      for (let i = 0; i < nRows && !ok; i++) if (bins[i * stride + j] === nv) ok = true;
      // A column of only missing values cannot split either.
      if (ok) {
        let anyValue = false;
        for (let i = 0; i < nRows && !anyValue; i++) if (bins[i * stride + j] !== nv) anyValue = true;
        ok = anyValue;
      }
    }
    if (ok) out.push(j);
  }
  return out;
}

function toModelTree(t: GrownTree, learningRate: number): GbdtTree {
  const ni = t.numLeaves - 1;
  const dt = new Uint8Array(ni);
  for (let i = 0; i < ni; i++) dt[i] = decisionType(t.defaultLeft[i] === 1, MISSING_NONFINITE);
  const leafValue = new Float64Array(t.numLeaves);
  for (let l = 0; l < t.numLeaves; l++) leafValue[l] = learningRate * t.leafOutput[l];
  return {
    numLeaves: t.numLeaves,
    splitFeature: t.splitFeature,
    threshold: t.threshold,
    decisionType: dt,
    leftChild: t.leftChild,
    rightChild: t.rightChild,
    leafValue,
    splitGain: t.splitGain,
  };
}

/** Trains a gradient-boosted tree ensemble (LightGBM-style histogram GBDT). */
export async function trainGbdt(params: GbdtParams, train: GbdtDataset, valid?: GbdtDataset, opts: TrainOptions = {}): Promise<TrainResult> {
  const p: ResolvedParams = resolveParams(params);
  checkDataset(train, 'train');
  if (valid !== undefined) checkDataset(valid, 'valid', train.nFeatures);
  const n = train.nRows;
  const F = train.nFeatures;
  const nThreads = resolveThreads(opts.threads, n, F);
  const poolBytes = opts.histogramPoolBytes ?? 2 ** 30;
  if (!(poolBytes > 0)) throw new InputError(`histogramPoolBytes must be positive, got ${poolBytes}`);

  const t0 = performance.now();
  const engine = await HistEngine.start(nThreads);
  const t1 = performance.now();
  try {
    // Binning (on all threads).
    const binning = engine.fitBinning(train.X, n, F, { maxBin: p.max_bin, sampleCount: p.bin_construct_sample_cnt, seed: p.seed });
    const stride = rowStrideFor(F);
    const bins = engine.binMatrix(train.X, n, F, binning);
    const validBins = valid ? engine.binMatrix(valid.X, valid.nRows, F, binning) : null;
    const usable = splittableFeatures(bins, n, stride, binning);

    // Histogram state.
    const layout = makeHistLayout(binning.nValueBins);
    const nSlots = Math.max(2, Math.min(p.num_leaves, Math.floor(poolBytes / (layout.slotSize * 8))));
    engine.setupHist({
      nRows: n,
      nFeatures: F,
      wordsPerRow: stride >> 2,
      nSlots,
      slotSize: layout.slotSize,
      featureOffset: layout.featureOffset,
      nValueBins: binning.nValueBins,
      split: {
        lambdaL1: p.lambda_l1,
        lambdaL2: p.lambda_l2,
        minDataInLeaf: p.min_data_in_leaf,
        minSumHessianInLeaf: p.min_sum_hessian_in_leaf,
        minGainToSplit: p.min_gain_to_split,
      },
      bins: bins.buffer as SharedArrayBuffer,
      gh: new SharedArrayBuffer(16 * n),
      idx: new SharedArrayBuffer(4 * n),
      hist: new SharedArrayBuffer(8 * histFloat64Length(nSlots, layout.slotSize, nThreads)),
      plan: new SharedArrayBuffer(4 * planSize(nThreads, stride >> 2, F)),
    });
    const t2 = performance.now();

    const objective = makeObjective(p.objective, p.huber_delta);
    const grower = new TreeGrower(engine, bins, stride, binning, p);
    const gh = engine.ctx.gh;
    const idx = engine.ctx.idx;
    const y = train.y;
    const base = objective.initScore(y);
    const score = new Float64Array(n).fill(base);
    const validScore = valid ? new Float64Array(valid.nRows).fill(base) : null;

    const bagging = p.bagging_freq > 0 && p.bagging_fraction < 1;
    const bagRng = new Rng(mixSeed(p.seed, 2));
    const featRng = new Rng(mixSeed(p.seed, 3));
    const inBag = new Int32Array(n);
    const outOfBag = new Int32Array(n);
    let nBag = n;
    for (let i = 0; i < n; i++) inBag[i] = i;
    const nBagTarget = Math.max(1, Math.round(p.bagging_fraction * n));

    const used = new Uint8Array(F);
    const nFeatPerTree = Math.max(1, Math.round(p.feature_fraction * usable.length));
    const pool = Int32Array.from(usable);

    const trees: GrownTree[] = [];
    const history: IterationRecord[] = [];
    let bestIter = 0;
    let bestValid = Infinity;

    for (let it = 0; it < p.num_boost_round && usable.length > 0; it++) {
      objective.gradients(y, score, gh);
      if (bagging && it % p.bagging_freq === 0) nBag = sampleSorted(n, nBagTarget, bagRng, inBag, outOfBag);
      idx.set(inBag.subarray(0, nBag));

      used.fill(0);
      if (nFeatPerTree < pool.length) {
        // Partial Fisher–Yates over the usable features; the sample is order-independent (flags).
        pool.set(usable);
        for (let k = 0; k < nFeatPerTree; k++) {
          const r = k + Math.floor(featRng.next() * (pool.length - k));
          const t = pool[k];
          pool[k] = pool[r];
          pool[r] = t;
          used[pool[k]] = 1;
        }
      } else for (const j of usable) used[j] = 1;
      engine.setPlan(used);

      const tree = grower.grow(nBag);
      if (tree === null) break; // nothing left to split (as LightGBM, stop boosting)
      trees.push(tree);

      // Scores: in-bag rows by leaf segment, out-of-bag and validation rows by traversal.
      const lr = p.learning_rate;
      for (let l = 0; l < tree.numLeaves; l++) {
        const v = lr * tree.leafOutput[l];
        const e = grower.leafEnd[l];
        for (let q = grower.leafStart[l]; q < e; q++) score[idx[q]] += v;
      }
      if (nBag < n) addBinnedPredictions(tree, lr, bins, stride, binning.nValueBins, outOfBag, n - nBag, score);
      const rec: IterationRecord = { iteration: it + 1, train: evalMetric(p.metric, y, score, p.huber_delta) };
      if (valid && validBins && validScore) {
        addBinnedPredictions(tree, lr, validBins, stride, binning.nValueBins, null, valid.nRows, validScore);
        rec.valid = evalMetric(p.metric, valid.y, validScore, p.huber_delta);
        if (rec.valid < bestValid) {
          bestValid = rec.valid;
          bestIter = it + 1;
        }
      }
      history.push(rec);
      opts.onIteration?.(rec.iteration, rec.train, rec.valid);
      if (valid && p.early_stopping_rounds > 0 && it + 1 - bestIter >= p.early_stopping_rounds) break;
      // Let the event loop breathe between trees (timers, I/O, other promises).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }

    const t3 = performance.now();
    const keep = valid && p.early_stopping_rounds > 0 ? Math.min(bestIter, trees.length) : trees.length;
    const kept = trees.slice(0, keep);
    const gain = new Float64Array(F);
    const split = new Int32Array(F);
    for (const t of kept) {
      for (let i = 0; i < t.numLeaves - 1; i++) {
        gain[t.splitFeature[i]] += t.splitGain[i];
        split[t.splitFeature[i]]++;
      }
    }
    const model = new GbdtModel({
      nFeatures: F,
      baseScore: base,
      trees: kept.map((t) => toModelTree(t, p.learning_rate)),
      objective: p.objective,
      featureNames: train.featureNames,
      source: 'kestrel',
    });
    const timings = { threadStart: (t1 - t0) / 1000, binning: (t2 - t1) / 1000, boosting: (t3 - t2) / 1000 };
    return { model, bestIteration: keep, history, importance: { gain, split }, timings };
  } finally {
    await engine.close();
  }
}
