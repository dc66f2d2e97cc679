/**
 * The GBDT model format (shared by the model, the trainer and the XGBoost/LightGBM importers).
 *
 * A tree has `numLeaves` leaves and `numLeaves − 1` internal nodes (node 0 is the root). A child index
 * >= 0 is an internal node, a negative one is the leaf `~child` (LightGBM's convention). A row goes left
 * when `x <= threshold`. Missing values follow the node's default direction; which values are missing
 * is the node's missing type (bits 1–2 of `decisionType`; bit 0 = default left):
 *
 *   0 NONE       NaN is treated as 0 and compared (LightGBM's "None")
 *   1 ZERO       NaN and |x| <= 1e-35 are missing (LightGBM's "Zero")
 *   2 NAN        NaN is missing; ±Infinity is compared (LightGBM's "NaN", XGBoost)
 *   3 NONFINITE  NaN and ±Infinity are missing (models trained here: the binning puts ±Infinity with NaN)
 *
 * Thresholds are raw feature values, so a model does not depend on the binning that trained it.
 */

export const MODEL_FORMAT = 'kestrel-gbdt';
export const MODEL_VERSION = 1;

export const DEFAULT_LEFT = 1;
export const MISSING_NONE = 0;
export const MISSING_ZERO = 1;
export const MISSING_NAN = 2;
export const MISSING_NONFINITE = 3;

export function decisionType(defaultLeft: boolean, missingType: number): number {
  return (defaultLeft ? DEFAULT_LEFT : 0) | (missingType << 1);
}

/** LightGBM's kZeroThreshold (1e-35f). */
export const ZERO_THRESHOLD = Math.fround(1e-35);

export interface GbdtTree {
  numLeaves: number;
  splitFeature: Int32Array;
  threshold: Float64Array;
  decisionType: Uint8Array;
  leftChild: Int32Array;
  rightChild: Int32Array;
  leafValue: Float64Array;
  /** Gain of each split (training or source model), for importance; optional. */
  splitGain?: Float64Array;
}

/**
 * What the model was trained to predict (metadata, not used by inference): `kind` names the
 * label (`return`, `abs_return`, …) so a consumer can refuse a model whose output it cannot use;
 * `expr` is the raw label's definition and `transform` how it was processed before training.
 */
export interface ModelLabel {
  kind: string;
  expr?: string;
  transform?: string;
}

export interface GbdtModelInit {
  nFeatures: number;
  baseScore: number;
  trees: GbdtTree[];
  objective?: string;
  featureNames?: string[];
  /** Where the model came from: 'kestrel', 'xgboost', 'lightgbm'. */
  source?: string;
  label?: ModelLabel;
}

export interface GbdtTreeJson {
  numLeaves: number;
  splitFeature: number[];
  /** Non-finite thresholds are written as the strings "Infinity" / "-Infinity". */
  threshold: Array<number | string>;
  decisionType: number[];
  leftChild: number[];
  rightChild: number[];
  leafValue: number[];
  splitGain?: number[];
}

export interface GbdtModelJson {
  format: typeof MODEL_FORMAT;
  version: typeof MODEL_VERSION;
  objective: string;
  source: string;
  nFeatures: number;
  featureNames?: string[];
  /** Optional (older files have none). */
  label?: ModelLabel;
  baseScore: number;
  trees: GbdtTreeJson[];
}

