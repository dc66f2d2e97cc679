import { ErrorSchema } from '../../observability/http-app.js';
import { TEXT_PATTERN } from '../../observability/params.js';
import { BREAKER_STATES } from '../breaker-state.js';
import { RISK_EVENT_KINDS } from '../events.js';

/** JSON schemas shared by the risk routes (with examples, so /docs is useful). */

export const BreakerStateSchema = {
  type: 'object',
  properties: {
    state: { type: 'string', enum: [...BREAKER_STATES], example: 'TRIPPED' },
    version: { type: 'integer', example: 3 },
    since: { type: 'string', format: 'date-time', example: '2025-01-17T15:42:10.000Z' },
    trigger: { type: 'string', example: 'daily_loss' },
    reason: { type: 'string', example: 'equity 94800 is 5.2% below start-of-day equity 100000 (limit 5%)' },
    actor: { type: 'string', example: 'system' },
    quiet_until: { type: 'string', nullable: true, example: null },
    reset_equity: { type: 'string', nullable: true, example: null },
    reset_date: { type: 'string', nullable: true, example: null },
    from: { type: 'string', nullable: true, example: 'OPEN' },
    detail: { type: 'object', additionalProperties: true },
  },
  required: ['state', 'version', 'since', 'trigger', 'reason', 'actor'],
} as const;

export const ChangeBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['reason'],
  properties: {
    reason: { type: 'string', minLength: 1, maxLength: 500, pattern: TEXT_PATTERN, description: 'why (recorded in the audit trail)', examples: ['desk halt: unexplained fills'] },
    actor: { type: 'string', minLength: 1, maxLength: 100, pattern: TEXT_PATTERN, description: 'who (default `api`)', examples: ['alice'] },
  },
  examples: [{ reason: 'desk halt: unexplained fills', actor: 'alice' }],
} as const;

export const ChangeResponseSchema = {
  type: 'object',
  properties: {
    changed: { type: 'boolean', description: 'false when the breaker already was in the requested state', example: true },
    breaker: BreakerStateSchema,
    message: { type: 'string' },
  },
  required: ['changed', 'breaker'],
} as const;

export const RiskEventSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer', example: 42 },
    kind: { type: 'string', enum: [...RISK_EVENT_KINDS], example: 'pretrade_rejected' },
    code: { type: 'string', example: 'max_order_notional' },
    symbol: { type: 'string', nullable: true, example: 'AAPL' },
    client_order_id: { type: 'string', nullable: true },
    strategy_id: { type: 'string', nullable: true },
    breaker_id: { type: 'string', nullable: true },
    breaker_version: { type: 'integer', nullable: true },
    from_state: { type: 'string', nullable: true },
    to_state: { type: 'string', nullable: true },
    actor: { type: 'string', example: 'system' },
    reason: { type: 'string', example: 'order notional 300000.00 (1500 × 200) exceeds the limit 250000.00' },
    detail: { type: 'object', additionalProperties: true },
    created_at: { type: 'string', format: 'date-time', example: '2025-01-17T14:30:00.000Z' },
  },
} as const;

export { ErrorSchema };
