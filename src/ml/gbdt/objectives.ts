/**
 * Objectives (gradients of the loss w.r.t. the raw score) and the matching evaluation metrics.
 * Both objectives have a unit hessian, as in LightGBM.
 */
import type { MetricName, ObjectiveName } from './params.js';

export interface Objective {
  readonly name: ObjectiveName;
  /** Initial score (boost from average): mean for l2, median for huber. */
  initScore(y: Float64Array): number;
  /** Writes (gradient, hessian) of every row into `gh` (packed, 2 per row). */
  gradients(y: Float64Array, score: Float64Array, gh: Float64Array): void;
}

export function mean(y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i];
  return y.length > 0 ? s / y.length : 0;
}

export function median(y: Float64Array): number {
  if (y.length === 0) return 0;
  const s = Float64Array.from(y).sort();
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const l2Objective: Objective = {
  name: 'l2',
  initScore: mean,
  gradients(y, score, gh) {
    for (let i = 0; i < y.length; i++) {
      gh[2 * i] = score[i] - y[i];
      gh[2 * i + 1] = 1;
    }
  },
};

/** Huber loss: quadratic within ±delta of the label, linear outside (gradient clipped to ±delta). */
export function huberObjective(delta: number): Objective {
  return {
    name: 'huber',
    // The median is a robust start: one extreme label does not move every row's initial score.
    initScore: median,
    gradients(y, score, gh) {
      for (let i = 0; i < y.length; i++) {
        const d = score[i] - y[i];
        gh[2 * i] = d > delta ? delta : d < -delta ? -delta : d;
        gh[2 * i + 1] = 1;
      }
    },
  };
}

export function makeObjective(name: ObjectiveName, huberDelta: number): Objective {
  return name === 'huber' ? huberObjective(huberDelta) : l2Objective;
}

/** Mean loss of `score` against `y` (lower is better). */
export function evalMetric(name: MetricName, y: Float64Array, score: Float64Array, huberDelta: number): number {
  const n = y.length;
  let s = 0;
  if (name === 'l2') {
    for (let i = 0; i < n; i++) {
      const d = score[i] - y[i];
      s += d * d;
    }
  } else if (name === 'l1') {
    for (let i = 0; i < n; i++) s += Math.abs(score[i] - y[i]);
  } else {
    for (let i = 0; i < n; i++) {
      const a = Math.abs(score[i] - y[i]);
      s += a <= huberDelta ? 0.5 * a * a : huberDelta * (a - 0.5 * huberDelta);
    }
  }
  return n > 0 ? s / n : NaN;
}
