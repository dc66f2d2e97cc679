import { tradeDateOf } from './trade-date.js';
import { DatabaseUnavailableError } from '../db/db.js';
import type { GatewayContext } from './context.js';
import { ORDER_COLUMNS, type OrderRow } from './model.js';
import { killSwitchEngaged, recordBrokerOrder, transitionOrder } from './store.js';
import { brokerErrorKind, sendToBroker } from './submit.js';

/**
 * Background retrier: orders left pending_new (broker down, timeout, crash) are sent again
 * when their next_attempt_at comes, with the same client_order_id (a duplicate answer is
 * adopted), with exponential backoff between attempts. Replicas share the work safely: a batch
 * is claimed with FOR UPDATE SKIP LOCKED and leased by pushing next_attempt_at forward.
 * Nothing is sent while the kill switch is engaged; an order whose trade date has passed is
 * looked up at the broker and adopted if there, expired if not.
 */
export interface RetrierOptions {
  intervalMs?: number;
  batch?: number;
  /** How long a claimed order is left alone by other replicas. */
  leaseMs?: number;
}

const CLAIM_SQL = `
UPDATE orders SET next_attempt_at = $2::timestamptz
WHERE id IN (
  SELECT id FROM orders WHERE status = 'pending_new' AND next_attempt_at <= $1::timestamptz
  ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
RETURNING ${ORDER_COLUMNS}`;

export class Retrier {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly batch: number;
  private readonly leaseMs: number;

  constructor(
    private readonly ctx: GatewayContext,
    opts: RetrierOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 500;
    this.batch = opts.batch ?? 50;
    this.leaseMs = opts.leaseMs ?? 30_000;
  }

  start(): void {
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.tick()
        .then(() => undefined)
        .catch((e: unknown) => {
          if (e instanceof DatabaseUnavailableError) this.ctx.logger.warn('retrier: database unavailable');
          else this.ctx.logger.error({ err: e }, 'retrier: tick failed');
        })
        .finally(() => {
          this.running = null;
          this.schedule();
        });
    }, this.intervalMs);
    this.timer.unref();
  }

  /** One pass: returns how many orders it attempted. */
  async tick(): Promise<number> {
    const pending = await this.ctx.db.query<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE status = 'pending_new'");
    this.ctx.metrics.pending.set(pending.rows[0]?.n ?? 0);
    if (!pending.rows[0]?.n || (await killSwitchEngaged(this.ctx.db))) return 0;
    const now = this.ctx.clock.now();
    const claimed = (await this.ctx.db.query<OrderRow>(CLAIM_SQL, [now.toISOString(), new Date(now.getTime() + this.leaseMs).toISOString(), this.batch])).rows;
    const today = tradeDateOf(now);
    let i = 0;
    const worker = async () => {
      while (i < claimed.length && !this.stopped) {
        const order = claimed[i++]!;
        if (order.trade_date === today) await sendToBroker(this.ctx, order, 'retrier');
        else await this.resolveStale(order);
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, claimed.length) }, worker));
    return claimed.length;
  }

  private async resolveStale(order: OrderRow): Promise<void> {
    let bo;
    try {
      bo = await this.ctx.broker.getOrderByClientId(order.client_order_id);
    } catch (e) {
      this.ctx.metrics.brokerErrors.inc({ op: 'get', kind: brokerErrorKind(e) });
      return; // leased; tried again after the lease
    }
    const at = this.ctx.clock.now();
    if (bo) await recordBrokerOrder(this.ctx.db, order.id, bo, { kind: 'adopted', source: 'retrier', at });
    else await transitionOrder(this.ctx.db, order.id, 'expired', { kind: 'expired_unsent', source: 'retrier', at, error: `never reached the broker on its trade date ${order.trade_date}` });
  }
}
