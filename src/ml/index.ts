/** Machine learning: histogram GBDT (training, inference, XGBoost/LightGBM model import) and metrics. */
export { trainGbdt, type GbdtDataset, type TrainOptions, type TrainResult, type IterationRecord } from './gbdt/train.js';
export {
  GbdtModel,
  loadXGBoostJson,
  loadLightGBMText,
  MODEL_FORMAT,
  MODEL_VERSION,
  type GbdtModelJson,
  type GbdtTree,
  type GbdtTreeJson,
  type GbdtModelInit,
  type ModelLabel,
} from './gbdt/model.js';
export type { LightGBMLoadOptions } from './interop/lightgbm.js';
export { DEFAULT_PARAMS, type GbdtParams, type ObjectiveName, type MetricName } from './gbdt/params.js';
export { mse, pearson, spearman, averageRanks, dailyIc, icStats, icSummary, tieShare, type DailyIc, type IcStats, type IcSummary } from './metrics.js';
