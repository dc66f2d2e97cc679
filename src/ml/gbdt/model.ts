/**
 * The GBDT model: validation, JSON (de)serialisation, XGBoost/LightGBM import, and fast batch inference
 * on raw feature values. The format is described in format.ts.
 */
import { InputError } from '../../core/errors.js';
import { lightgbmModelInit, type LightGBMLoadOptions } from '../interop/lightgbm.js';
import { xgboostModelInit } from '../interop/xgboost.js';
import {
  DEFAULT_LEFT,
  MISSING_NAN,
  MISSING_NONFINITE,
  MISSING_ZERO,
  MODEL_FORMAT,
  MODEL_VERSION,
  ZERO_THRESHOLD,
  type GbdtModelInit,
  type GbdtModelJson,
  type GbdtTree,
  type GbdtTreeJson,
  type ModelLabel,
} from './format.js';

export * from './format.js';

function bad(msg: string): never {
  throw new InputError(`invalid GBDT model: ${msg}`, 'bad_model');
}

/** Checks one tree's structure: sizes, ranges, and that the nodes form a tree rooted at node 0. */
function validateTree(t: GbdtTree, k: number, nFeatures: number): void {
  const L = t.numLeaves;
  if (!Number.isInteger(L) || L < 1) bad(`tree ${k}: numLeaves must be an integer >= 1`);
  const ni = L - 1;
  const arrays: Array<[string, ArrayLike<number>]> = [
    ['splitFeature', t.splitFeature],
    ['threshold', t.threshold],
    ['decisionType', t.decisionType],
    ['leftChild', t.leftChild],
    ['rightChild', t.rightChild],
  ];
  for (const [name, a] of arrays) if (a.length !== ni) bad(`tree ${k}: ${name} has ${a.length} entries, expected ${ni}`);
  if (t.leafValue.length !== L) bad(`tree ${k}: leafValue has ${t.leafValue.length} entries, expected ${L}`);
  if (t.splitGain && t.splitGain.length !== ni) bad(`tree ${k}: splitGain has ${t.splitGain.length} entries, expected ${ni}`);
  for (let i = 0; i < L; i++) if (!Number.isFinite(t.leafValue[i])) bad(`tree ${k}: leaf ${i} value is not finite`);
  const seenNode = new Uint8Array(ni);
  const seenLeaf = new Uint8Array(L);
  for (let i = 0; i < ni; i++) {
    const f = t.splitFeature[i];
    if (!(f >= 0 && f < nFeatures)) bad(`tree ${k}: node ${i} splits on feature ${f}, model has ${nFeatures}`);
    if (Number.isNaN(t.threshold[i])) bad(`tree ${k}: node ${i} threshold is NaN`);
    if (t.decisionType[i] > 7) bad(`tree ${k}: node ${i} decisionType ${t.decisionType[i]} is not 0..7`);
    for (const c of [t.leftChild[i], t.rightChild[i]]) {
      if (c >= 0) {
        if (c >= ni || c === 0) bad(`tree ${k}: node ${i} has child node ${c} out of range`);
        if (seenNode[c]++) bad(`tree ${k}: node ${c} has two parents`);
      } else {
        const leaf = ~c;
        if (leaf >= L) bad(`tree ${k}: node ${i} has child leaf ${leaf} out of range`);
        if (seenLeaf[leaf]++) bad(`tree ${k}: leaf ${leaf} has two parents`);
      }
    }
  }
  // Every non-root node has exactly one parent and every leaf is reached: with ni nodes and L = ni + 1 leaves
  // this means the graph is a tree rooted at 0 (no cycles possible with all in-degrees 1 and n−1 edges).
  for (let i = 1; i < ni; i++) if (!seenNode[i]) bad(`tree ${k}: node ${i} is unreachable`);
  if (L > 1) for (let i = 0; i < L; i++) if (!seenLeaf[i]) bad(`tree ${k}: leaf ${i} is unreachable`);
}

