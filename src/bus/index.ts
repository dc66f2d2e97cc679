import type { Logger } from '../core/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { MemoryBus, type MemoryBackend } from './memory.js';
import { openRedisBus, type RedisTuning } from './redis.js';
import type { Bus } from './types.js';

export * from './types.js';
export * from './keys.js';
export { MemoryBackend, MemoryBus, sharedMemoryBackend } from './memory.js';
export { RedisBus, redactUrl, type RedisTuning } from './redis.js';
export { bufferToF64, f64ToBuffer } from './codec.js';

export interface OpenBusOptions {
  /** `config.redisUrl`; unset → the in-process bus. */
  redisUrl?: string;
  logger: Logger;
  /** Prepended to every key, channel and stream (e.g. `kestrel:` or a per-test prefix). */
  keyPrefix?: string;
  /** Where `kestrel_bus_*` counters go (a service's registry). */
  metrics?: Metrics;
  /** In-process only: the state to use (default: shared by every bus of the process). */
  memory?: MemoryBackend;
  /** Redis only: timeouts and backoff. */
  redis?: RedisTuning;
  /**
   * Redis only. true (default): reject with BusUnavailableError when Redis cannot be reached
   * within the connect timeout — a wrong REDIS_URL stops start-up with a one-line cause.
   * false: start anyway, degraded, and connect when Redis comes up.
   */
  requireConnection?: boolean;
}

/** The bus for this process: Redis when `redisUrl` is set, the in-process implementation otherwise. */
export async function openBus(opts: OpenBusOptions): Promise<Bus> {
  const logger = opts.logger.child({ bus: opts.redisUrl ? 'redis' : 'memory' });
  if (!opts.redisUrl) return new MemoryBus({ logger, keyPrefix: opts.keyPrefix, metrics: opts.metrics, backend: opts.memory });
  return openRedisBus({ url: opts.redisUrl, logger, keyPrefix: opts.keyPrefix, metrics: opts.metrics, requireConnection: opts.requireConnection, ...opts.redis });
}
