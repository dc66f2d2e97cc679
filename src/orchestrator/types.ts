import type { Decimal } from '../core/money.js';
import type { OrderSide } from '../execution/broker.js';

/**
 * The orchestrator's domain types: a run request, a run record, its plan rows, the strategy
 * configuration the event consumer runs, and the hook through which risk limits size orders.
 */

export const RUN_STATUSES = ['scheduled', 'running', 'completed', 'partial', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const RUN_TRIGGERS = ['api', 'event', 'cli'] as const;
export type RunTrigger = (typeof RUN_TRIGGERS)[number];

export const ORDER_STATUSES = ['planned', 'deferred', 'submitted', 'rejected', 'failed', 'unchanged', 'symbol_failed', 'limited', 'dry_run'] as const;
export type PlanOrderStatus = (typeof ORDER_STATUSES)[number];

export const LEGS = ['rebalance', 'close', 'open'] as const;
export type Leg = (typeof LEGS)[number];

/** The body of POST /api/v1/orchestration/run as received (after the JSON schema). */
export interface RunRequestBody {
  strategy_id: string;
  as_of_date: string;
  trade_date?: string;
  symbols?: string[];
  capital: string | number;
  max_position_pct: string | number;
  top_n?: number;
  bottom_n?: number;
  dry_run?: boolean;
}

/** A validated, canonical run request. */
export interface RunRequest {
  strategy_id: string;
  as_of_date: string;
  trade_date: string;
  /** Sorted, unique; null = every symbol the signal service scores. */
  symbols: string[] | null;
  capital: Decimal;
  max_position_pct: Decimal;
  top_n: number;
  bottom_n: number;
  dry_run: boolean;
}

/** What the event consumer runs for every `signals.generated` event. */
export interface StrategyConfig {
  strategy_id: string;
  capital: string | number;
  max_position_pct: string | number;
  top_n?: number;
  bottom_n?: number;
  /** The strategy's universe; default every symbol the signal service scores. */
  symbols?: string[];
}

/** A run as the API returns it (decimals as canonical strings, instants UTC ISO-8601). */
export interface RunView {
  id: number;
  strategy_id: string;
  as_of_date: string;
  trade_date: string;
  status: RunStatus;
  trigger: RunTrigger;
  dry_run: boolean;
  capital: string;
  max_position_pct: string;
  top_n: number;
  bottom_n: number;
  symbols: string[] | null;
  model_version: string | null;
  signals_count: number;
  orders_planned: number;
  orders_submitted: number;
  orders_failed: number;
  symbols_failed: number;
  timings: { signals_ms: number | null; positions_ms: number | null; plan_ms: number | null; submit_ms: number | null; total_ms: number | null };
  error: string | null;
  attempt: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

/** One plan row: signal → target → order (and what became of it). */
export interface RunOrderView {
  seq: number;
  symbol: string;
  leg: Leg;
  predicted_return: number | null;
  rank: number | null;
  target_weight: string | null;
  price: string | null;
  current_qty: string;
  target_qty: string | null;
  capped: boolean;
  side: OrderSide | null;
  qty: string | null;
  client_order_id: string | null;
  order_status: PlanOrderStatus;
  gateway_order_id: string | null;
  gateway_status: string | null;
  created: boolean | null;
  retryable: boolean;
  limited_by: string | null;
  error: string | null;
  attempts: number;
  submitted_at: string | null;
  updated_at: string;
}

/** An order the sizing limits are asked about (always a market day order). */
export interface SizingOrder {
  strategy_id: string;
  symbol: string;
  side: OrderSide;
  qty: Decimal;
  order_type: 'market';
  limit_price: null;
  trade_date: string;
}

/**
 * Risk limits as a sizing function: the largest whole-share quantity ≤ order.qty the limits
 * allow (0 = none) and, when cut, the limit that cut it. `RiskEngine` (src/risk/engine.ts)
 * satisfies this shape: pass `sizingLimits: riskEngine`.
 */
export interface SizingLimits {
  size(order: SizingOrder): Promise<{ qty: Decimal; limitedBy: { code: string; reason: string } | null }>;
}
