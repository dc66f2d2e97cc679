import type { Clock } from '../../core/clock.js';
import type { Metrics } from '../../observability/metrics.js';
import type { BrokerSim } from '../engine.js';
import type { Faults } from '../faults.js';
import type { TradeUpdateStream } from '../stream.js';

/** What every simulator route gets. */
export interface SimContext {
  sim: BrokerSim;
  faults: Faults;
  stream: TradeUpdateStream;
  clock: Clock;
  metrics: Metrics;
}

/** Alpaca's error body, for the OpenAPI document. */
export const AlpacaErrorSchema = {
  type: 'object',
  properties: { code: { type: 'integer', example: 40010001 }, message: { type: 'string' } },
  required: ['code', 'message'],
  additionalProperties: true,
} as const;

/** Loose response schema: the order / position / account objects are documented by Alpaca; we do not filter them. */
export const AnyObject = { type: 'object', additionalProperties: true } as const;