export class GbdtModel {
  readonly nFeatures: number;
  readonly baseScore: number;
  readonly objective: string;
  readonly source: string;
  readonly featureNames?: string[];
  /** What the model predicts, when its maker said so (see ModelLabel). */
  readonly label?: ModelLabel;
  readonly trees: readonly GbdtTree[];
  // Flattened trees for inference. Every node of every tree, leaves included, is a slot; a leaf points to
  // itself, so a tree is evaluated in exactly `treeDepth` branch-free steps: q = kids[2q + goRight].
  private readonly roots: Int32Array;
  private readonly treeDepth: Int32Array;
  private readonly nodeFeature: Int32Array;
  private readonly nodeThreshold: Float64Array;
  private readonly nodeKids: Int32Array;
  /** 1 when missing values go right. */
  private readonly nodeDefaultRight: Int32Array;
  private readonly nodeMissing: Uint8Array;
  private readonly nodeValue: Float64Array;
  /** The missing type shared by every node, or -1 when mixed. */
  private readonly uniformMissing: number;

  constructor(init: GbdtModelInit) {
    if (!Number.isInteger(init.nFeatures) || init.nFeatures < 1) bad('nFeatures must be an integer >= 1');
    if (!Number.isFinite(init.baseScore)) bad('baseScore must be a finite number');
    if (init.featureNames && init.featureNames.length !== init.nFeatures) bad(`featureNames has ${init.featureNames.length} names for ${init.nFeatures} features`);
    init.trees.forEach((t, k) => validateTree(t, k, init.nFeatures));
    this.nFeatures = init.nFeatures;
    this.baseScore = init.baseScore;
    this.objective = init.objective ?? 'l2';
    this.source = init.source ?? 'kestrel';
    if (init.featureNames) this.featureNames = [...init.featureNames];
    if (init.label) this.label = checkLabel(init.label);
    this.trees = init.trees;

    let total = 0;
    for (const t of init.trees) total += 2 * t.numLeaves - 1;
    const T = init.trees.length;
    this.roots = new Int32Array(T);
    this.treeDepth = new Int32Array(T);
    this.nodeFeature = new Int32Array(total);
    this.nodeThreshold = new Float64Array(total);
    this.nodeKids = new Int32Array(2 * total);
    this.nodeDefaultRight = new Int32Array(total);
    this.nodeMissing = new Uint8Array(total);
    this.nodeValue = new Float64Array(total);
    let uniform = -2;
    let base = 0;
    init.trees.forEach((t, k) => {
      const ni = t.numLeaves - 1;
      const slot = (c: number): number => (c >= 0 ? base + c : base + ni + ~c);
      this.roots[k] = base; // node 0, or the only leaf of a one-leaf tree
      for (let i = 0; i < ni; i++) {
        const q = base + i;
        this.nodeFeature[q] = t.splitFeature[i];
        this.nodeThreshold[q] = t.threshold[i];
        this.nodeKids[2 * q] = slot(t.leftChild[i]);
        this.nodeKids[2 * q + 1] = slot(t.rightChild[i]);
        const dt = t.decisionType[i];
        this.nodeDefaultRight[q] = dt & DEFAULT_LEFT ? 0 : 1;
        const mt = (dt >> 1) & 3;
        this.nodeMissing[q] = mt;
        uniform = uniform === -2 || uniform === mt ? mt : -1;
      }
      for (let l = 0; l < t.numLeaves; l++) {
        const q = base + ni + l;
        this.nodeKids[2 * q] = q;
        this.nodeKids[2 * q + 1] = q;
        this.nodeValue[q] = t.leafValue[l];
        this.nodeMissing[q] = MISSING_NAN;
      }
      let depth = 0;
      if (ni > 0) {
        const stack: Array<[number, number]> = [[0, 0]];
        while (stack.length > 0) {
          const [node, d] = stack.pop()!;
          if (node < 0) depth = Math.max(depth, d);
          else stack.push([t.leftChild[node], d + 1], [t.rightChild[node], d + 1]);
        }
      }
      this.treeDepth[k] = depth;
      base += 2 * t.numLeaves - 1;
    });
    this.uniformMissing = uniform === -2 ? MISSING_NONFINITE : uniform;
  }

  get numTrees(): number {
    return this.trees.length;
  }

