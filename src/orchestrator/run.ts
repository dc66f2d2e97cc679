import { dayNumber, dayString, newYorkDate, type Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { dec, decString, ZERO, type Decimal } from '../core/money.js';
import type { Db } from '../db/db.js';
import { HttpError } from '../observability/http-app.js';
import { nextTradingDay, previousTradingDay } from '../data/calendar.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import type { SignalsClient, SignalsResponse } from '../signals/types.js';
import { GatewayError, type GatewayClient, type GatewayOrder } from './gateway-client.js';
import { orchestratorMetrics, type OrchestratorMetrics } from './metrics.js';
import { assertReturnModel, UnusableModelError } from './model-label.js';
import type { PriceSource } from './prices.js';
import { parseRunRequest, runParams } from './request.js';
import { clientOrderIdFor, planOrders } from './sizing.js';
import {
  dueRuns,
  findRunByKey,
  finishRun,
  getRun,
  hasResumableOrders,
  insertRun,
  loadPlan,
  orderView,
  renewLease,
  runView,
  storePlan,
  takeOver,
  updateOrders,
  type FinishFields,
  type OrderState,
  type RunRow,
} from './store.js';
import type { RunOrderView, RunRequest, RunRequestBody, RunTrigger, RunView, SizingLimits } from './types.js';

/**
 * One orchestration run as plain functions (the routes, the event consumer, the scheduler and
 * `kestrel run` all call these):
 *
 *  1. claim (strategy_id, as_of_date): INSERT … ON CONFLICT DO NOTHING; the loser gets the
 *     existing run (waiting a moment while it runs) and submits nothing;
 *  2. fetch signals and positions (in parallel), prices of the signal date; size and diff
 *     (sizing.ts); optional sizing limits (risk);
 *  3. write the plan (every order with its client_order_id) in one transaction;
 *  4. submit through the gateway, at most `submitConcurrency` at a time; open legs of flips
 *     after their close leg filled;
 *  5. record the outcome and timings.
 * A run that crashed (lease expired) or failed is resumed from its stored plan, never
 * re-planned: the same client_order_ids make re-submission harmless.
 */

export interface OrchestratorTuning {
  /** Orders in flight to the gateway at once. Default 8. */
  submitConcurrency?: number;
  /** A running run whose owner has not renewed this long is presumed crashed. Default 30 s. */
  leaseMs?: number;
  /** How long a second request waits for a run someone else is executing. Default 15 s. */
  waitForRunningMs?: number;
  /** How long an open leg waits for its close leg to fill before it is deferred. Default 10 s. */
  flipWaitMs?: number;
  /** Attempts per order on retryable gateway errors (5xx, unreachable). Default 3. */
  submitAttempts?: number;
  /** Backoff base between those attempts (doubles). Default 200 ms. */
  retryBaseMs?: number;
  /** Future trade dates are scheduled (202) rather than refused (422). Default false; the app turns it on with its scheduler. */
  scheduling?: boolean;
}

export interface OrchestratorDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  signals: SignalsClient;
  gateway: GatewayClient;
  prices: PriceSource;
  /** Risk limits as a sizing function (RiskEngine fits); none = no limits at sizing time. */
  sizingLimits?: SizingLimits;
  /** The service registry; the orchestrator adds its series. Default: a new one. */
  metrics?: Metrics;
  tuning?: OrchestratorTuning;
}

export interface OrchestratorContext {
  db: Db;
  clock: Clock;
  logger: Logger;
  signals: SignalsClient;
  gateway: GatewayClient;
  prices: PriceSource;
  sizingLimits: SizingLimits | null;
  registry: Metrics;
  metrics: OrchestratorMetrics;
  tuning: Required<OrchestratorTuning>;
}

