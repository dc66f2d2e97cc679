/**
 * Leaf-wise (best-first) tree growth on binned data, as LightGBM does it: repeatedly split the leaf whose
 * best split has the largest gain, until `num_leaves` leaves, no positive gain, or every leaf is at
 * `max_depth` / too small.
 *
 * Rows of a leaf are a contiguous segment of one shared index array, kept in ascending row order (stable
 * partition), so histogram construction streams through the bin matrix. For each split the histogram of
 * the smaller child is built and the larger child's is derived as parent − smaller, in the parent's slot.
 */
import { binUpperBound, type Binning } from './binning.js';
import { MODE_BUILD, MODE_SUBTRACT, type HistEngine } from './parallel.js';
import type { ResolvedParams } from './params.js';
import { R_BIN, R_DEFAULT_LEFT, R_FEATURE, R_GAIN, R_LEFT_G, R_LEFT_H, R_SIZE, leafOutput } from './split.js';

/** A grown tree in training form: bin thresholds (for binned traversal) and raw thresholds (for the model). */
export interface GrownTree {
  numLeaves: number;
  splitFeature: Int32Array;
  thresholdBin: Int32Array;
  threshold: Float64Array;
  defaultLeft: Uint8Array;
  leftChild: Int32Array;
  rightChild: Int32Array;
  splitGain: Float64Array;
  /** Leaf outputs before shrinkage (learning rate). */
  leafOutput: Float64Array;
  leafCount: Int32Array;
}

export class TreeGrower {
  private readonly maxLeaves: number;
  private readonly idx: Int32Array;
  private readonly tmp: Int32Array;
  private readonly gh: Float64Array;
  private readonly lut = new Uint8Array(256);
  // Per-leaf state.
  private readonly leafStartArr: Int32Array;
  private readonly leafEndArr: Int32Array;
  private readonly leafG: Float64Array;
  private readonly leafH: Float64Array;
  private readonly leafDepth: Int32Array;
  private readonly leafParent: Int32Array;
  private readonly leafIsLeft: Uint8Array;
  private readonly leafSlot: Int32Array;
  private readonly best: Float64Array;
  // Internal nodes.
  private readonly splitFeature: Int32Array;
  private readonly thresholdBin: Int32Array;
  private readonly defaultLeft: Uint8Array;
  private readonly leftChild: Int32Array;
  private readonly rightChild: Int32Array;
  private readonly splitGain: Float64Array;
  // Histogram slots.
  private readonly freeSlots: number[] = [];
  private numLeaves = 0;

  constructor(
    private readonly engine: HistEngine,
    private readonly bins: Uint8Array,
    private readonly rowStride: number,
    private readonly binning: Binning,
    private readonly p: ResolvedParams,
  ) {
    const L = p.num_leaves;
    this.maxLeaves = L;
    this.idx = engine.ctx.idx;
    this.gh = engine.ctx.gh;
    this.tmp = new Int32Array(this.idx.length);
    this.leafStartArr = new Int32Array(L);
    this.leafEndArr = new Int32Array(L);
    this.leafG = new Float64Array(L);
    this.leafH = new Float64Array(L);
    this.leafDepth = new Int32Array(L);
    this.leafParent = new Int32Array(L);
    this.leafIsLeft = new Uint8Array(L);
    this.leafSlot = new Int32Array(L);
    this.best = new Float64Array(L * R_SIZE);
    this.splitFeature = new Int32Array(L);
    this.thresholdBin = new Int32Array(L);
    this.defaultLeft = new Uint8Array(L);
    this.leftChild = new Int32Array(L);
    this.rightChild = new Int32Array(L);
    this.splitGain = new Float64Array(L);
  }

  /** Start of each leaf's row segment in the shared index array (valid until the next `grow`). */
  get leafStart(): Int32Array {
    return this.leafStartArr;
  }

  get leafEnd(): Int32Array {
    return this.leafEndArr;
  }

  private canSplit(leaf: number): boolean {
    const p = this.p;
    const count = this.leafEndArr[leaf] - this.leafStartArr[leaf];
    return (
      count >= 2 * p.min_data_in_leaf &&
      this.leafH[leaf] >= 2 * p.min_sum_hessian_in_leaf &&
      (p.max_depth <= 0 || this.leafDepth[leaf] < p.max_depth)
    );
  }

  private allocSlot(keep1: number, keep2: number): number {
    const s = this.freeSlots.pop();
    if (s !== undefined) return s;
    // Pool exhausted: evict the histogram of the leaf least likely to be split next.
    let victim = -1;
    for (let l = 0; l < this.numLeaves; l++) {
      if (l === keep1 || l === keep2 || this.leafSlot[l] < 0) continue;
      if (victim < 0 || this.best[l * R_SIZE + R_GAIN] < this.best[victim * R_SIZE + R_GAIN]) victim = l;
    }
    if (victim < 0) throw new Error('GBDT histogram pool too small');
    const slot = this.leafSlot[victim];
    this.leafSlot[victim] = -1;
    return slot;
  }

