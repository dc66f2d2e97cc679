/**
 * Loads a LightGBM text model (`Booster.save_model('m.txt')`) for inference.
 *
 * Each `Tree=N` block has `num_leaves`, and per internal node `split_feature`, `threshold`,
 * `decision_type`, `left_child`, `right_child` (negative child = leaf ~child), plus `leaf_value`.
 * LightGBM goes left when `x <= threshold`; `decision_type` bit 0 = categorical (not supported),
 * bit 1 = default left, bits 2–3 = missing type (0 None: NaN is compared as 0; 1 Zero: 0 and NaN use the
 * default direction; 2 NaN: NaN uses the default direction). These map one to one onto our nodes. Leaf
 * values already include shrinkage and the initial score; `average_output` (random forest) divides the
 * sum by the number of trees.
 */
import { InputError } from '../../core/errors.js';
import { MISSING_NAN, MISSING_NONE, MISSING_ZERO, decisionType, type GbdtModelInit, type GbdtTree } from '../gbdt/format.js';

export interface LightGBMLoadOptions {
  /**
   * Accept any objective and predict the raw score (no link function). By default only identity-link
   * objectives (regression, huber, l1, fair, quantile, mape) are accepted.
   */
  rawScore?: boolean;
}

const IDENTITY = new Set(['regression', 'regression_l2', 'l2', 'mean_squared_error', 'mse', 'l2_root', 'root_mean_squared_error', 'rmse', 'regression_l1', 'l1', 'mean_absolute_error', 'mae', 'huber', 'fair', 'quantile', 'mape', 'mean_absolute_percentage_error']);

function bad(msg: string): never {
  throw new InputError(`invalid LightGBM model: ${msg}`, 'bad_model');
}

function parseNumber(s: string, what: string): number {
  const t = s.trim().toLowerCase();
  if (t === 'inf' || t === '+inf' || t === 'infinity') return Infinity;
  if (t === '-inf' || t === '-infinity') return -Infinity;
  const v = Number(t);
  if (t === '' || Number.isNaN(v)) bad(`${what}: ${JSON.stringify(s)} is not a number`);
  return v;
}

function list(block: Map<string, string>, key: string, where: string, expected: number): number[] {
  const v = block.get(key);
  if (v === undefined) {
    if (expected === 0) return [];
    bad(`${where}: missing ${key}`);
  }
  const parts = v.trim() === '' ? [] : v.trim().split(/\s+/);
  if (parts.length !== expected) bad(`${where}: ${key} has ${parts.length} values, expected ${expected}`);
  return parts.map((s, i) => parseNumber(s, `${where} ${key}[${i}]`));
}

/** Converts a LightGBM text model into our model's parts (see GbdtModel.loadLightGBMText). */
export function lightgbmModelInit(text: string, opts: LightGBMLoadOptions = {}): GbdtModelInit {
  if (typeof text !== 'string') bad('expected the model text');
  const lines = text.split(/\r?\n/);
  const header = new Map<string, string>();
  const blocks: Array<{ id: string; kv: Map<string, string> }> = [];
  let cur: Map<string, string> | null = null;
  for (const raw of lines) {
    const line = raw.trim();
    if (line === 'end of trees') break;
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq < 0) {
      if (cur === null) header.set(line, '');
      continue;
    }
    const key = line.slice(0, eq);
    const val = line.slice(eq + 1);
    if (key === 'Tree') {
      cur = new Map();
      blocks.push({ id: val, kv: cur });
    } else if (cur) cur.set(key, val);
    else header.set(key, val);
  }
  if (!header.has('tree') && !header.has('version')) bad('no "tree" header (not a LightGBM text model?)');
  const maxFeatureIdx = Number(header.get('max_feature_idx'));
  if (!Number.isInteger(maxFeatureIdx) || maxFeatureIdx < 0) bad('max_feature_idx missing or invalid');
  const nFeatures = maxFeatureIdx + 1;
  const numClass = Number(header.get('num_class') ?? 1);
  const perIter = Number(header.get('num_tree_per_iteration') ?? 1);
  if (numClass !== 1 || perIter !== 1) bad('multi-class models are not supported');
  const objective = (header.get('objective') ?? 'regression').trim();
  const objName = objective.split(/\s+/)[0];
  if (!opts.rawScore && !IDENTITY.has(objName)) {
    bad(`objective "${objective}" has a link function; pass { rawScore: true } to predict raw scores`);
  }
  if (blocks.length === 0) bad('no trees');
  const average = header.has('average_output');
  const scale = average ? 1 / blocks.length : 1;

  const trees: GbdtTree[] = blocks.map(({ id, kv }) => {
    const where = `Tree=${id}`;
    const L = Number(kv.get('num_leaves'));
    if (!Number.isInteger(L) || L < 1) bad(`${where}: num_leaves missing or invalid`);
    if (Number(kv.get('num_cat') ?? 0) > 0) bad(`${where}: categorical splits are not supported`);
    if (Number(kv.get('is_linear') ?? 0) !== 0) bad(`${where}: linear trees are not supported`);
    const ni = L - 1;
    const feat = list(kv, 'split_feature', where, ni);
    const thr = list(kv, 'threshold', where, ni);
    const dt = list(kv, 'decision_type', where, ni);
    const lc = list(kv, 'left_child', where, ni);
    const rc = list(kv, 'right_child', where, ni);
    const lv = list(kv, 'leaf_value', where, L);
    const gain = kv.has('split_gain') ? list(kv, 'split_gain', where, ni) : null;
    const decision = new Uint8Array(ni);
    for (let i = 0; i < ni; i++) {
      const d = dt[i];
      if (!Number.isInteger(d) || d < 0 || d > 15) bad(`${where}: decision_type[${i}] = ${d} is invalid`);
      if (d & 1) bad(`${where}: node ${i} is a categorical split (not supported)`);
      const mt = (d >> 2) & 3;
      if (mt === 3) bad(`${where}: node ${i} has unknown missing type 3`);
      decision[i] = decisionType((d & 2) !== 0, mt === 0 ? MISSING_NONE : mt === 1 ? MISSING_ZERO : MISSING_NAN);
    }
    return {
      numLeaves: L,
      splitFeature: Int32Array.from(feat),
      threshold: Float64Array.from(thr),
      decisionType: decision,
      leftChild: Int32Array.from(lc),
      rightChild: Int32Array.from(rc),
      leafValue: Float64Array.from(lv, (v) => v * scale),
      ...(gain ? { splitGain: Float64Array.from(gain) } : {}),
    };
  });
  const names = header.get('feature_names')?.trim().split(/\s+/);
  return {
    nFeatures,
    baseScore: 0,
    trees,
    objective: `lightgbm:${objName}`,
    featureNames: names && names.length === nFeatures ? names : undefined,
    source: 'lightgbm',
  };
}