export function createOrchestratorContext(deps: OrchestratorDeps): OrchestratorContext {
  const registry = deps.metrics ?? createMetrics('orchestrator');
  const t = deps.tuning ?? {};
  return {
    db: deps.db,
    clock: deps.clock,
    logger: deps.logger,
    signals: deps.signals,
    gateway: deps.gateway,
    prices: deps.prices,
    sizingLimits: deps.sizingLimits ?? null,
    registry,
    metrics: orchestratorMetrics(registry),
    tuning: {
      submitConcurrency: t.submitConcurrency ?? 8,
      leaseMs: t.leaseMs ?? 30_000,
      waitForRunningMs: t.waitForRunningMs ?? 15_000,
      flipWaitMs: t.flipWaitMs ?? 10_000,
      submitAttempts: t.submitAttempts ?? 3,
      retryBaseMs: t.retryBaseMs ?? 200,
      scheduling: t.scheduling ?? false,
    },
  };
}

/** created: this request started the run (201); scheduled: recorded for its trade date (202); existing/resumed: 200. */
export type RunOutcomeKind = 'created' | 'scheduled' | 'existing' | 'resumed';

export interface RunOutcome {
  outcome: RunOutcomeKind;
  run: RunView;
  orders: RunOrderView[];
}

/** POST /api/v1/orchestration/run as a function. Throws HttpError 422 (invalid / stale / future trade date) and 409 (same key, other parameters). */
export async function runOrchestration(ctx: OrchestratorContext, body: RunRequestBody, opts: { trigger?: RunTrigger } = {}): Promise<RunOutcome> {
  let req: RunRequest;
  try {
    req = parseRunRequest(body);
  } catch (e) {
    ctx.metrics.requests.inc({ outcome: 'invalid' });
    throw e;
  }
  const trigger = opts.trigger ?? 'api';

  if (req.dry_run) {
    const now = ctx.clock.now();
    const row = (await insertRun(ctx.db, req, { trigger, status: 'running', now, leaseUntil: leaseUntil(ctx, now) }))!;
    ctx.metrics.requests.inc({ outcome: 'created' });
    return outcomeOf(ctx, 'created', refuseUnusable(await execute(ctx, row)));
  }

  for (let i = 0; i < 3; i++) {
    const existing = await findRunByKey(ctx.db, req.strategy_id, req.as_of_date);
    if (existing) return handleExisting(ctx, existing, req);

    const now = ctx.clock.now();
    const today = newYorkDate(now);
    if (req.trade_date < today) {
      ctx.metrics.requests.inc({ outcome: 'invalid' });
      throw new HttpError(422, 'stale_trade_date', staleTradeDateMessage(req, today), [
        { field: 'trade_date', reason: `must be ${today} or later for a run that submits orders` },
      ]);
    }
    if (req.trade_date > today && !ctx.tuning.scheduling) {
      ctx.metrics.requests.inc({ outcome: 'invalid' });
      throw new HttpError(422, 'future_trade_date', `trade_date ${req.trade_date} is not today (${today}, America/New_York): the gateway takes orders for today's session only; run it on ${req.trade_date}, ask a running orchestrator service (it schedules), or use dry_run`, [
        { field: 'trade_date', reason: `must be ${today} for a run that submits orders now` },
      ]);
    }
    const status = req.trade_date > today ? 'scheduled' : 'running';
    const row = await insertRun(ctx.db, req, { trigger, status, now, leaseUntil: leaseUntil(ctx, now) });
    if (!row) continue; // lost the race: handle the winner's run
    if (status === 'scheduled') {
      ctx.metrics.requests.inc({ outcome: 'scheduled' });
      ctx.logger.info({ run_id: row.id, strategy_id: row.strategy_id, as_of_date: row.as_of_date, trade_date: row.trade_date }, 'run scheduled for its trade date');
      return outcomeOf(ctx, 'scheduled', row);
    }
    ctx.metrics.requests.inc({ outcome: 'created' });
    return outcomeOf(ctx, 'created', refuseUnusable(await execute(ctx, row)));
  }
  throw new Error(`run ${req.strategy_id}/${req.as_of_date}: neither claimed nor found after 3 attempts`);
}

/** The run and its plan, or null. */
export async function getRunWithOrders(ctx: Pick<OrchestratorContext, 'db'>, id: number): Promise<{ run: RunView; orders: RunOrderView[] } | null> {
  const row = await getRun(ctx.db, id);
  if (!row) return null;
  return { run: runView(row), orders: (await loadPlan(ctx.db, id)).map(orderView) };
}