  private release(leaf: number): void {
    if (this.leafSlot[leaf] >= 0) {
      this.freeSlots.push(this.leafSlot[leaf]);
      this.leafSlot[leaf] = -1;
    }
  }

  private noSplit(leaf: number): void {
    this.best[leaf * R_SIZE + R_GAIN] = -Infinity;
  }

  /** Copies the engine's merged result of job `j` into leaf's best split; frees its slot if it cannot split. */
  private takeResult(leaf: number, j: number): void {
    this.best.set(this.engine.merged.subarray(j * R_SIZE, (j + 1) * R_SIZE), leaf * R_SIZE);
    if (!(this.best[leaf * R_SIZE + R_GAIN] > 0)) this.release(leaf);
  }

  /** Stable partition of a leaf's rows by a split; returns the number going left. */
  private partition(start: number, end: number, feature: number, bin: number, defaultLeft: number): number {
    const lut = this.lut;
    for (let b = 0; b < 256; b++) lut[b] = b <= bin ? 1 : 0;
    lut[this.binning.nValueBins[feature]] = defaultLeft;
    const bins = this.bins;
    const S = this.rowStride;
    const idx = this.idx;
    const tmp = this.tmp;
    let l = start;
    let r = 0;
    for (let p = start; p < end; p++) {
      const i = idx[p];
      if (lut[bins[i * S + feature]] === 1) idx[l++] = i;
      else tmp[r++] = i;
    }
    idx.set(tmp.subarray(0, r), l);
    return l - start;
  }

  /**
   * Grows one tree on rows idx[0..nRows) with the gradients in the engine's gh buffer.
   * Returns null when the root cannot be split.
   */
  grow(nRows: number): GrownTree | null {
    const engine = this.engine;
    const best = this.best;
    this.freeSlots.length = 0;
    for (let s = engine.shared.nSlots - 1; s >= 0; s--) this.freeSlots.push(s);
    this.leafSlot.fill(-1);

    const idx = this.idx;
    const gh = this.gh;
    let G = 0;
    let H = 0;
    for (let q = 0; q < nRows; q++) {
      const i = idx[q];
      G += gh[2 * i];
      H += gh[2 * i + 1];
    }
    this.numLeaves = 1;
    this.leafStartArr[0] = 0;
    this.leafEndArr[0] = nRows;
    this.leafG[0] = G;
    this.leafH[0] = H;
    this.leafDepth[0] = 0;
    this.leafParent[0] = -1;
    if (!this.canSplit(0)) return null;
    this.leafSlot[0] = this.allocSlot(-1, -1);
    engine.job(0, MODE_BUILD, this.leafSlot[0], 0, nRows, 0, true, G, H, nRows);
    engine.run();
    this.takeResult(0, 0);

    while (this.numLeaves < this.maxLeaves) {
      let leaf = -1;
      let bestGain = 0;
      for (let l = 0; l < this.numLeaves; l++) {
        const g = best[l * R_SIZE + R_GAIN];
        if (g > bestGain) {
          bestGain = g;
          leaf = l;
        }
      }
      if (leaf < 0) break;
      this.splitLeaf(leaf);
    }
    if (this.numLeaves === 1) return null;
    return this.snapshot();
  }

