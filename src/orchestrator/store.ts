import { decString } from '../core/money.js';
import type { Db, Queryable } from '../db/db.js';
import type { PlanRow } from './sizing.js';
import type { PlanOrderStatus, RunOrderView, RunRequest, RunStatus, RunTrigger, RunView } from './types.js';

/**
 * SQL of the orchestrator's two tables (migrations/0003_orchestrator.sql). Every write made
 * while executing a run is guarded by the run's `attempt` (and status running): a runner whose
 * lease was taken over gets `false` back and stops.
 */

/** A run row as the database returns it (NUMERIC → string, date → YYYY-MM-DD, timestamptz → ISO UTC). */
export type RunRow = Omit<RunView, 'timings'> &
  RunView['timings'] & {
    lease_expires_at: string | null;
    planned_at: string | null;
  };

/** A plan row as stored, with the submission state. */
export interface OrderState extends Omit<PlanRow, 'order_status'> {
  order_status: PlanOrderStatus;
  gateway_order_id: string | null;
  gateway_status: string | null;
  created: boolean | null;
  retryable: boolean;
  limited_by: string | null;
  attempts: number;
  submitted_at: string | null;
  updated_at: string;
}

const RUN_COLUMNS =
  'id, strategy_id, as_of_date, trade_date, status, trigger, dry_run, capital, max_position_pct, top_n, bottom_n, symbols, model_version, signals_count, orders_planned, orders_submitted, orders_failed, symbols_failed, signals_ms, positions_ms, plan_ms, submit_ms, total_ms, error, attempt, lease_expires_at, planned_at, created_at, started_at, finished_at, updated_at';

const ORDER_COLUMNS =
  'seq, symbol, leg, predicted_return, rank, target_weight, price, current_qty, target_qty, capped, side, qty, client_order_id, order_status, gateway_order_id, gateway_status, created, retryable, limited_by, error, attempts, submitted_at, updated_at';

export async function findRunByKey(db: Queryable, strategyId: string, asOfDate: string): Promise<RunRow | null> {
  const r = await db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM orchestration_runs WHERE strategy_id = $1 AND as_of_date = $2::date AND NOT dry_run`, [strategyId, asOfDate]);
  return r.rows[0] ?? null;
}

export async function getRun(db: Queryable, id: number): Promise<RunRow | null> {
  const r = await db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM orchestration_runs WHERE id = $1`, [id]);
  return r.rows[0] ?? null;
}

/**
 * Claims (strategy_id, as_of_date) for a real run, or inserts a dry run (never conflicts).
 * Returns null when another request holds the key already.
 */
export async function insertRun(
  db: Queryable,
  req: RunRequest,
  opts: { trigger: RunTrigger; status: 'running' | 'scheduled'; now: Date; leaseUntil: Date },
): Promise<RunRow | null> {
  const running = opts.status === 'running';
  const r = await db.query<RunRow>(
    `INSERT INTO orchestration_runs (strategy_id, as_of_date, trade_date, status, trigger, dry_run, capital, max_position_pct, top_n, bottom_n, symbols, attempt, lease_expires_at, created_at, started_at, updated_at)
     VALUES ($1, $2::date, $3::date, $4, $5, $6, $7::numeric, $8::numeric, $9, $10, $11::jsonb, $12, $13::timestamptz, $14::timestamptz, $15::timestamptz, $14::timestamptz)
     ON CONFLICT (strategy_id, as_of_date) WHERE NOT dry_run DO NOTHING
     RETURNING ${RUN_COLUMNS}`,
    [
      req.strategy_id,
      req.as_of_date,
      req.trade_date,
      opts.status,
      opts.trigger,
      req.dry_run,
      decString(req.capital),
      decString(req.max_position_pct),
      req.top_n,
      req.bottom_n,
      req.symbols === null ? null : JSON.stringify(req.symbols),
      running ? 1 : 0,
      running ? opts.leaseUntil.toISOString() : null,
      opts.now.toISOString(),
      running ? opts.now.toISOString() : null,
    ],
  );
  return r.rows[0] ?? null;
}