  /** Predictions for `nRows` rows of the row-major matrix X (n × nFeatures, NaN = missing). */
  predict(X: Float64Array, nRows: number): Float64Array {
    if (!(X instanceof Float64Array)) throw new InputError('predict: X must be a Float64Array');
    if (!Number.isInteger(nRows) || nRows < 0) throw new InputError(`predict: nRows must be a non-negative integer, got ${nRows}`);
    if (X.length !== nRows * this.nFeatures) {
      throw new InputError(`predict: X has ${X.length} values, expected nRows × nFeatures = ${nRows} × ${this.nFeatures}`);
    }
    const out = new Float64Array(nRows).fill(this.baseScore);
    if (this.uniformMissing === MISSING_NONFINITE || this.uniformMissing === MISSING_NAN) {
      this.predictFast(X, nRows, out, this.uniformMissing === MISSING_NAN ? 1 : 0);
    } else this.predictGeneral(X, nRows, out);
    return out;
  }

  /**
   * All nodes share one missing type (NaN only, or NaN and ±Infinity): tree by tree, eight rows at a time,
   * branch-free steps (the comparison result indexes the children), so eight independent chains of
   * dependent loads overlap in the CPU. Trees are added in order, exactly as training accumulated them.
   */
  private predictFast(X: Float64Array, nRows: number, out: Float64Array, nanOnly: number): void {
    const F = this.nFeatures;
    const feat = this.nodeFeature;
    const thr = this.nodeThreshold;
    const kids = this.nodeKids;
    const dr = this.nodeDefaultRight;
    const val = this.nodeValue;
    const F2 = 2 * F;
    const F3 = 3 * F;
    const F4 = 4 * F;
    const F5 = 5 * F;
    const F6 = 6 * F;
    const F7 = 7 * F;
    for (let t = 0; t < this.roots.length; t++) {
      const root = this.roots[t];
      const D = this.treeDepth[t];
      let r = 0;
      for (; r + 7 < nRows; r += 8) {
        const b = r * F;
        let q0 = root;
        let q1 = root;
        let q2 = root;
        let q3 = root;
        let q4 = root;
        let q5 = root;
        let q6 = root;
        let q7 = root;
        for (let d = 0; d < D; d++) {
          // goRight = missing ? defaultRight : x > threshold   (missing: NaN, or non-finite when !nanOnly)
          let x = X[b + feat[q0]];
          let m = nanOnly ? +(x !== x) : +(x - x !== 0);
          q0 = kids[2 * q0 + ((+(x > thr[q0]) & (m ^ 1)) | (dr[q0] & m))];
          x = X[b + F + feat[q1]];
          m = nanOnly ? +(x !== x) : +(x - x !== 0);
          q1 = kids[2 * q1 + ((+(x > thr[q1]) & (m ^ 1)) | (dr[q1] & m))];
          x = X[b + F2 + feat[q2]];
          m = nanOnly ? +(x !== x) : +(x - x !== 0);
          q2 = kids[2 * q2 + ((+(x > thr[q2]) & (m ^ 1)) | (dr[q2] & m))];
          x = X[b + F3 + feat[q3]];
          m = nanOnly ? +(x !== x) : +(x - x !== 0);
          q3 = kids[2 * q3 + ((+(x > thr[q3]) & (m ^ 1)) | (dr[q3] & m))];
          x = X[b + F4 + feat[q4]];
          m = nanOnly ? +(x !== x) : +(x - x !== 0);
          q4 = kids[2 * q4 + ((+(x > thr[q4]) & (m ^ 1)) | (dr[q4] & m))];
          x = X[b + F5 + feat[q5]];
          m = nanOnly ? +(x !== x) : +(x - x !== 0);
          q5 = kids[2 * q5 + ((+(x > thr[q5]) & (m ^ 1)) | (dr[q5] & m))];
          x = X[b + F6 + feat[q6]];
          m = nanOnly ? +(x !== x) : +(x - x !== 0);
          q6 = kids[2 * q6 + ((+(x > thr[q6]) & (m ^ 1)) | (dr[q6] & m))];
          x = X[b + F7 + feat[q7]];
          m = nanOnly ? +(x !== x) : +(x - x !== 0);
          q7 = kids[2 * q7 + ((+(x > thr[q7]) & (m ^ 1)) | (dr[q7] & m))];
        }
        out[r] += val[q0];
        out[r + 1] += val[q1];
        out[r + 2] += val[q2];
        out[r + 3] += val[q3];
        out[r + 4] += val[q4];
        out[r + 5] += val[q5];
        out[r + 6] += val[q6];
        out[r + 7] += val[q7];
      }
      for (; r < nRows; r++) {
        const b = r * F;
        let q = root;
        for (let d = 0; d < D; d++) {
          const x = X[b + feat[q]];
          const m = nanOnly ? +(x !== x) : +(x - x !== 0);
          q = kids[2 * q + ((+(x > thr[q]) & (m ^ 1)) | (dr[q] & m))];
        }
        out[r] += val[q];
      }
    }
  }