  private splitLeaf(leaf: number): void {
    const engine = this.engine;
    const bb = leaf * R_SIZE;
    const best = this.best;
    const feature = best[bb + R_FEATURE];
    const bin = best[bb + R_BIN];
    const defLeft = best[bb + R_DEFAULT_LEFT];
    const node = this.numLeaves - 1;
    const right = this.numLeaves;

    const parent = this.leafParent[leaf];
    if (parent >= 0) {
      if (this.leafIsLeft[leaf]) this.leftChild[parent] = node;
      else this.rightChild[parent] = node;
    }
    this.splitFeature[node] = feature;
    this.thresholdBin[node] = bin;
    this.defaultLeft[node] = defLeft;
    this.leftChild[node] = ~leaf;
    this.rightChild[node] = ~right;
    this.splitGain[node] = best[bb + R_GAIN];

    const start = this.leafStartArr[leaf];
    const end = this.leafEndArr[leaf];
    const nLeft = this.partition(start, end, feature, bin, defLeft);
    const G = this.leafG[leaf];
    const H = this.leafH[leaf];
    const depth = this.leafDepth[leaf] + 1;
    this.leafEndArr[leaf] = start + nLeft;
    this.leafStartArr[right] = start + nLeft;
    this.leafEndArr[right] = end;
    this.leafG[leaf] = best[bb + R_LEFT_G];
    this.leafH[leaf] = best[bb + R_LEFT_H];
    this.leafG[right] = G - best[bb + R_LEFT_G];
    this.leafH[right] = H - best[bb + R_LEFT_H];
    this.leafDepth[leaf] = depth;
    this.leafDepth[right] = depth;
    this.leafParent[leaf] = node;
    this.leafIsLeft[leaf] = 1;
    this.leafParent[right] = node;
    this.leafIsLeft[right] = 0;
    this.leafSlot[right] = -1;
    this.numLeaves++;
    this.noSplit(leaf);
    this.noSplit(right);
    if (this.numLeaves >= this.maxLeaves) return; // no further splits: no histograms needed

    const parentSlot = this.leafSlot[leaf];
    this.leafSlot[leaf] = -1;
    const nRight = end - start - nLeft;
    const small = nLeft <= nRight ? leaf : right;
    const large = small === leaf ? right : leaf;
    const needSmall = this.canSplit(small);
    const needLarge = this.canSplit(large);
    const rows = (l: number): [number, number] => [this.leafStartArr[l], this.leafEndArr[l]];
    const sums = (l: number): [number, number, number] => [this.leafG[l], this.leafH[l], this.leafEndArr[l] - this.leafStartArr[l]];

    if (!needSmall && !needLarge) {
      if (parentSlot >= 0) this.freeSlots.push(parentSlot);
      return;
    }
    if (parentSlot >= 0 && needLarge) {
      // Build the smaller child, derive the larger one in the parent's slot.
      const smallSlot = this.allocSlot(leaf, right);
      const [s0, s1] = rows(small);
      const [gs, hs, cs] = sums(small);
      const [gl, hl, cl] = sums(large);
      engine.job(0, MODE_BUILD, smallSlot, s0, s1, 0, needSmall, gs, hs, cs);
      engine.job(1, MODE_SUBTRACT, parentSlot, 0, 0, smallSlot, true, gl, hl, cl);
      engine.run();
      this.leafSlot[small] = smallSlot;
      this.leafSlot[large] = parentSlot;
      if (needSmall) this.takeResult(small, 0);
      else this.release(small);
      this.takeResult(large, 1);
      return;
    }
    // Only the smaller child can split, or the parent's histogram was evicted: build what is needed.
    if (parentSlot >= 0) this.freeSlots.push(parentSlot);
    const targets = [needSmall ? small : -1, needLarge ? large : -1].filter((l) => l >= 0);
    targets.forEach((l, j) => {
      this.leafSlot[l] = this.allocSlot(leaf, right);
      const [s0, s1] = rows(l);
      const [g, h, c] = sums(l);
      engine.job(j, MODE_BUILD, this.leafSlot[l], s0, s1, 0, true, g, h, c);
    });
    engine.run();
    targets.forEach((l, j) => this.takeResult(l, j));
  }

  private snapshot(): GrownTree {
    const L = this.numLeaves;
    const ni = L - 1;
    const p = this.p;
    const threshold = new Float64Array(ni);
    for (let i = 0; i < ni; i++) threshold[i] = binUpperBound(this.binning, this.splitFeature[i], this.thresholdBin[i]);
    const out = new Float64Array(L);
    const count = new Int32Array(L);
    for (let l = 0; l < L; l++) {
      out[l] = leafOutput(this.leafG[l], this.leafH[l], p.lambda_l1, p.lambda_l2);
      count[l] = this.leafEndArr[l] - this.leafStartArr[l];
    }
    return {
      numLeaves: L,
      splitFeature: this.splitFeature.slice(0, ni),
      thresholdBin: this.thresholdBin.slice(0, ni),
      threshold,
      defaultLeft: this.defaultLeft.slice(0, ni),
      leftChild: this.leftChild.slice(0, ni),
      rightChild: this.rightChild.slice(0, ni),
      splitGain: this.splitGain.slice(0, ni),
      leafOutput: out,
      leafCount: count,
    };
  }
}

/**
 * Adds `scale × leaf output` of a grown tree to `out[row]` for the listed rows of a binned matrix
 * (all rows when `rows` is null).
 */
export function addBinnedPredictions(
  tree: GrownTree,
  scale: number,
  bins: Uint8Array,
  rowStride: number,
  nValueBins: Int32Array,
  rows: Int32Array | null,
  nRows: number,
  out: Float64Array,
): void {
  const sf = tree.splitFeature;
  const tb = tree.thresholdBin;
  const dl = tree.defaultLeft;
  const lc = tree.leftChild;
  const rc = tree.rightChild;
  const lv = tree.leafOutput;
  for (let k = 0; k < nRows; k++) {
    const i = rows ? rows[k] : k;
    const rb = i * rowStride;
    let n = 0;
    while (n >= 0) {
      const f = sf[n];
      const b = bins[rb + f];
      const goLeft = b === nValueBins[f] ? dl[n] === 1 : b <= tb[n];
      n = goLeft ? lc[n] : rc[n];
    }
    out[i] += scale * lv[~n];
  }
}
