/**
 * Loads an XGBoost JSON model (`Booster.save_model('m.json')`, format of 1.x/2.x) for inference.
 *
 * XGBoost sends a row left when `float32(x) < split_condition` and missing values (NaN) by `default_left`.
 * Our nodes go left when `x <= threshold` on float64 values, so each condition c becomes the largest
 * double T with float32(T) < c: predictions then match XGBoost's exactly, including values that round to
 * the threshold in float32. Leaf values are `split_conditions` of leaf nodes (they include the learning
 * rate); the margin starts at `base_score`. Only identity-link regression objectives are accepted.
 */
import { InputError } from '../../core/errors.js';
import { MISSING_NAN, decisionType, type GbdtModelInit, type GbdtTree } from '../gbdt/format.js';

const IDENTITY_OBJECTIVES = new Set(['reg:squarederror', 'reg:linear', 'reg:pseudohubererror', 'reg:absoluteerror', 'reg:quantileerror']);

function bad(msg: string): never {
  throw new InputError(`invalid XGBoost model: ${msg}`, 'bad_model');
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/** Largest float32 strictly below t (t a float32 value, not −Infinity). */
function prevFloat32(t: number): number {
  if (t === 0) return -Math.pow(2, -149);
  f32[0] = t;
  if (t > 0) u32[0] -= 1;
  else u32[0] += 1;
  return f32[0];
}

/** Largest double strictly below v (v finite). */
function prevDouble(v: number): number {
  if (v === 0) return -Number.MIN_VALUE;
  f64[0] = v;
  if (v > 0) u64[0] -= 1n;
  else u64[0] += 1n;
  return f64[0];
}

/** The largest double T such that Math.fround(T) < c, i.e. `x <= T` ⟺ XGBoost's `float32(x) < c`. */
export function xgbThreshold(c: number): number {
  const t = Math.fround(c);
  if (t === -Infinity) return -Infinity;
  if (t === Infinity) {
    // float32(x) < +Inf unless x rounds to +Inf: x < 2^128 − 2^103 (the rounding midpoint above FLT_MAX).
    return prevDouble(2 ** 128 - 2 ** 103);
  }
  const p = prevFloat32(t);
  // Rounding boundary between p and t (exact in float64); below −FLT_MAX it is the overflow boundary.
  const m = p === -Infinity ? -(2 ** 128 - 2 ** 103) : (p + t) / 2;
  return Math.fround(m) < t ? m : prevDouble(m);
}

type Obj = Record<string, unknown>;

function field(o: unknown, key: string, where: string): unknown {
  if (typeof o !== 'object' || o === null || !(key in o)) bad(`missing ${where}.${key}`);
  return (o as Obj)[key];
}

function numArray(v: unknown, what: string): number[] {
  if (!Array.isArray(v)) bad(`${what} is not an array`);
  return v.map((x, i) => {
    if (typeof x === 'number') return x;
    if (typeof x === 'boolean') return x ? 1 : 0;
    return bad(`${what}[${i}] is not a number`);
  });
}

/** Parses base_score: a number, a decimal string ("5E-1"), or a one-element list string ("[5E-1]", 2.x). */
function parseBaseScore(v: unknown): number {
  const s = typeof v === 'string' ? v.replace(/^\[|\]$/g, '').trim() : v;
  const x = typeof s === 'number' ? s : Number(s);
  if (typeof s === 'string' && s.includes(',')) bad('multi-target base_score is not supported');
  if (!Number.isFinite(x)) bad(`base_score ${JSON.stringify(v)} is not a number`);
  return x;
}

function convertTree(t: unknown, k: number, nFeatures: number, weight: number): GbdtTree {
  const where = `trees[${k}]`;
  const left = numArray(field(t, 'left_children', where), `${where}.left_children`);
  const right = numArray(field(t, 'right_children', where), `${where}.right_children`);
  const feat = numArray(field(t, 'split_indices', where), `${where}.split_indices`);
  const cond = numArray(field(t, 'split_conditions', where), `${where}.split_conditions`);
  const dleft = numArray(field(t, 'default_left', where), `${where}.default_left`);
  const splitType = (t as Obj).split_type === undefined ? null : numArray((t as Obj).split_type, `${where}.split_type`);
  const lossChg = (t as Obj).loss_changes === undefined ? null : numArray((t as Obj).loss_changes, `${where}.loss_changes`);
  const n = left.length;
  if (n === 0) bad(`${where} has no nodes`);
  for (const [name, a] of [['right_children', right], ['split_indices', feat], ['split_conditions', cond], ['default_left', dleft]] as const) {
    if (a.length !== n) bad(`${where}.${name} has ${a.length} entries, expected ${n}`);
  }
  // Number internal nodes and leaves in depth-first order from the root (node 0).
  const nodeId = new Int32Array(n).fill(-1);
  const leafId = new Int32Array(n).fill(-1);
  let nInternal = 0;
  let nLeaves = 0;
  const order: number[] = [];
  const stack = [0];
  let visited = 0;
  while (stack.length > 0) {
    const i = stack.pop()!;
    if (!(i >= 0 && i < n)) bad(`${where}: child index ${i} out of range`);
    if (++visited > n) bad(`${where}: nodes do not form a tree`);
    if (left[i] === -1) leafId[i] = nLeaves++;
    else {
      if (right[i] === -1) bad(`${where}: node ${i} has a left child but no right child`);
      if (splitType && splitType[i] !== 0) bad(`${where}: node ${i} is a categorical split (not supported)`);
      if (!(feat[i] >= 0 && feat[i] < nFeatures)) bad(`${where}: node ${i} splits on feature ${feat[i]}, model has ${nFeatures}`);
      nodeId[i] = nInternal++;
      order.push(i);
      stack.push(right[i], left[i]);
    }
  }
  const ref = (c: number): number => (left[c] === -1 ? ~leafId[c] : nodeId[c]);
  const tree: GbdtTree = {
    numLeaves: nLeaves,
    splitFeature: new Int32Array(nInternal),
    threshold: new Float64Array(nInternal),
    decisionType: new Uint8Array(nInternal),
    leftChild: new Int32Array(nInternal),
    rightChild: new Int32Array(nInternal),
    leafValue: new Float64Array(nLeaves),
    splitGain: new Float64Array(nInternal),
  };
  for (const i of order) {
    const j = nodeId[i];
    tree.splitFeature[j] = feat[i];
    tree.threshold[j] = xgbThreshold(cond[i]);
    tree.decisionType[j] = decisionType(dleft[i] !== 0, MISSING_NAN);
    tree.leftChild[j] = ref(left[i]);
    tree.rightChild[j] = ref(right[i]);
    tree.splitGain![j] = lossChg ? lossChg[i] : 0;
  }
  for (let i = 0; i < n; i++) if (leafId[i] >= 0) tree.leafValue[leafId[i]] = Math.fround(cond[i]) * weight;
  return tree;
}

/** Converts an XGBoost JSON model (object or JSON text) into our model's parts (see GbdtModel.loadXGBoostJson). */
export function xgboostModelInit(json: unknown): GbdtModelInit {
  let j = json;
  if (typeof j === 'string') {
    try {
      j = JSON.parse(j);
    } catch (err) {
      bad(`not JSON (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  const learner = field(j, 'learner', 'model');
  const lmp = field(learner, 'learner_model_param', 'learner');
  const nFeatures = Number(field(lmp, 'num_feature', 'learner_model_param'));
  if (!Number.isInteger(nFeatures) || nFeatures < 1) bad('learner_model_param.num_feature must be a positive integer');
  const numClass = Number((lmp as Obj).num_class ?? 0);
  const numTarget = Number((lmp as Obj).num_target ?? 1);
  if (numClass > 1 || numTarget > 1) bad('multi-class / multi-target models are not supported');
  const objective = field(field(learner, 'objective', 'learner'), 'name', 'learner.objective');
  if (typeof objective !== 'string' || !IDENTITY_OBJECTIVES.has(objective)) {
    bad(`objective ${JSON.stringify(objective)} is not supported (identity-link regression only: ${[...IDENTITY_OBJECTIVES].join(', ')})`);
  }
  const baseScore = parseBaseScore(field(lmp, 'base_score', 'learner_model_param'));

  const booster = field(learner, 'gradient_booster', 'learner');
  const name = field(booster, 'name', 'gradient_booster');
  let model: unknown;
  let weights: number[] | null = null;
  if (name === 'gbtree') model = field(booster, 'model', 'gradient_booster');
  else if (name === 'dart') {
    model = field(field(booster, 'gbtree', 'gradient_booster'), 'model', 'gradient_booster.gbtree');
    weights = numArray(field(booster, 'weight_drop', 'gradient_booster'), 'weight_drop');
  } else bad(`booster ${JSON.stringify(name)} is not supported (gbtree or dart)`);
  const trees = field(model, 'trees', 'model');
  if (!Array.isArray(trees)) bad('model.trees is not an array');
  if (weights && weights.length !== trees.length) bad(`dart weight_drop has ${weights.length} weights for ${trees.length} trees`);
  const info = (model as Obj).tree_info;
  if (Array.isArray(info) && info.some((g) => g !== 0)) bad('trees for several output groups are not supported');

  const names = (learner as Obj).feature_names;
  const featureNames = Array.isArray(names) && names.length === nFeatures && names.every((s) => typeof s === 'string') ? (names as string[]) : undefined;
  return {
    nFeatures,
    baseScore,
    trees: trees.map((t, k) => convertTree(t, k, nFeatures, weights ? weights[k] : 1)),
    objective: `xgboost:${objective}`,
    featureNames,
    source: 'xgboost',
  };
}
