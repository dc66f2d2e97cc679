import { ErrorSchema } from '../observability/http-app.js';
import { TEXT_PATTERN } from '../observability/params.js';
import { CLIENT_ORDER_ID_PATTERN } from './client-order-id.js';
import { ORDER_STATUSES } from './order-state.js';

/** Shared JSON schemas of the gateway API (route-specific ones live beside their routes). */

const dec = (description: string, example: string) => ({ type: 'string', description, example }) as const;
const decOrNull = (description: string, example: string | null) => ({ type: ['string', 'null'], description, example }) as const;

export const ORDER_EXAMPLE = {
  id: '0b9a6a8e-3f2c-4d1e-9c55-2d1f6c1a7b10',
  client_order_id: 'ks-momentumv2-20250117-dla3hvy5ggrgk7b2o3zx7xdjdr',
  strategy_id: 'momentum-v2',
  symbol: 'AAPL',
  side: 'buy',
  qty: '10',
  order_type: 'limit',
  limit_price: '187.5',
  time_in_force: 'day',
  trade_date: '2025-01-17',
  status: 'filled',
  broker_order_id: '61e69015-8549-4bfd-b9c3-01e75843f47d',
  filled_qty: '10',
  filled_avg_price: '187.2',
  error: null,
  submit_attempts: 0,
  next_attempt_at: null,
  created_at: '2025-01-17T14:30:00.000Z',
  updated_at: '2025-01-17T14:30:00.012Z',
};

export const OrderSchema = {
  type: 'object',
  description: 'An order as recorded by the gateway (decimals as canonical strings, instants in UTC)',
  properties: {
    id: { type: 'string', description: "the gateway's order id (uuid)" },
    client_order_id: { type: 'string', description: 'idempotency key, also sent to the broker' },
    strategy_id: { type: 'string' },
    symbol: { type: 'string' },
    side: { type: 'string', enum: ['buy', 'sell'] },
    qty: dec('whole shares', '10'),
    order_type: { type: 'string', enum: ['market', 'limit'] },
    limit_price: decOrNull('limit orders only', '187.25'),
    time_in_force: { type: 'string', enum: ['day', 'gtc', 'ioc', 'fok', 'opg', 'cls'] },
    trade_date: { type: 'string', description: 'America/New_York trading date', example: '2025-01-17' },
    status: { type: 'string', enum: [...ORDER_STATUSES] },
    broker_order_id: { type: ['string', 'null'] },
    filled_qty: dec('cumulative filled quantity reported by the broker (never decreases)', '10'),
    filled_avg_price: decOrNull('average fill price reported by the broker', '187.2'),
    error: { type: ['string', 'null'], description: 'why it was rejected, or the last submission error while pending' },
    submit_attempts: { type: 'integer', description: 'failed submission attempts so far' },
    next_attempt_at: { type: ['string', 'null'], description: 'when the retrier tries again (pending orders)' },
    created_at: { type: 'string' },
    updated_at: { type: 'string' },
  },
  required: ['id', 'client_order_id', 'strategy_id', 'symbol', 'side', 'qty', 'order_type', 'limit_price', 'time_in_force', 'trade_date', 'status', 'filled_qty', 'created_at', 'updated_at'],
  example: ORDER_EXAMPLE,
} as const;

export const ClientOrderIdParams = {
  type: 'object',
  required: ['client_order_id'],
  properties: { client_order_id: { type: 'string', pattern: CLIENT_ORDER_ID_PATTERN, description: "the order's client_order_id", examples: [ORDER_EXAMPLE.client_order_id] } },
} as const;

export const ReasonBody = {
  type: 'object',
  additionalProperties: false,
  required: ['reason'],
  properties: {
    reason: { type: 'string', minLength: 1, maxLength: 500, pattern: TEXT_PATTERN, description: 'why (kept in the audit trail); a JSON string, no control characters' },
    actor: { type: 'string', minLength: 1, maxLength: 100, pattern: TEXT_PATTERN, description: 'who (default: api)' },
  },
  examples: [{ reason: 'runaway strategy momentum-v2', actor: 'alice' }],
} as const;

export const KillSwitchStateSchema = {
  type: 'object',
  properties: {
    engaged: { type: 'boolean' },
    reason: { type: ['string', 'null'] },
    actor: { type: ['string', 'null'] },
    changed_at: { type: ['string', 'null'] },
  },
  required: ['engaged'],
} as const;

export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorSchema]));

export const BEARER = [{ bearer: [] }];