/**
 * Takes a run over for execution (resume, or start a scheduled one) if it is still exactly as
 * seen (same attempt and status; for a running run only once its lease has expired).
 */
export async function takeOver(db: Queryable, seen: RunRow, now: Date, leaseUntil: Date): Promise<RunRow | null> {
  const r = await db.query<RunRow>(
    `UPDATE orchestration_runs SET status = 'running', attempt = attempt + 1, lease_expires_at = $4::timestamptz, started_at = $3::timestamptz,
       finished_at = NULL, error = NULL, updated_at = $3::timestamptz
     WHERE id = $1 AND attempt = $2 AND status = $5 AND (status <> 'running' OR lease_expires_at < $3::timestamptz)
     RETURNING ${RUN_COLUMNS}`,
    [seen.id, seen.attempt, now.toISOString(), leaseUntil.toISOString(), seen.status],
  );
  return r.rows[0] ?? null;
}

export async function renewLease(db: Queryable, run: Pick<RunRow, 'id' | 'attempt'>, leaseUntil: Date): Promise<boolean> {
  const r = await db.query(`UPDATE orchestration_runs SET lease_expires_at = $3::timestamptz WHERE id = $1 AND attempt = $2 AND status = 'running'`, [run.id, run.attempt, leaseUntil.toISOString()]);
  return r.rowCount > 0;
}

export interface PlanSummary {
  model_version: string;
  signals_count: number;
  signals_ms: number;
  positions_ms: number;
  plan_ms: number;
}

/** Writes the plan in one transaction, once per run; false when the run is no longer ours (or already planned). */
export async function storePlan(db: Db, run: Pick<RunRow, 'id' | 'attempt'>, rows: readonly OrderState[], s: PlanSummary, now: Date): Promise<boolean> {
  const at = now.toISOString();
  return db.transaction(async (tx) => {
    const u = await tx.query(
      `UPDATE orchestration_runs SET planned_at = $3::timestamptz, model_version = $4, signals_count = $5, signals_ms = $6, positions_ms = $7, plan_ms = $8, updated_at = $3::timestamptz
       WHERE id = $1 AND attempt = $2 AND status = 'running' AND planned_at IS NULL`,
      [run.id, run.attempt, at, s.model_version, s.signals_count, s.signals_ms, s.positions_ms, s.plan_ms],
    );
    if (u.rowCount === 0) return false;
    if (rows.length === 0) return true;
    await tx.query(
      `INSERT INTO orchestration_orders (run_id, seq, symbol, leg, predicted_return, rank, target_weight, price, current_qty, target_qty, capped, side, qty, client_order_id, order_status, limited_by, error, updated_at)
       SELECT $1, x.seq, x.symbol, x.leg, x.predicted_return, x.rank, x.target_weight::numeric, x.price::numeric, x.current_qty::numeric, x.target_qty::numeric,
              x.capped, x.side, x.qty::numeric, x.client_order_id, x.order_status, x.limited_by, x.error, $2::timestamptz
       FROM jsonb_to_recordset($3::jsonb) AS x(seq int, symbol text, leg text, predicted_return float8, rank int, target_weight text, price text, current_qty text,
            target_qty text, capped boolean, side text, qty text, client_order_id text, order_status text, limited_by text, error text)`,
      [
        run.id,
        at,
        JSON.stringify(
          rows.map((o) => ({
            seq: o.seq,
            symbol: o.symbol,
            leg: o.leg,
            predicted_return: o.predicted_return,
            rank: o.rank,
            target_weight: o.target_weight,
            price: o.price,
            current_qty: o.current_qty,
            target_qty: o.target_qty,
            capped: o.capped,
            side: o.side,
            qty: o.qty,
            client_order_id: o.client_order_id,
            order_status: o.order_status,
            limited_by: o.limited_by,
            error: o.error,
          })),
        ),
      ],
    );
    return true;
  });
}