  /** Mixed missing types (LightGBM None / Zero): per-node rules. */
  private predictGeneral(X: Float64Array, nRows: number, out: Float64Array): void {
    const F = this.nFeatures;
    for (let t = 0; t < this.roots.length; t++) {
      const root = this.roots[t];
      const D = this.treeDepth[t];
      for (let r = 0; r < nRows; r++) {
        const b = r * F;
        let q = root;
        for (let d = 0; d < D; d++) {
          let x = X[b + this.nodeFeature[q]];
          const mt = this.nodeMissing[q];
          let missing: boolean;
          if (mt === MISSING_NAN) missing = x !== x;
          else if (mt === MISSING_NONFINITE) missing = x - x !== 0;
          else {
            if (x !== x) x = 0;
            missing = mt === MISSING_ZERO && x >= -ZERO_THRESHOLD && x <= ZERO_THRESHOLD;
          }
          const right = missing ? this.nodeDefaultRight[q] === 1 : !(x <= this.nodeThreshold[q]);
          q = this.nodeKids[2 * q + (right ? 1 : 0)];
        }
        out[r] += this.nodeValue[q];
      }
    }
  }

  /** The versioned JSON form (see {@link GbdtModel.fromJSON}). */
  toJSON(): GbdtModelJson {
    const json: GbdtModelJson = {
      format: MODEL_FORMAT,
      version: MODEL_VERSION,
      objective: this.objective,
      source: this.source,
      nFeatures: this.nFeatures,
      baseScore: this.baseScore,
      trees: this.trees.map((t) => {
        const tj: GbdtTreeJson = {
          numLeaves: t.numLeaves,
          splitFeature: Array.from(t.splitFeature),
          threshold: Array.from(t.threshold, (v) => (Number.isFinite(v) ? v : String(v))),
          decisionType: Array.from(t.decisionType),
          leftChild: Array.from(t.leftChild),
          rightChild: Array.from(t.rightChild),
          leafValue: Array.from(t.leafValue),
        };
        if (t.splitGain) tj.splitGain = Array.from(t.splitGain);
        return tj;
      }),
    };
    if (this.featureNames) json.featureNames = [...this.featureNames];
    if (this.label) json.label = { ...this.label };
    return json;
  }

  /** Converts an XGBoost JSON model (`save_model('m.json')`; object or text). See interop/xgboost.ts. */
  static loadXGBoostJson(json: unknown): GbdtModel {
    return new GbdtModel(xgboostModelInit(json));
  }

  /** Converts a LightGBM text model (`save_model('m.txt')`). See interop/lightgbm.ts. */
  static loadLightGBMText(text: string, opts: LightGBMLoadOptions = {}): GbdtModel {
    return new GbdtModel(lightgbmModelInit(text, opts));
  }

  /** Loads a model from its JSON form (object or string); throws InputError on anything malformed. */
  static fromJSON(json: unknown): GbdtModel {
    let j: unknown = json;
    if (typeof j === 'string') {
      try {
        j = JSON.parse(j);
      } catch (err) {
        bad(`not JSON (${err instanceof Error ? err.message : String(err)})`);
      }
    }
    if (typeof j !== 'object' || j === null || Array.isArray(j)) bad('expected a JSON object');
    const o = j as Record<string, unknown>;
    if (o.format !== MODEL_FORMAT) bad(`format is ${JSON.stringify(o.format)}, expected "${MODEL_FORMAT}"`);
    if (o.version !== MODEL_VERSION) bad(`unsupported version ${JSON.stringify(o.version)} (this build reads version ${MODEL_VERSION})`);
    const nFeatures = o.nFeatures;
    if (typeof nFeatures !== 'number') bad('nFeatures must be a number');
    if (typeof o.baseScore !== 'number') bad('baseScore must be a number');
    if (!Array.isArray(o.trees)) bad('trees must be an array');
    if (o.featureNames !== undefined && !(Array.isArray(o.featureNames) && o.featureNames.every((s) => typeof s === 'string'))) {
      bad('featureNames must be an array of strings');
    }
    const trees = (o.trees as unknown[]).map((tj, k) => treeFromJson(tj, k));
    return new GbdtModel({
      nFeatures,
      baseScore: o.baseScore,
      trees,
      objective: typeof o.objective === 'string' ? o.objective : undefined,
      source: typeof o.source === 'string' ? o.source : undefined,
      featureNames: o.featureNames as string[] | undefined,
      label: o.label === undefined ? undefined : checkLabel(o.label),
    });
  }