async function outcomeOf(ctx: OrchestratorContext, outcome: RunOutcomeKind, row: RunRow): Promise<RunOutcome> {
  return { outcome, run: runView(row), orders: (await loadPlan(ctx.db, row.id)).map(orderView) };
}

function paramsOfRow(r: RunRow): string {
  return runParams({ trade_date: r.trade_date, symbols: r.symbols, capital: dec(r.capital), max_position_pct: dec(r.max_position_pct), top_n: r.top_n, bottom_n: r.bottom_n });
}

async function handleExisting(ctx: OrchestratorContext, existing: RunRow, req: RunRequest): Promise<RunOutcome> {
  if (paramsOfRow(existing) !== runParams(req)) {
    ctx.metrics.requests.inc({ outcome: 'conflict' });
    throw new HttpError(
      409,
      'run_conflict',
      `run ${existing.id} already exists for ${existing.strategy_id} on ${existing.as_of_date} with other parameters (${paramsOfRow(existing)}); a strategy runs once per as_of_date — GET /api/v1/orchestration/runs/${existing.id}`,
    );
  }
  const { outcome, row } = await advance(ctx, existing);
  ctx.metrics.requests.inc({ outcome });
  return outcomeOf(ctx, outcome, refuseUnusable(row));
}

/**
 * What a later request (or the scheduler) does with an existing run: nothing when it is done,
 * wait while someone else runs it, take it over and resume it when it crashed, failed, still
 * has planned orders to submit, or is scheduled and due.
 */
async function advance(ctx: OrchestratorContext, seen: RunRow): Promise<{ outcome: 'existing' | 'resumed'; row: RunRow }> {
  const now = ctx.clock.now();
  const today = newYorkDate(now);
  let resumable: boolean;
  switch (seen.status) {
    case 'completed':
      resumable = false;
      break;
    case 'scheduled':
      resumable = seen.trade_date <= today;
      break;
    case 'running':
      resumable = seen.lease_expires_at !== null && seen.lease_expires_at < now.toISOString();
      if (!resumable) return { outcome: 'existing', row: await waitForRun(ctx, seen.id) };
      break;
    case 'failed':
      resumable = true;
      break;
    case 'partial':
      resumable = await hasResumableOrders(ctx.db, seen.id);
      break;
  }
  if (!resumable) return { outcome: 'existing', row: seen };
  const mine = await takeOver(ctx.db, seen, now, leaseUntil(ctx, now));
  if (!mine) return { outcome: 'existing', row: await waitForRun(ctx, seen.id) };
  ctx.logger.info({ run_id: mine.id, strategy_id: mine.strategy_id, as_of_date: mine.as_of_date, from: seen.status, attempt: mine.attempt, planned: mine.planned_at !== null }, 'resuming run');
  return { outcome: 'resumed', row: await execute(ctx, mine) };
}

/** Resumes one run by id if it needs it (the scheduler's entry point). */
export async function resumeRun(ctx: OrchestratorContext, id: number): Promise<RunView | null> {
  const seen = await getRun(ctx.db, id);
  if (!seen) return null;
  return runView((await advance(ctx, seen)).row);
}

/** Runs due now (scheduled and due, crashed, deferred legs to retry), each advanced once. */
export async function runDue(ctx: OrchestratorContext, opts: { deferredRetryMs?: number } = {}): Promise<RunView[]> {
  const now = ctx.clock.now();
  const due = await dueRuns(ctx.db, now, newYorkDate(now), opts.deferredRetryMs ?? 15_000);
  const out: RunView[] = [];
  for (const r of due) out.push(runView((await advance(ctx, r)).row));
  return out;
}

async function waitForRun(ctx: OrchestratorContext, id: number): Promise<RunRow> {
  const end = Date.now() + ctx.tuning.waitForRunningMs;
  let delay = 25;
  for (;;) {
    const r = (await getRun(ctx.db, id))!;
    if (r.status !== 'running' || Date.now() >= end) return r;
    await sleep(delay);
    delay = Math.min(delay * 2, 250);
  }
}

// ---- execution --------------------------------------------------------------------------

/**
 * Runs that failed because the signals came from a model the strategy cannot trade (not a
 * return label): recorded as failed like any run, and answered 422 to the API caller that
 * started or resumed them (retrying once a return model is in production resumes the run).
 */
