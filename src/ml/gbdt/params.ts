import { InputError } from '../../core/errors.js';

export type ObjectiveName = 'l2' | 'huber';
export type MetricName = 'l2' | 'l1' | 'huber';

/** Training parameters, named as in LightGBM. Every field is optional; see {@link DEFAULT_PARAMS}. */
export interface GbdtParams {
  objective?: ObjectiveName;
  /** Metric reported in the history and used for early stopping (default: the objective's loss). */
  metric?: MetricName;
  learning_rate?: number;
  num_leaves?: number;
  /** Maximum depth of a leaf (root = depth 0); <= 0 means no limit. */
  max_depth?: number;
  min_data_in_leaf?: number;
  min_sum_hessian_in_leaf?: number;
  lambda_l1?: number;
  lambda_l2?: number;
  min_gain_to_split?: number;
  /** Fraction of features sampled for each tree. */
  feature_fraction?: number;
  /** Fraction of rows sampled, re-drawn every `bagging_freq` iterations (0 disables bagging). */
  bagging_fraction?: number;
  bagging_freq?: number;
  seed?: number;
  num_boost_round?: number;
  /** Stop when the validation metric has not improved for this many rounds (0 disables). */
  early_stopping_rounds?: number;
  huber_delta?: number;
  /** Maximum number of value bins per feature (one more bin is reserved for missing values). */
  max_bin?: number;
  /** Rows sampled to find the bin boundaries. */
  bin_construct_sample_cnt?: number;
}

export type ResolvedParams = Required<Omit<GbdtParams, 'metric'>> & { metric: MetricName };

export const DEFAULT_PARAMS: Readonly<Omit<ResolvedParams, 'metric'>> = Object.freeze({
  objective: 'l2',
  learning_rate: 0.1,
  num_leaves: 31,
  max_depth: -1,
  min_data_in_leaf: 20,
  min_sum_hessian_in_leaf: 1e-3,
  lambda_l1: 0,
  lambda_l2: 0,
  min_gain_to_split: 0,
  feature_fraction: 1,
  bagging_fraction: 1,
  bagging_freq: 0,
  seed: 0,
  num_boost_round: 100,
  early_stopping_rounds: 0,
  huber_delta: 1,
  max_bin: 255,
  bin_construct_sample_cnt: 200_000,
});

type Check = (name: string, v: unknown) => void;

const num = (lo: number, hi: number, opts: { int?: boolean; loOpen?: boolean } = {}): Check => (name, v) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InputError(`GBDT parameter ${name} must be a finite number, got ${JSON.stringify(v)}`, 'bad_param');
  if (opts.int && !Number.isInteger(v)) throw new InputError(`GBDT parameter ${name} must be an integer, got ${v}`, 'bad_param');
  const okLo = opts.loOpen ? v > lo : v >= lo;
  if (!okLo || v > hi) {
    const range = `${opts.loOpen ? '(' : '['}${lo}, ${hi === Number.MAX_SAFE_INTEGER ? '∞' : hi}]`;
    throw new InputError(`GBDT parameter ${name} must be in ${range}, got ${v}`, 'bad_param');
  }
};

const oneOf = (values: readonly string[]): Check => (name, v) => {
  if (typeof v !== 'string' || !values.includes(v)) {
    throw new InputError(`GBDT parameter ${name} must be one of ${values.map((s) => `'${s}'`).join(', ')}, got ${JSON.stringify(v)}`, 'bad_param');
  }
};

const BIG = Number.MAX_SAFE_INTEGER;
const CHECKS: Record<keyof GbdtParams, Check> = {
  objective: oneOf(['l2', 'huber']),
  metric: oneOf(['l2', 'l1', 'huber']),
  learning_rate: num(0, BIG, { loOpen: true }),
  num_leaves: num(2, 131_072, { int: true }),
  max_depth: num(-BIG, 64, { int: true }),
  min_data_in_leaf: num(1, BIG, { int: true }),
  min_sum_hessian_in_leaf: num(0, BIG),
  lambda_l1: num(0, BIG),
  lambda_l2: num(0, BIG),
  min_gain_to_split: num(0, BIG),
  feature_fraction: num(0, 1, { loOpen: true }),
  bagging_fraction: num(0, 1, { loOpen: true }),
  bagging_freq: num(0, BIG, { int: true }),
  seed: num(-BIG, BIG, { int: true }),
  num_boost_round: num(1, 1_000_000, { int: true }),
  early_stopping_rounds: num(0, BIG, { int: true }),
  huber_delta: num(0, BIG, { loOpen: true }),
  max_bin: num(2, 255, { int: true }),
  bin_construct_sample_cnt: num(1, BIG, { int: true }),
};

/** Validates `params` (unknown names included) and fills in defaults; throws InputError naming the bad parameter. */
export function resolveParams(params: GbdtParams | undefined): ResolvedParams {
  if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) {
    throw new InputError('GBDT parameters must be an object', 'bad_param');
  }
  const p = (params ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(p)) {
    if (!(key in CHECKS)) throw new InputError(`unknown GBDT parameter ${key}`, 'bad_param');
    if (p[key] !== undefined) CHECKS[key as keyof GbdtParams](key, p[key]);
  }
  const out = { ...DEFAULT_PARAMS } as Record<string, unknown>;
  for (const [k, v] of Object.entries(p)) if (v !== undefined) out[k] = v;
  if (out.metric === undefined) out.metric = out.objective;
  return out as ResolvedParams;
}