/** Rows of orchestration_orders are the API's view as they are. */
type OrderDbRow = RunOrderView;

export async function loadPlan(db: Queryable, runId: number): Promise<OrderState[]> {
  const r = await db.query<OrderDbRow>(`SELECT ${ORDER_COLUMNS} FROM orchestration_orders WHERE run_id = $1 ORDER BY seq`, [runId]);
  return r.rows.map((o) => ({
    ...o,
    target_weight: o.target_weight === null ? null : decString(o.target_weight),
    price: o.price === null ? null : decString(o.price),
    current_qty: decString(o.current_qty),
    target_qty: o.target_qty === null ? null : decString(o.target_qty),
    qty: o.qty === null ? null : decString(o.qty),
  }));
}

/**
 * Records submission outcomes (one statement for a batch); false when the run is no longer
 * ours. Written per phase rather than per order: a crash before the write only means the
 * resume submits those orders again, which the gateway answers with the existing orders.
 */
export async function updateOrders(db: Queryable, run: Pick<RunRow, 'id' | 'attempt'>, rows: readonly OrderState[], now: Date): Promise<boolean> {
  if (rows.length === 0) return true;
  const r = await db.query(
    `UPDATE orchestration_orders o SET order_status = x.order_status, gateway_order_id = x.gateway_order_id, gateway_status = x.gateway_status, created = x.created,
       retryable = x.retryable, error = x.error, attempts = x.attempts, submitted_at = x.submitted_at, updated_at = $4::timestamptz
     FROM jsonb_to_recordset($3::jsonb) AS x(seq int, order_status text, gateway_order_id text, gateway_status text, created boolean, retryable boolean, error text, attempts int, submitted_at timestamptz)
     WHERE o.run_id = $1 AND o.seq = x.seq AND EXISTS (SELECT 1 FROM orchestration_runs WHERE id = $1 AND attempt = $2 AND status = 'running')`,
    [
      run.id,
      run.attempt,
      JSON.stringify(
        rows.map((o) => ({
          seq: o.seq,
          order_status: o.order_status,
          gateway_order_id: o.gateway_order_id,
          gateway_status: o.gateway_status,
          created: o.created,
          retryable: o.retryable,
          error: o.error,
          attempts: o.attempts,
          submitted_at: o.submitted_at,
        })),
      ),
      now.toISOString(),
    ],
  );
  return r.rowCount > 0;
}

export interface FinishFields {
  status: Exclude<RunStatus, 'running' | 'scheduled'>;
  orders_planned: number;
  orders_submitted: number;
  orders_failed: number;
  symbols_failed: number;
  submit_ms: number | null;
  total_ms: number;
  error: string | null;
}

export async function finishRun(db: Queryable, run: Pick<RunRow, 'id' | 'attempt'>, f: FinishFields, now: Date): Promise<RunRow | null> {
  const r = await db.query<RunRow>(
    `UPDATE orchestration_runs SET status = $3, orders_planned = $4, orders_submitted = $5, orders_failed = $6, symbols_failed = $7, submit_ms = $8, total_ms = $9,
       error = $10, finished_at = $11::timestamptz, updated_at = $11::timestamptz, lease_expires_at = NULL
     WHERE id = $1 AND attempt = $2 AND status = 'running'
     RETURNING ${RUN_COLUMNS}`,
    [run.id, run.attempt, f.status, f.orders_planned, f.orders_submitted, f.orders_failed, f.symbols_failed, f.submit_ms, f.total_ms, f.error, now.toISOString()],
  );
  return r.rows[0] ?? null;
}

/** Whether a finished run still has planned orders that a resume would submit. */
export async function hasResumableOrders(db: Queryable, runId: number): Promise<boolean> {
  const r = await db.query(`SELECT 1 FROM orchestration_orders WHERE run_id = $1 AND order_status IN ('planned', 'deferred', 'failed') LIMIT 1`, [runId]);
  return r.rows.length > 0;
}

