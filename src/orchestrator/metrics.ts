import type { Counter, Gauge, Histogram } from 'prom-client';
import type { Metrics } from '../observability/metrics.js';

/** The orchestrator's Prometheus series (names are prefixed `kestrel_`). */
export interface OrchestratorMetrics {
  /** Requests by outcome: created, existing, resumed, scheduled, conflict, invalid. */
  requests: Counter<string>;
  /** Finished run attempts by final status and trigger. */
  runs: Counter<string>;
  /** Duration of run phases: signals, positions, plan, submit, total. */
  phaseSeconds: Histogram<string>;
  /** Order submissions by outcome: created, existing, rejected, failed, retried. */
  orders: Counter<string>;
  /** signals.generated events by outcome: ran, stale, invalid, conflict, retry. */
  events: Counter<string>;
  inProgress: Gauge<string>;
}

export function orchestratorMetrics(m: Metrics): OrchestratorMetrics {
  return {
    requests: m.counter('orchestrator_requests_total', 'Run requests (HTTP, events, CLI) by outcome', ['outcome']),
    runs: m.counter('orchestrator_runs_total', 'Finished run attempts by final status', ['status', 'trigger']),
    phaseSeconds: m.histogram('orchestrator_phase_seconds', 'Duration of run phases', ['phase'], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]),
    orders: m.counter('orchestrator_orders_total', 'Order submissions to the gateway by outcome', ['outcome']),
    events: m.counter('orchestrator_events_total', 'signals.generated events handled, by outcome', ['outcome']),
    inProgress: m.gauge('orchestrator_runs_in_progress', 'Runs executing in this process'),
  };
}
