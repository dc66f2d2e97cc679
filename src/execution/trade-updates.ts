import { DatabaseUnavailableError } from '../db/db.js';
import { applyTradeUpdates } from './apply-trade-updates.js';
import type { TradeUpdate, TradeUpdateSubscription } from './broker.js';
import type { GatewayContext } from './context.js';

export { applyTradeUpdate, applyTradeUpdates, type ApplyResult } from './apply-trade-updates.js';

/**
 * Consumes the broker's trade_updates stream: events go into per-symbol lanes (order within a
 * symbol is kept; symbols proceed in parallel) and what is queued in a lane is applied as one
 * batch (apply-trade-updates.ts). When the
 * database is down an event waits and is retried; nothing is dropped while the process lives
 * (events lost with the process, or while the stream was down, are recovered by reconciliation,
 * which runs again after every reconnect).
 */
export class TradeUpdateConsumer {
  private sub: TradeUpdateSubscription | null = null;
  private readonly lanes: Array<{ queue: TradeUpdate[]; running: boolean }>;
  private waiters: Array<() => void> = [];
  private stopped = false;
  private everConnected = false;
  state: 'starting' | 'connected' | 'disconnected' | 'stopped' = 'starting';

  constructor(
    private readonly ctx: GatewayContext,
    private readonly opts: { lanes?: number; onReconnect?: () => void } = {},
  ) {
    this.lanes = Array.from({ length: opts.lanes ?? 8 }, () => ({ queue: [], running: false }));
  }

  async start(): Promise<void> {
    this.sub = await this.ctx.broker.streamTradeUpdates(
      (u) => this.enqueue(u),
      (s) => {
        if (this.stopped) return;
        this.state = s;
        if (s === 'connected') {
          if (this.everConnected) {
            this.ctx.logger.info('trade update stream reconnected; reconciling what may have been missed');
            this.opts.onReconnect?.();
          }
          this.everConnected = true;
        } else {
          this.ctx.logger.warn('trade update stream disconnected');
        }
      },
    );
  }

  enqueue(u: TradeUpdate): void {
    if (this.stopped) return;
    const lane = this.lanes[laneOf(u.order.symbol, this.lanes.length)]!;
    lane.queue.push(u);
    if (!lane.running) void this.run(lane);
  }

  get backlog(): number {
    return this.lanes.reduce((n, l) => n + l.queue.length, 0);
  }

  /** Resolves when every queued event has been applied. */
  idle(): Promise<void> {
    if (this.lanes.every((l) => !l.running && l.queue.length === 0)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async stop(timeoutMs = 5_000): Promise<void> {
    this.stopped = true;
    this.state = 'stopped';
    await this.sub?.close();
    this.sub = null;
    await Promise.race([this.idle(), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  private async run(lane: { queue: TradeUpdate[]; running: boolean }): Promise<void> {
    lane.running = true;
    let delay = 200;
    let batchLimit = MAX_BATCH;
    while (lane.queue.length > 0) {
      const batch = lane.queue.slice(0, batchLimit);
      try {
        const results = await applyTradeUpdates(this.ctx, batch);
        batch.forEach((u, i) => this.ctx.metrics.tradeUpdates.inc({ event: u.event, result: results[i]! }));
        lane.queue.splice(0, batch.length);
        delay = 200;
        batchLimit = MAX_BATCH;
      } catch (e) {
        if (e instanceof DatabaseUnavailableError && !this.stopped) {
          this.ctx.logger.warn({ events: batch.length, retry_ms: delay }, 'database unavailable; trade updates will be retried');
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 5_000);
          continue;
        }
        if (batch.length > 1) {
          // A deadlock with another replica's batch, or one bad event: go one at a time.
          batchLimit = 1;
          continue;
        }
        // A poison event (or shutting down): log it and move on; reconciliation repairs the order.
        const u = batch[0]!;
        this.ctx.metrics.tradeUpdates.inc({ event: u.event, result: 'error' });
        this.ctx.logger.error({ err: e, event: u.event, client_order_id: u.order.client_order_id }, 'trade update could not be applied');
        lane.queue.shift();
        batchLimit = MAX_BATCH;
      }
    }
    lane.running = false;
    if (this.lanes.every((l) => !l.running && l.queue.length === 0)) {
      const w = this.waiters;
      this.waiters = [];
      for (const resolve of w) resolve();
    }
  }
}

/** Updates applied per transaction at most (they queue up only under load; a batch costs a fixed few round trips). */
const MAX_BATCH = 256;

function laneOf(symbol: string, n: number): number {
  let h = 0;
  for (let i = 0; i < symbol.length; i++) h = (h * 31 + symbol.charCodeAt(i)) | 0;
  return Math.abs(h) % n;
}