  /** The same trees with `label` as their metadata. */
  withLabel(label: ModelLabel): GbdtModel {
    return new GbdtModel({ nFeatures: this.nFeatures, baseScore: this.baseScore, trees: [...this.trees], objective: this.objective, source: this.source, featureNames: this.featureNames, label });
  }
}

const LABEL_KIND_RE = /^[a-z][a-z0-9_]{0,31}$/;

function checkLabel(v: unknown): ModelLabel {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad('label must be an object { kind, expr?, transform? }');
  const l = v as Record<string, unknown>;
  if (typeof l.kind !== 'string' || !LABEL_KIND_RE.test(l.kind)) bad(`label.kind must be 1-32 of a-z 0-9 _ starting with a letter, got ${JSON.stringify(l.kind)}`);
  for (const k of ['expr', 'transform'] as const) if (l[k] !== undefined && (typeof l[k] !== 'string' || l[k].length > 500)) bad(`label.${k} must be a string of at most 500 characters`);
  const out: ModelLabel = { kind: l.kind };
  if (typeof l.expr === 'string') out.expr = l.expr;
  if (typeof l.transform === 'string') out.transform = l.transform;
  return out;
}

function numbers(v: unknown, what: string, kind: 'int' | 'float' | 'threshold'): number[] {
  if (!Array.isArray(v)) bad(`${what} must be an array`);
  return v.map((x, i) => {
    if (typeof x === 'number') {
      if (kind === 'int' && !(Number.isInteger(x) && Math.abs(x) < 2 ** 31)) bad(`${what}[${i}] is not a 32-bit integer`);
      return x;
    }
    if (kind === 'threshold' && (x === 'Infinity' || x === '-Infinity')) return Number(x);
    return bad(`${what}[${i}] is not a number`);
  });
}

function treeFromJson(tj: unknown, k: number): GbdtTree {
  if (typeof tj !== 'object' || tj === null) bad(`tree ${k} must be an object`);
  const t = tj as Record<string, unknown>;
  if (typeof t.numLeaves !== 'number') bad(`tree ${k}: numLeaves must be a number`);
  const tree: GbdtTree = {
    numLeaves: t.numLeaves,
    splitFeature: Int32Array.from(numbers(t.splitFeature, `tree ${k} splitFeature`, 'int')),
    threshold: Float64Array.from(numbers(t.threshold, `tree ${k} threshold`, 'threshold')),
    decisionType: Uint8Array.from(numbers(t.decisionType, `tree ${k} decisionType`, 'int').map((d) => (d >= 0 && d <= 7 ? d : bad(`tree ${k}: decisionType ${d} is not 0..7`)))),
    leftChild: Int32Array.from(numbers(t.leftChild, `tree ${k} leftChild`, 'int')),
    rightChild: Int32Array.from(numbers(t.rightChild, `tree ${k} rightChild`, 'int')),
    leafValue: Float64Array.from(numbers(t.leafValue, `tree ${k} leafValue`, 'float')),
  };
  if (t.splitGain !== undefined) tree.splitGain = Float64Array.from(numbers(t.splitGain, `tree ${k} splitGain`, 'float'));
  return tree;
}

/** Converts an XGBoost JSON model into a GbdtModel (same as {@link GbdtModel.loadXGBoostJson}). */
export function loadXGBoostJson(json: unknown): GbdtModel {
  return GbdtModel.loadXGBoostJson(json);
}

/** Converts a LightGBM text model into a GbdtModel (same as {@link GbdtModel.loadLightGBMText}). */
export function loadLightGBMText(text: string, opts: LightGBMLoadOptions = {}): GbdtModel {
  return GbdtModel.loadLightGBMText(text, opts);
}