const unusable = new WeakMap<RunRow, UnusableModelError>();

function refuseUnusable(row: RunRow): RunRow {
  const e = unusable.get(row);
  if (e) throw new HttpError(422, e.code, `run ${row.id} failed, nothing was ordered: ${e.message}`, [{ field: 'model', reason: `${e.model.name} v${e.model.version} predicts ${e.model.label}` }]);
  return row;
}

class LostLeaseError extends Error {
  constructor(runId: number) {
    super(`run ${runId}: another process took the run over (lease expired); stopping here`);
    this.name = 'LostLeaseError';
  }
}

function leaseUntil(ctx: OrchestratorContext, now: Date): Date {
  return new Date(now.getTime() + ctx.tuning.leaseMs);
}

interface Lease {
  check(): void;
  stop(): void;
}

function holdLease(ctx: OrchestratorContext, run: RunRow): Lease {
  let lost = false;
  const timer = setInterval(
    () => {
      renewLease(ctx.db, run, leaseUntil(ctx, ctx.clock.now())).then(
        (ok) => {
          if (!ok) lost = true;
        },
        (e: unknown) => ctx.logger.warn({ err: e instanceof Error ? e.message : String(e), run_id: run.id }, 'could not renew the run lease'),
      );
    },
    Math.max(10, Math.floor(ctx.tuning.leaseMs / 3)),
  );
  timer.unref();
  return {
    check: () => {
      if (lost) throw new LostLeaseError(run.id);
    },
    stop: () => clearInterval(timer),
  };
}

/** Executes a run this process owns (status running, its attempt). Never throws for run-level failures: they are recorded. */
async function execute(ctx: OrchestratorContext, run: RunRow): Promise<RunRow> {
  const t0 = performance.now();
  const lease = holdLease(ctx, run);
  const log = ctx.logger.child({ run_id: run.id, strategy_id: run.strategy_id, as_of_date: run.as_of_date, attempt: run.attempt });
  ctx.metrics.inProgress.inc();
  let submitMs: number | null = null;
  try {
    let rows: OrderState[];
    if (run.planned_at === null) {
      const today = newYorkDate(ctx.clock.now());
      if (!run.dry_run && run.trade_date < today) {
        return await fail(ctx, run, `trade_date ${run.trade_date} passed before the run could be planned (today is ${today}); nothing was submitted`, t0, null);
      }
      rows = await plan(ctx, run, lease);
    } else {
      rows = await loadPlan(ctx.db, run.id);
    }
    if (!run.dry_run) {
      const ts = performance.now();
      await submitPlan(ctx, run, rows, lease);
      submitMs = performance.now() - ts;
      ctx.metrics.phaseSeconds.observe({ phase: 'submit' }, submitMs / 1000);
    }
    lease.check();
    const f = summarize(rows, run.dry_run);
    const total = performance.now() - t0;
    ctx.metrics.phaseSeconds.observe({ phase: 'total' }, total / 1000);
    const done = await finishRun(ctx.db, run, { ...f, submit_ms: round1(submitMs), total_ms: round1(total)! }, ctx.clock.now());
    if (!done) throw new LostLeaseError(run.id);
    ctx.metrics.runs.inc({ status: done.status, trigger: done.trigger });
    const fields = { status: done.status, planned: done.orders_planned, submitted: done.orders_submitted, failed: done.orders_failed, symbols_failed: done.symbols_failed, total_ms: done.total_ms };
    if (done.orders_failed > 0) {
      const byReason = failureReasons(rows);
      log.warn({ ...fields, by_reason: byReason }, `run finished ${done.status}: ${done.orders_failed} of ${done.orders_planned} orders refused or failed (${Object.entries(byReason).map(([k, n]) => `${k} ${n}`).join(', ')})`);
    } else log.info(fields, 'run finished');
    return done;
  } catch (e) {
    if (e instanceof LostLeaseError) {
      log.warn(e.message);
      return (await getRun(ctx.db, run.id))!;
    }
    log.error({ err: e instanceof Error ? e.message : String(e) }, 'run failed');
    const failed = await fail(ctx, run, errText(e), t0, submitMs);
    if (e instanceof UnusableModelError) unusable.set(failed, e);
    return failed;
  } finally {
    lease.stop();
    ctx.metrics.inProgress.dec();
  }
}

