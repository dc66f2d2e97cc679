/** Qlib-style rolling and element-wise operators over Float64Array series (see each file). */
export { abs, greater, less, log, ref } from './elementwise.js';
export { rollingMean, rollingMeanStd, rollingStd, rollingSum } from './moments.js';
export { rollingRegression, rollingResi, rollingRsquare, rollingSlope, type RegressionOptions } from './regression.js';
export { rollingIdxMax, rollingIdxMin, rollingMax, rollingMaxIdx, rollingMin, rollingMinIdx } from './extrema.js';
export { rollingOrderStats, rollingQuantile, rollingRank } from './order-stats.js';
export { rollingCorr, type CorrOptions } from './pairwise.js';
