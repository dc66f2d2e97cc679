import { BusDecodeError } from './types.js';

/**
 * Kestrel's keys, channels and streams in one place (documented with payloads and TTLs in
 * docs/concepts/redis-patterns.md). Names here are before the bus's keyPrefix.
 */

export const DEFAULT_FEATURES_TTL_SECONDS = 24 * 60 * 60;
export const DEFAULT_PRICE_TTL_SECONDS = 7 * 24 * 60 * 60;

export const busKeys = {
  /** Float64 feature vector (getF64/setF64) of one symbol on one trading date. */
  features: (symbol: string, date: string) => `features:${symbol}:${date}`,
  /** Latest trade as JSON `PriceTick`. */
  price: (symbol: string) => `price:${symbol}`,
  /** Risk circuit breaker as JSON `BreakerState` (src/risk/breaker-state.ts), changed only by compare-and-set. */
  breakerState: 'breaker:state',
} as const;

export const busChannels = {
  /** `PricesUpdated`: a hint that `price:{symbol}` keys changed. */
  pricesUpdated: 'prices.updated',
  /** `ModelReloaded`: the signal service switched model versions. */
  modelReloaded: 'model.reloaded',
} as const;

export const busStreams = {
  /** `SignalsGenerated` entries; consumer group `orchestrator`. */
  signalsGenerated: 'signals.generated',
} as const;

export const busGroups = { orchestrator: 'orchestrator' } as const;

/** `price:{symbol}`: price is an exact decimal string (money is never a float in Kestrel). */
export interface PriceTick {
  price: string;
  size: number;
  /** UTC ISO-8601 time of the trade. */
  ts: string;
}

export interface PricesUpdated {
  symbols: string[];
  ts: string;
}

export interface ModelReloaded {
  model_version: string;
  previous_version: string | null;
  ts: string;
}

export interface SignalsGenerated {
  /** Trading date `YYYY-MM-DD` the signals are for. */
  as_of_date: string;
  symbols: string[];
  model_version: string;
  /** UTC ISO-8601 time the signals were written. */
  timestamp: string;
}

/** Stream fields are flat strings: `symbols` travels as a JSON array. */
export function encodeSignalsGenerated(e: SignalsGenerated): Record<string, string> {
  return { as_of_date: e.as_of_date, symbols: JSON.stringify(e.symbols), model_version: e.model_version, timestamp: e.timestamp };
}

export function decodeSignalsGenerated(fields: Record<string, string>): SignalsGenerated {
  const { as_of_date, symbols, model_version, timestamp } = fields;
  if (!as_of_date || !/^\d{4}-\d{2}-\d{2}$/.test(as_of_date)) throw new BusDecodeError(`signals.generated: as_of_date ${JSON.stringify(as_of_date)} is not YYYY-MM-DD`);
  if (!model_version) throw new BusDecodeError('signals.generated: model_version is missing');
  if (!timestamp || Number.isNaN(Date.parse(timestamp))) throw new BusDecodeError(`signals.generated: timestamp ${JSON.stringify(timestamp)} is not ISO-8601`);
  let list: unknown;
  try {
    list = JSON.parse(symbols ?? '');
  } catch {
    list = undefined;
  }
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) throw new BusDecodeError('signals.generated: symbols must be a JSON array of strings');
  return { as_of_date, symbols: list as string[], model_version, timestamp };
}
