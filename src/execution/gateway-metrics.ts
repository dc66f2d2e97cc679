import type { Counter, Gauge, Histogram } from 'prom-client';
import type { Metrics } from '../observability/metrics.js';

/** The gateway's own Prometheus series (names get the `kestrel_` prefix). */
export interface GatewayMetrics {
  /** New orders by outcome: sent (the broker acknowledged), pending (broker down, retrier owns it), dry_run, rejected (by the broker). */
  submitted: Counter<string>;
  /** Submissions answered with an existing order (HTTP 200). */
  duplicates: Counter<string>;
  /** Refusals by reason: pretrade:<code>, kill_switch, stale_trade_date, broker. */
  rejected: Counter<string>;
  /** Broker call failures by operation and kind (unavailable, rejected, duplicate, other). */
  brokerErrors: Counter<string>;
  /** POST /api/v1/orders for new orders, write-ahead to answer (includes the broker call). */
  submitLatency: Histogram<string>;
  /** Orders in pending_new (refreshed by the retrier). */
  pending: Gauge<string>;
  tradeUpdates: Counter<string>;
  reconciliations: Counter<string>;
}

export function gatewayMetrics(m: Metrics): GatewayMetrics {
  return {
    submitted: m.counter('orders_submitted_total', 'new orders by outcome', ['outcome']),
    duplicates: m.counter('orders_duplicate_total', 'submissions answered with the existing order'),
    rejected: m.counter('orders_rejected_total', 'orders refused before or by the broker', ['reason']),
    brokerErrors: m.counter('broker_errors_total', 'broker call failures', ['op', 'kind']),
    submitLatency: m.histogram('order_submit_seconds', 'new order: write-ahead to answer, including the broker call', ['outcome'], [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10]),
    pending: m.gauge('orders_pending', 'orders in pending_new (not yet acknowledged by the broker)'),
    tradeUpdates: m.counter('trade_updates_total', 'broker trade updates by result', ['event', 'result']),
    reconciliations: m.counter('reconciliations_total', 'reconciliation runs by trigger and outcome', ['trigger', 'outcome']),
  };
}