/** Failed and rejected orders by reason: the gateway's error code (`max_gross_exposure`), `broker_rejected`, or `failed`. */
function failureReasons(rows: readonly OrderState[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) {
    if (r.order_status !== 'failed' && r.order_status !== 'rejected') continue;
    const code = r.order_status === 'rejected' ? 'broker_rejected' : (/\b[45]\d\d ([a-z_]+)(?::|$)/.exec(r.error ?? '')?.[1] ?? 'failed');
    out[code] = (out[code] ?? 0) + 1;
  }
  return out;
}

async function fail(ctx: OrchestratorContext, run: RunRow, error: string, t0: number, submitMs: number | null): Promise<RunRow> {
  let f: Omit<FinishFields, 'submit_ms' | 'total_ms'> = { status: 'failed', orders_planned: 0, orders_submitted: 0, orders_failed: 0, symbols_failed: 0, error: null };
  try {
    const rows = await loadPlan(ctx.db, run.id);
    if (rows.length) f = summarize(rows, run.dry_run);
  } catch {
    // the database may be what failed: keep zero counts
  }
  try {
    const done = await finishRun(ctx.db, run, { ...f, status: 'failed', error: error.slice(0, 2000), submit_ms: round1(submitMs), total_ms: round1(performance.now() - t0)! }, ctx.clock.now());
    if (done) {
      ctx.metrics.runs.inc({ status: 'failed', trigger: done.trigger });
      return done;
    }
  } catch (e) {
    ctx.logger.error({ err: errText(e), run_id: run.id }, 'could not record the run failure; the lease expires and the run is resumed later');
  }
  const r = await getRun(ctx.db, run.id).catch(() => null);
  return r ?? { ...run, status: 'failed', error };
}

async function plan(ctx: OrchestratorContext, run: RunRow, lease: Lease): Promise<OrderState[]> {
  const timed = async <T>(phase: string, p: () => Promise<T>): Promise<{ v: T; ms: number }> => {
    const t = performance.now();
    const v = await p();
    const ms = performance.now() - t;
    ctx.metrics.phaseSeconds.observe({ phase }, ms / 1000);
    return { v, ms };
  };
  const [sig, pos] = await Promise.all([
    timed('signals', () =>
      ctx.signals.generate({ as_of_date: run.as_of_date, top_n: run.top_n, bottom_n: run.bottom_n, ...(run.symbols ? { symbols: run.symbols } : {}) }).catch((e: unknown) => {
        throw new Error(`signals: ${errText(e)}`);
      }),
    ),
    timed('positions', () =>
      withRetry(ctx, () => ctx.gateway.positions()).catch((e: unknown) => {
        throw new Error(`positions: ${errText(e)}`);
      }),
    ),
  ]);
  checkSignals(sig.v, run);
  if (sig.v.model.label === undefined) warnNoLabel(ctx, sig.v.model);
  assertReturnModel(sig.v.model);

  const tp = performance.now();
  const positions = new Map<string, Decimal>();
  for (const p of pos.v) {
    const q = dec(p.qty);
    if (!q.isZero()) positions.set(p.symbol, q);
  }
  const wanted = new Set<string>(positions.keys());
  for (const s of sig.v.signals) if (s.target_weight !== 0) wanted.add(s.symbol);
  const prices = await ctx.prices.prices(run.as_of_date, [...wanted]).catch((e: unknown) => {
    throw new Error(`prices: ${errText(e)}`);
  });
  const planned = planOrders({ strategy_id: run.strategy_id, trade_date: run.trade_date, capital: dec(run.capital), max_position_pct: dec(run.max_position_pct), signals: sig.v.signals, positions, prices });
  const now = ctx.clock.now().toISOString();
  let rows: OrderState[] = planned.map((r) => ({ ...r, gateway_order_id: null, gateway_status: null, created: null, retryable: false, limited_by: null, attempts: 0, submitted_at: null, updated_at: now }));
  if (ctx.sizingLimits) rows = await applyLimits(ctx, run, rows);
  if (run.dry_run) for (const r of rows) if (r.order_status === 'planned' || r.order_status === 'deferred') r.order_status = 'dry_run';
  const planMs = performance.now() - tp;
  ctx.metrics.phaseSeconds.observe({ phase: 'plan' }, planMs / 1000);

  lease.check();
  const model = `${sig.v.model.name}:v${sig.v.model.version}`;
  const stored = await storePlan(ctx.db, run, rows, { model_version: model, signals_count: sig.v.signals.length, signals_ms: round1(sig.ms)!, positions_ms: round1(pos.ms)!, plan_ms: round1(planMs)! }, ctx.clock.now());
  if (!stored) throw new LostLeaseError(run.id);
  return rows;
}

