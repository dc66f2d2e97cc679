import { fixedClock, systemClock, type Clock } from '../core/clock.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { buildBrokerSimApp, type BrokerSimApp } from './app.js';
import type { BrokerSimConfig } from './engine.js';
import { StaticPrices } from './prices.js';

/**
 * A running simulator: by default on 127.0.0.1 and a free port, which is what tests here and
 * in other folders (e.g. the execution gateway's) want. `close()` stops HTTP, the stream and timers.
 */
export interface RunningBrokerSim extends BrokerSimApp {
  /** `http://<host>:<port>` — the base URL to give an Alpaca client (without `/v2`). */
  baseUrl: string;
  /** `ws://<host>:<port>/stream` */
  streamUrl: string;
  prices: StaticPrices;
  clock: Clock;
  close(): Promise<void>;
}

export interface StartBrokerSimOptions {
  config?: BrokerSimConfig;
  /** Initial prices of the StaticPrices source. */
  prices?: Record<string, string>;
  /** A Clock, or an ISO instant for a fixed clock. Default: the system clock. */
  clock?: Clock | string;
  logger?: Logger;
  host?: string;
  port?: number;
}

export async function startBrokerSim(opts: StartBrokerSimOptions = {}): Promise<RunningBrokerSim> {
  const prices = new StaticPrices(opts.prices ?? {});
  const clock = typeof opts.clock === 'string' ? fixedClock(opts.clock) : (opts.clock ?? systemClock);
  const built = await buildBrokerSimApp({ clock, logger: opts.logger ?? silentLogger(), prices, config: opts.config });
  const host = opts.host ?? '127.0.0.1';
  await built.app.listen({ port: opts.port ?? 0, host });
  const addr = built.app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('broker sim: no TCP address');
  const hostPart = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const baseUrl = `http://${hostPart}:${addr.port}`;
  return { ...built, baseUrl, streamUrl: `ws://${hostPart}:${addr.port}/stream`, prices, clock, close: () => built.app.close() };
}
