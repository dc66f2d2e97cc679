import type { Counter, Gauge, Histogram } from 'prom-client';
import type { Metrics } from '../observability/metrics.js';
import type { BreakerStateName } from './breaker-state.js';

/** Risk's Prometheus series (names get the `kestrel_` prefix), registered on the service's registry. */
export interface RiskMetrics {
  /** Orders refused by a pre-trade check, by reason code. */
  rejections: Counter<string>;
  /** Orders that passed, by whether they reduce a position. */
  approvals: Counter<string>;
  /** Whole pre-trade hook: snapshot + breaker + checks. */
  checkSeconds: Histogram<string>;
  /** 0 OPEN, 1 TRIPPED, 2 QUIET_PERIOD, -1 unavailable (as last seen by this replica). */
  breakerState: Gauge<string>;
  breakerTransitions: Counter<string>;
  deriskActions: Counter<string>;
}

export const BREAKER_STATE_VALUE: Readonly<Record<BreakerStateName | 'UNAVAILABLE', number>> = { OPEN: 0, TRIPPED: 1, QUIET_PERIOD: 2, UNAVAILABLE: -1 };

export function riskMetrics(m: Metrics): RiskMetrics {
  return {
    rejections: m.counter('risk_rejections_total', 'orders refused by a pre-trade risk check', ['code']),
    approvals: m.counter('risk_approvals_total', 'orders that passed the pre-trade risk checks', ['reducing']),
    checkSeconds: m.histogram('risk_check_seconds', 'pre-trade risk hook latency (snapshot, breaker, checks)', [], [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25]),
    breakerState: m.gauge('risk_breaker_state', 'circuit breaker state: 0 OPEN, 1 TRIPPED, 2 QUIET_PERIOD, -1 unavailable', ['breaker']),
    breakerTransitions: m.counter('risk_breaker_transitions_total', 'circuit breaker transitions made by this replica', ['breaker', 'to', 'trigger']),
    deriskActions: m.counter('risk_derisk_actions_total', 'automatic de-risking actions by kind and outcome', ['action', 'outcome']),
  };
}