let warnedNoLabel = false;
function warnNoLabel(ctx: OrchestratorContext, model: { name: string; version: number }): void {
  if (warnedNoLabel) return;
  warnedNoLabel = true;
  ctx.logger.warn({ model: `${model.name}:v${model.version}` }, 'the signal service does not say what its model predicts (an older version): trading its scores as returns');
}

function checkSignals(r: SignalsResponse, run: RunRow): void {
  if (r.as_of_date !== run.as_of_date) throw new Error(`signals: asked for ${run.as_of_date}, the signal service answered for ${r.as_of_date}`);
  if (!Array.isArray(r.signals)) throw new Error('signals: the answer has no signals array');
}

/** Risk limits at sizing time: cut each leg to what the limits allow (0 → limited, no order). */
async function applyLimits(ctx: OrchestratorContext, run: RunRow, rows: OrderState[]): Promise<OrderState[]> {
  const limits = ctx.sizingLimits!;
  const closeCut = new Set<string>();
  for (const r of rows) {
    if ((r.order_status !== 'planned' && r.order_status !== 'deferred') || r.side === null || r.qty === null) continue;
    if (r.leg === 'open' && closeCut.has(r.symbol)) {
      r.order_status = 'limited';
      r.client_order_id = null;
      r.limited_by = 'close_leg_limited: the close leg was cut, so the position is not reversed';
      continue;
    }
    const want = dec(r.qty);
    const got = await limits.size({ strategy_id: run.strategy_id, symbol: r.symbol, side: r.side, qty: want, order_type: 'market', limit_price: null, trade_date: run.trade_date });
    const qty = minDec(got.qty.trunc(), want);
    if (qty.gte(want)) continue;
    if (r.leg === 'close') closeCut.add(r.symbol);
    r.limited_by = got.limitedBy ? `${got.limitedBy.code}: ${got.limitedBy.reason}`.slice(0, 500) : 'limited';
    if (qty.lte(0)) {
      r.order_status = 'limited';
      r.client_order_id = null;
    } else {
      r.qty = decString(qty);
      r.client_order_id = clientOrderIdFor(run, r.symbol, r.leg, r.side, r.qty);
    }
  }
  return rows;
}

function minDec(a: Decimal, b: Decimal): Decimal {
  return a.lt(b) ? a : b;
}

const SUBMITTABLE = new Set(['planned', 'failed']);

async function submitPlan(ctx: OrchestratorContext, run: RunRow, rows: OrderState[], lease: Lease): Promise<void> {
  const closeLegs = new Map(rows.filter((r) => r.leg === 'close').map((r) => [r.symbol, r]));
  // Phase 1: every leg that does not wait for another (rebalance, close, an open leg without a close leg).
  const first = rows.filter((r) => SUBMITTABLE.has(r.order_status) && !(r.leg === 'open' && closeLegs.has(r.symbol)));
  await record(ctx, run, first, () => mapLimit(first, ctx.tuning.submitConcurrency, (r) => submitOne(ctx, run, r, lease)));
  // Phase 2: open legs of flips, once their close leg has filled.
  const second = rows.filter((r) => r.leg === 'open' && closeLegs.has(r.symbol) && (r.order_status === 'deferred' || SUBMITTABLE.has(r.order_status)));
  await record(ctx, run, second, () => mapLimit(second, ctx.tuning.submitConcurrency, (r) => submitOpenLeg(ctx, run, r, closeLegs.get(r.symbol)!, lease)));
}

