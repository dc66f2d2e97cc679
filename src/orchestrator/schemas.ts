import { ErrorSchema } from '../observability/http-app.js';
import { LEGS, ORDER_STATUSES, RUN_STATUSES, RUN_TRIGGERS } from './types.js';

/** Shared JSON schemas of the orchestrator API (route-specific ones live beside their routes). */

export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorSchema]));
export const BEARER = [{ bearer: [] }];

const nullableNumber = (description: string) => ({ type: ['number', 'null'], description }) as const;
const nullableString = (description: string) => ({ type: ['string', 'null'], description }) as const;

export const RUN_EXAMPLE = {
  id: 42,
  strategy_id: 'momentum-v2',
  as_of_date: '2025-01-16',
  trade_date: '2025-01-17',
  status: 'completed',
  trigger: 'event',
  dry_run: false,
  capital: '100000',
  max_position_pct: '0.1',
  top_n: 10,
  bottom_n: 10,
  symbols: null,
  model_version: 'lgbm-alpha158:v7',
  signals_count: 482,
  orders_planned: 20,
  orders_submitted: 20,
  orders_failed: 0,
  symbols_failed: 0,
  timings: { signals_ms: 84.2, positions_ms: 3.1, plan_ms: 2.4, submit_ms: 61.7, total_ms: 158.9 },
  error: null,
  attempt: 1,
  created_at: '2025-01-17T13:00:00.000Z',
  started_at: '2025-01-17T13:00:00.000Z',
  finished_at: '2025-01-17T13:00:00.159Z',
  updated_at: '2025-01-17T13:00:00.159Z',
};

export const ORDER_EXAMPLE = {
  seq: 1,
  symbol: 'AAPL',
  leg: 'rebalance',
  predicted_return: 1.84,
  rank: 1,
  target_weight: '0.1',
  price: '187.25',
  current_qty: '20',
  target_qty: '53',
  capped: false,
  side: 'buy',
  qty: '33',
  client_order_id: 'ks-momentumv2-20250117-dla3hvy5ggrgk7b2o3zx7xdjdr',
  order_status: 'submitted',
  gateway_order_id: '0b9a6a8e-3f2c-4d1e-9c55-2d1f6c1a7b10',
  gateway_status: 'new',
  created: true,
  retryable: false,
  limited_by: null,
  error: null,
  attempts: 1,
  submitted_at: '2025-01-17T13:00:00.101Z',
  updated_at: '2025-01-17T13:00:00.101Z',
};

export const RunSchema = {
  type: 'object',
  description: 'An orchestration run (decimals as canonical strings, instants in UTC)',
  properties: {
    id: { type: 'integer' },
    strategy_id: { type: 'string' },
    as_of_date: { type: 'string', description: "the signals' date (YYYY-MM-DD)" },
    trade_date: { type: 'string', description: 'the session the orders are for (YYYY-MM-DD, America/New_York)' },
    status: { type: 'string', enum: [...RUN_STATUSES] },
    trigger: { type: 'string', enum: [...RUN_TRIGGERS] },
    dry_run: { type: 'boolean' },
    capital: { type: 'string' },
    max_position_pct: { type: 'string', description: 'fraction of capital (0.1 = 10 %)' },
    top_n: { type: 'integer' },
    bottom_n: { type: 'integer' },
    symbols: { type: ['array', 'null'], items: { type: 'string' }, description: 'the requested universe; null = every scored symbol' },
    model_version: nullableString('the model that produced the signals (name:vN)'),
    signals_count: { type: 'integer' },
    orders_planned: { type: 'integer' },
    orders_submitted: { type: 'integer', description: 'accepted by the gateway (created or already there)' },
    orders_failed: { type: 'integer', description: 'refused by the gateway or rejected by the broker' },
    symbols_failed: { type: 'integer', description: 'symbols without a price or with a bad signal (no order)' },
    timings: {
      type: 'object',
      properties: {
        signals_ms: nullableNumber('signal service call'),
        positions_ms: nullableNumber('gateway positions read'),
        plan_ms: nullableNumber('prices, sizing, limits'),
        submit_ms: nullableNumber('order submission (last attempt)'),
        total_ms: nullableNumber('the last attempt end to end'),
      },
    },
    error: nullableString('why the run failed, or what part of it did'),
    attempt: { type: 'integer', description: 'executions so far (resumes increment it)' },
    created_at: { type: 'string' },
    started_at: nullableString('start of the last attempt'),
    finished_at: nullableString('end of the last attempt'),
    updated_at: { type: 'string' },
  },
  required: ['id', 'strategy_id', 'as_of_date', 'trade_date', 'status', 'dry_run', 'capital', 'signals_count', 'orders_planned', 'orders_submitted', 'orders_failed', 'timings', 'created_at', 'updated_at'],
  example: RUN_EXAMPLE,
} as const;

export const RunOrderSchema = {
  type: 'object',
  description: 'One plan row: signal → target → order, and what became of it',
  properties: {
    seq: { type: 'integer' },
    symbol: { type: 'string' },
    leg: { type: 'string', enum: [...LEGS], description: 'rebalance; close/open when the position changes sign (two orders)' },
    predicted_return: nullableNumber("the model's score"),
    rank: { type: ['integer', 'null'] },
    target_weight: nullableString('signed weight from the signals (null: held, not in the signals → closed)'),
    price: nullableString('the as_of_date close used for sizing'),
    current_qty: { type: 'string', description: 'signed position when planned' },
    target_qty: nullableString('signed whole-share target'),
    capped: { type: 'boolean', description: 'the max_position_pct cap cut the target' },
    side: { type: ['string', 'null'], enum: ['buy', 'sell', null] },
    qty: nullableString('whole shares'),
    client_order_id: nullableString('the idempotency key the order is submitted with'),
    order_status: { type: 'string', enum: [...ORDER_STATUSES] },
    gateway_order_id: nullableString("the gateway's order id"),
    gateway_status: nullableString("the gateway order's status when submitted"),
    created: { type: ['boolean', 'null'], description: 'true: this run created the gateway order; false: it already existed' },
    retryable: { type: 'boolean' },
    limited_by: nullableString('the sizing limit that cut the order'),
    error: nullableString('why the symbol or the order failed'),
    attempts: { type: 'integer' },
    submitted_at: nullableString(''),
    updated_at: { type: 'string' },
  },
  required: ['seq', 'symbol', 'leg', 'current_qty', 'order_status'],
  example: ORDER_EXAMPLE,
} as const;

export const RunWithOrdersSchema = {
  type: 'object',
  properties: { ...RunSchema.properties, orders: { type: 'array', items: RunOrderSchema } },
  required: [...RunSchema.required, 'orders'],
  example: { ...RUN_EXAMPLE, orders: [ORDER_EXAMPLE] },
} as const;