export interface RunListQuery {
  strategy_id?: string;
  status?: RunStatus;
  limit?: number;
  cursor?: string;
}

/** Newest first, keyset-paged on id: `next_cursor` is null on the last page. */
export async function listRuns(db: Queryable, q: RunListQuery): Promise<{ runs: RunRow[]; next_cursor: string | null }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, v: unknown) => {
    params.push(v);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (q.strategy_id) add('strategy_id = ?', q.strategy_id);
  if (q.status) add('status = ?', q.status);
  if (q.cursor) add('id < ?', Number(q.cursor));
  const limit = q.limit ?? 50;
  params.push(limit + 1);
  const r = await db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM orchestration_runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`, params);
  const more = r.rows.length > limit;
  const runs = more ? r.rows.slice(0, limit) : r.rows;
  return { runs, next_cursor: more ? String(runs[runs.length - 1]!.id) : null };
}

/**
 * Runs that need someone: scheduled ones whose trade date has come, running ones whose owner
 * stopped renewing the lease (crashed), partial ones of today with open legs still deferred.
 */
export async function dueRuns(db: Queryable, now: Date, today: string, deferredRetryMs: number, limit = 20): Promise<RunRow[]> {
  const r = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM orchestration_runs r
     WHERE (status = 'scheduled' AND trade_date <= $1::date)
        OR (status = 'running' AND lease_expires_at < $2::timestamptz)
        OR (status = 'partial' AND NOT dry_run AND trade_date = $1::date AND updated_at < $3::timestamptz
            AND EXISTS (SELECT 1 FROM orchestration_orders o WHERE o.run_id = r.id AND o.order_status = 'deferred'))
     ORDER BY id LIMIT $4`,
    [today, now.toISOString(), new Date(now.getTime() - deferredRetryMs).toISOString(), limit],
  );
  return r.rows;
}

export function runView(r: RunRow): RunView {
  return {
    id: r.id,
    strategy_id: r.strategy_id,
    as_of_date: r.as_of_date,
    trade_date: r.trade_date,
    status: r.status,
    trigger: r.trigger,
    dry_run: r.dry_run,
    capital: decString(r.capital),
    max_position_pct: decString(r.max_position_pct),
    top_n: r.top_n,
    bottom_n: r.bottom_n,
    symbols: r.symbols,
    model_version: r.model_version,
    signals_count: r.signals_count,
    orders_planned: r.orders_planned,
    orders_submitted: r.orders_submitted,
    orders_failed: r.orders_failed,
    symbols_failed: r.symbols_failed,
    timings: { signals_ms: r.signals_ms, positions_ms: r.positions_ms, plan_ms: r.plan_ms, submit_ms: r.submit_ms, total_ms: r.total_ms },
    error: r.error,
    attempt: r.attempt,
    created_at: r.created_at,
    started_at: r.started_at,
    finished_at: r.finished_at,
    updated_at: r.updated_at,
  };
}

export function orderView(o: OrderState): RunOrderView {
  return {
    seq: o.seq,
    symbol: o.symbol,
    leg: o.leg,
    predicted_return: o.predicted_return,
    rank: o.rank,
    target_weight: o.target_weight,
    price: o.price,
    current_qty: o.current_qty,
    target_qty: o.target_qty,
    capped: o.capped,
    side: o.side,
    qty: o.qty,
    client_order_id: o.client_order_id,
    order_status: o.order_status,
    gateway_order_id: o.gateway_order_id,
    gateway_status: o.gateway_status,
    created: o.created,
    retryable: o.retryable,
    limited_by: o.limited_by,
    error: o.error,
    attempts: o.attempts,
    submitted_at: o.submitted_at,
    updated_at: o.updated_at,
  };
}