/** Runs a submission phase, then records its outcomes in one statement (also when the phase threw). */
async function record(ctx: OrchestratorContext, run: RunRow, rows: OrderState[], phase: () => Promise<void>): Promise<void> {
  let failure: unknown = null;
  try {
    await phase();
  } catch (e) {
    failure = e;
  }
  if (failure instanceof LostLeaseError) throw failure;
  if (!(await updateOrders(ctx.db, run, rows, ctx.clock.now())) && rows.length > 0) throw new LostLeaseError(run.id);
  if (failure !== null) throw failure;
}

async function submitOne(ctx: OrchestratorContext, run: RunRow, r: OrderState, lease: Lease): Promise<void> {
  lease.check();
  const attempts = ctx.tuning.submitAttempts;
  for (let i = 1; ; i++) {
    r.attempts++;
    try {
      const { order, created } = await ctx.gateway.submitOrder({
        strategy_id: run.strategy_id,
        symbol: r.symbol,
        side: r.side!,
        qty: r.qty!,
        order_type: 'market',
        time_in_force: 'day',
        client_order_id: r.client_order_id!,
        trade_date: run.trade_date,
      });
      applyGatewayOrder(r, order, created, ctx.clock.now());
      ctx.metrics.orders.inc({ outcome: r.order_status === 'rejected' ? 'rejected' : created ? 'created' : 'existing' });
      break;
    } catch (e) {
      const retryable = !(e instanceof GatewayError) || e.retryable;
      if (retryable && i < attempts) {
        ctx.metrics.orders.inc({ outcome: 'retried' });
        await sleep(ctx.tuning.retryBaseMs * 2 ** (i - 1));
        continue;
      }
      r.order_status = 'failed';
      r.retryable = retryable;
      r.error = errText(e).slice(0, 1000);
      ctx.metrics.orders.inc({ outcome: 'failed' });
      // A refusal (4xx: risk, kill switch) is an outcome, not an incident: detail at debug, one warning per run (execute).
      const refused = e instanceof GatewayError && e.status >= 400 && e.status < 500;
      ctx.logger[refused ? 'debug' : 'warn']({ run_id: run.id, symbol: r.symbol, client_order_id: r.client_order_id, err: r.error, retryable }, refused ? 'order refused' : 'order submission failed');
      break;
    }
  }
}

function applyGatewayOrder(r: OrderState, order: GatewayOrder, created: boolean, now: Date): void {
  r.gateway_order_id = order.id;
  r.gateway_status = order.status;
  r.created = created;
  r.submitted_at = now.toISOString();
  r.retryable = false;
  if (order.status === 'rejected') {
    r.order_status = 'rejected';
    r.error = order.error ?? 'rejected by the broker';
  } else {
    r.order_status = 'submitted';
    r.error = null;
  }
}

/** Gateway order statuses after which nothing more fills. */
const TERMINAL = new Set(['filled', 'canceled', 'rejected', 'expired', 'dry_run']);

async function submitOpenLeg(ctx: OrchestratorContext, run: RunRow, open: OrderState, close: OrderState, lease: Lease): Promise<void> {
  if (close.order_status === 'rejected' || close.order_status === 'limited') {
    open.order_status = 'failed';
    open.retryable = false;
    open.error = `close leg ${close.order_status}: the position is not reversed`;
  } else if (close.order_status !== 'submitted') {
    // Close leg failed (retryable) or still planned: the open leg waits for a later attempt.
    open.order_status = 'deferred';
    open.error = `waiting for the close leg (${close.order_status})`;
  } else {
    const state = await waitForFill(ctx, close, lease);
    if (state === 'filled') {
      open.error = null;
      await submitOne(ctx, run, open, lease);
      return;
    }
    if (state === 'open') {
      open.order_status = 'deferred';
      open.error = `the close leg ${close.client_order_id} has not filled yet; the open leg is submitted once it has`;
    } else {
      open.order_status = 'failed';
      open.retryable = false;
      open.error = `the close leg ended ${state}: the position is not reversed`;
    }
  }
}

/** 'filled' (or dry_run), 'open' (still working after flipWaitMs), or the terminal status it ended in. */
async function waitForFill(ctx: OrchestratorContext, close: OrderState, lease: Lease): Promise<string> {
  const end = Date.now() + ctx.tuning.flipWaitMs;
  let status = close.gateway_status ?? 'unknown';
  let filledQty: Decimal = ZERO;
  let delay = 50;
  for (;;) {
    if (status === 'filled' || status === 'dry_run') return 'filled';
    if (TERMINAL.has(status)) return filledQty.gt(0) ? `${status} after a partial fill of ${decString(filledQty)}` : status;
    if (Date.now() >= end) return 'open';
    await sleep(delay);
    delay = Math.min(delay * 2, 500);
    lease.check();
    try {
      const o = await ctx.gateway.getOrder(close.client_order_id!);
      if (o) {
        status = o.status;
        filledQty = dec(o.filled_qty);
      }
    } catch (e) {
      ctx.logger.warn({ err: errText(e), client_order_id: close.client_order_id }, 'could not read the close leg; retrying');
    }
  }
}

function summarize(rows: readonly OrderState[], dryRun: boolean): Omit<FinishFields, 'submit_ms' | 'total_ms'> {
  let planned = 0;
  let submitted = 0;
  let failed = 0;
  let deferred = 0;
  let symbolsFailed = 0;
  const problems: string[] = [];
  for (const r of rows) {
    if (r.order_status === 'symbol_failed') {
      symbolsFailed++;
      problems.push(`${r.symbol}: ${r.error ?? 'failed'}`);
      continue;
    }
    if (r.qty === null || r.order_status === 'limited' || r.order_status === 'unchanged') continue;
    planned++;
    if (r.order_status === 'submitted') submitted++;
    else if (r.order_status === 'failed' || r.order_status === 'rejected') {
      failed++;
      problems.push(`${r.symbol} ${r.leg === 'rebalance' ? '' : `${r.leg} leg `}${r.order_status}: ${r.error ?? ''}`.trim());
    } else if (r.order_status === 'deferred') deferred++;
  }
  let status: FinishFields['status'];
  if (dryRun) status = symbolsFailed > 0 ? 'partial' : 'completed';
  else if (failed > 0 && submitted === 0 && deferred === 0) status = 'failed';
  else if (failed > 0 || deferred > 0 || symbolsFailed > 0) status = 'partial';
  else status = 'completed';
  const parts: string[] = [];
  if (failed > 0) parts.push(`${failed} of ${planned} orders failed`);
  if (deferred > 0) parts.push(`${deferred} open legs wait for their close leg to fill`);
  if (symbolsFailed > 0) parts.push(`${symbolsFailed} symbols failed`);
  const error = parts.length ? `${parts.join('; ')}: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; … ${problems.length - 5} more` : ''}` : null;
  return { status, orders_planned: planned, orders_submitted: submitted, orders_failed: failed, symbols_failed: symbolsFailed, error };
}

async function withRetry<T>(ctx: OrchestratorContext, fn: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      const retryable = !(e instanceof GatewayError) || e.retryable;
      if (!retryable || i >= ctx.tuning.submitAttempts) throw e;
      await sleep(ctx.tuning.retryBaseMs * 2 ** (i - 1));
    }
  }
}

/** Runs fn over items with at most `limit` in flight; rejects with the first error after all started ones settle. */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let firstError: unknown = null;
  const worker = async () => {
    while (next < items.length && firstError === null) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        firstError ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  if (firstError !== null) throw firstError;
}

function round1(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 10) / 10;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Says the fix: the as_of_date whose next session is today's, or trading the stored day itself
 * with as-of mode (`kestrel up --as-of`, src/cli/as-of.ts), or a dry run.
 */
export function staleTradeDateMessage(req: Pick<RunRequest, 'trade_date' | 'as_of_date'>, today: string): string {
  const asOf = dayString(previousTradingDay(dayNumber(today)));
  const next = dayString(nextTradingDay(dayNumber(asOf)));
  return (
    `trade_date ${req.trade_date} (the session after as_of_date ${req.as_of_date}) has passed: today is ${today}, America/New_York, and orders can only be placed for today's session. ` +
    `Use as_of_date ${asOf} (trade_date ${next}), run the stack on stored data as of that day (kestrel up --as-of ${req.trade_date}), or set dry_run to see the plan`
  );
}
