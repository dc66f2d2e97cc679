import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../db/db.js';
import { dec } from '../core/money.js';
import type { RiskEngine } from '../risk/engine.js';
import { runDue } from './run.js';
import { planOrders } from './sizing.js';
import { findRunByKey, insertRun, loadPlan, renewLease, storePlan, takeOver, type OrderState } from './store.js';
import { parseRunRequest } from './request.js';
import { freshDb, resetDb, testOrchestrator, type TestOrchestrator } from './test-helpers.js';
import type { RunOrderView, RunView, SizingLimits } from './types.js';

/**
 * The orchestrator API on PGlite with an in-memory gateway (idempotent by client_order_id,
 * stale trade dates refused, immediate fills), fixed signals and prices. Today is
 * 2025-01-17 (New York); signals are for 2025-01-16.
 */
type RunBody = RunView & { orders: RunOrderView[] };
const AS_OF = '2025-01-16';
const TODAY = '2025-01-17';
const TOKEN = 'orchestrator-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

let t: TestOrchestrator;
let db: Db;

beforeAll(async () => {
  db = await freshDb();
});
afterAll(async () => {
  await db?.close();
});

async function setup(over: Parameters<typeof testOrchestrator>[1] = {}) {
  await resetDb(db);
  t = await testOrchestrator(TODAY, { apiToken: TOKEN, db, ...over });
  // top 1 / bottom 1: AAPL +1, XOM −1, MSFT and TSLA 0.
  t.signals.setScores(AS_OF, { AAPL: 0.9, MSFT: 0.5, TSLA: -0.3, XOM: -0.7 });
  t.prices.set(AS_OF, { AAPL: '187.25', MSFT: '401.5', TSLA: '250', XOM: '105.3' });
}

const body = (over: Record<string, unknown> = {}) => ({ strategy_id: 'momentum-v2', as_of_date: AS_OF, capital: '100000', max_position_pct: 0.2, top_n: 1, bottom_n: 1, ...over });
const post = async (payload: Record<string, unknown>, headers: Record<string, string> = auth) => {
  const r = await t.app.inject({ method: 'POST', url: '/api/v1/orchestration/run', payload, headers });
  return { status: r.statusCode, body: r.json() as RunBody & { error?: string; message?: string; details?: Array<{ field: string; reason: string }> }, headers: r.headers };
};
const bySymbol = (orders: RunOrderView[]) => Object.fromEntries(orders.map((o) => [`${o.symbol}${o.leg === 'rebalance' ? '' : `:${o.leg}`}`, o]));

afterEach(async () => {
  await t?.close();
});

describe('POST /api/v1/orchestration/run', () => {
  beforeEach(() => setup());

  it('sizes, diffs and submits: 201 with the run, its plan and its timings; GET returns the same', async () => {
    const r = await post(body());
    expect(r.status).toBe(201);
    expect(r.headers.location).toBe(`/api/v1/orchestration/runs/${r.body.id}`);
    expect(r.body).toMatchObject({
      strategy_id: 'momentum-v2',
      as_of_date: AS_OF,
      trade_date: TODAY,
      status: 'completed',
      trigger: 'api',
      dry_run: false,
      capital: '100000',
      max_position_pct: '0.2',
      model_version: 'static:v1',
      signals_count: 4,
      orders_planned: 2,
      orders_submitted: 2,
      orders_failed: 0,
      symbols_failed: 0,
      attempt: 1,
      error: null,
    });
    expect(r.body.finished_at).toMatch(/Z$/);
    for (const k of ['signals_ms', 'positions_ms', 'plan_ms', 'submit_ms', 'total_ms'] as const) expect(r.body.timings[k]).toBeGreaterThanOrEqual(0);
    // AAPL: 100000 × 1 / 187.25 = 534 → cap 0.2 × 100000 / 187.25 = 106.8 → 106. XOM: −949 → cap 189.9 → −189.
    const o = bySymbol(r.body.orders);
    expect(o.AAPL).toMatchObject({ side: 'buy', qty: '106', target_qty: '106', capped: true, target_weight: '1', price: '187.25', order_status: 'submitted', created: true, gateway_status: 'filled' });
    expect(o.XOM).toMatchObject({ side: 'sell', qty: '189', target_qty: '-189', capped: true, order_status: 'submitted' });
    expect(t.gateway.calls).toHaveLength(2);
    for (const c of t.gateway.calls) expect(c).toMatchObject({ strategy_id: 'momentum-v2', order_type: 'market', time_in_force: 'day', trade_date: TODAY });
    expect(t.signals.requests).toEqual([{ as_of_date: AS_OF, top_n: 1, bottom_n: 1 }]);

    const g = await t.app.inject({ url: `/api/v1/orchestration/runs/${r.body.id}` });
    expect(g.statusCode).toBe(200);
    expect(g.json()).toEqual(r.body);
  });

  it('the same (strategy_id, as_of_date) again: 200 with the existing run, nothing submitted, signals not asked again', async () => {
    const first = await post(body());
    const second = await post(body({ capital: 100000, trade_date: TODAY }));
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(second.body.status).toBe('completed');
    expect(t.gateway.calls).toHaveLength(2);
    expect(t.signals.requests).toHaveLength(1);
  });

  it('the same key with other parameters: 409 run_conflict, nothing done', async () => {
    await post(body());
    const r = await post(body({ capital: '200000' }));
    expect(r.status).toBe(409);
    expect(r.body.error).toBe('run_conflict');
    expect(t.gateway.calls).toHaveLength(2);
  });

  it('two concurrent identical requests: one 201, one 200 (after waiting for it), one set of orders', async () => {
    t.gateway.delayMs = 30;
    const [a, b] = await Promise.all([post(body()), post(body())]);
    expect([a.status, b.status].sort()).toEqual([200, 201]);
    expect(a.body.id).toBe(b.body.id);
    expect(a.body.status).toBe('completed');
    expect(b.body.status).toBe('completed');
    expect(t.gateway.created()).toHaveLength(2);
    expect(t.gateway.calls).toHaveLength(2);
  });

  it('bad input: 400 for the shape, 422 with field reasons for the values; 401 without the token; nothing written', async () => {
    const unknown = await post({ ...body(), leverage: 3 });
    expect(unknown.status).toBe(400);
    expect(unknown.body.details).toEqual([{ field: 'leverage', reason: 'unknown field' }]);
    const missing = await post({ strategy_id: 'x', as_of_date: AS_OF });
    expect(missing.status).toBe(400);
    const bad = await post(body({ max_position_pct: 2, as_of_date: '2025-01-18' }));
    expect(bad.status).toBe(422);
    expect(bad.body.error).toBe('invalid_run_request');
    expect(bad.body.details!.map((d) => d.field).sort()).toEqual(['as_of_date', 'max_position_pct']);
    expect((await post(body(), {})).status).toBe(401);
    const runs = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM orchestration_runs');
    expect(runs.rows[0]!.n).toBe(0);
  });

  it('a trade_date that has passed: 422 stale_trade_date, no run recorded; dry_run still plans it', async () => {
    t.signals.setScores('2025-01-14', { AAPL: 1, XOM: -1 });
    t.prices.set('2025-01-14', { AAPL: '180', XOM: '100' });
    const r = await post(body({ as_of_date: '2025-01-14' }));
    expect(r.status).toBe(422);
    expect(r.body.error).toBe('stale_trade_date');
    // The message says the fix: the as_of_date for today's session, or as-of mode on stored data.
    expect(r.body.message).toContain('Use as_of_date 2025-01-16 (trade_date 2025-01-17)');
    expect(r.body.message).toContain('kestrel up --as-of 2025-01-15');
    expect(await findRunByKey(t.db, 'momentum-v2', '2025-01-14')).toBeNull();
    const dry = await post(body({ as_of_date: '2025-01-14', dry_run: true }));
    expect(dry.status).toBe(201);
    expect(dry.body.status).toBe('completed');
  });

  it('a trade_date in the future without a scheduler: 422 future_trade_date', async () => {
    const r = await post(body({ trade_date: '2025-01-21' }));
    expect(r.status).toBe(422);
    expect(r.body.error).toBe('future_trade_date');
  });

  it('dry_run: plans and records, submits nothing, never claims the key', async () => {
    const a = await post(body({ dry_run: true }));
    const b = await post(body({ dry_run: true, capital: '50000' }));
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.body.id).not.toBe(a.body.id);
    expect(a.body).toMatchObject({ status: 'completed', dry_run: true, orders_planned: 2, orders_submitted: 0 });
    expect(a.body.orders.map((o) => o.order_status)).toEqual(['dry_run', 'dry_run']);
    expect(a.body.orders[0]!.client_order_id).toMatch(/^ks-/);
    expect(t.gateway.calls).toHaveLength(0);
    const real = await post(body());
    expect(real.status).toBe(201);
    expect(t.gateway.calls).toHaveLength(2);
  });

  it('closes held symbols without weight and leaves a symbol without a price alone (partial)', async () => {
    t.gateway.setPositions({ MSFT: '12', IBM: '-3', AAPL: '40' });
    t.prices.set(AS_OF, { MSFT: '401.5', TSLA: '250', XOM: '105.3' }); // no AAPL price
    const r = await post(body());
    expect(r.body).toMatchObject({ status: 'partial', orders_planned: 3, orders_submitted: 3, symbols_failed: 1 });
    expect(r.body.error).toMatch(/1 symbols failed: AAPL: no price on the signal date/);
    const o = bySymbol(r.body.orders);
    expect(o.AAPL).toMatchObject({ order_status: 'symbol_failed', qty: null, current_qty: '40' });
    expect(o.MSFT).toMatchObject({ side: 'sell', qty: '12', target_qty: '0' });
    expect(o.IBM).toMatchObject({ side: 'buy', qty: '3', target_weight: null });
    expect(t.gateway.positionQty.get('AAPL')!.toString()).toBe('40');
    expect(t.gateway.positionQty.has('MSFT')).toBe(false);
  });

  it('gateway unreachable for one order: retried, then failed (retryable); the next request resumes just that order', async () => {
    t.gateway.fault('XOM', { kind: 'unavailable' }, { kind: 'unavailable' }, { kind: 'unavailable' });
    const r = await post(body());
    expect(r.body).toMatchObject({ status: 'partial', orders_submitted: 1, orders_failed: 1 });
    expect(bySymbol(r.body.orders).XOM).toMatchObject({ order_status: 'failed', retryable: true, attempts: 3 });
    expect(t.gateway.calls.filter((c) => c.symbol === 'XOM')).toHaveLength(3);

    const again = await post(body());
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: r.body.id, status: 'completed', attempt: 2, orders_submitted: 2, orders_failed: 0, error: null });
    expect(t.gateway.calls.filter((c) => c.symbol === 'AAPL')).toHaveLength(1);
    expect(t.gateway.created()).toHaveLength(2);
  });

  it('refusals are logged once per run with the counts by reason; each order only at debug', async () => {
    const lines: Array<{ level: string; msg: string; by_reason?: Record<string, number> }> = [];
    const sink = new Writable({
      write(chunk, _e, cb) {
        lines.push(JSON.parse(String(chunk)));
        cb();
      },
    });
    await t.close();
    await setup({ logger: pino({ level: 'debug', formatters: { level: (label) => ({ level: label }) } }, sink) });
    t.gateway.fault('XOM', { kind: 'refuse', status: 422, code: 'max_gross_exposure' });
    const r = await post(body());
    expect(r.body).toMatchObject({ status: 'partial', orders_failed: 1 });
    const warns = lines.filter((l) => l.level === 'warn');
    expect(warns).toEqual([expect.objectContaining({ msg: 'run finished partial: 1 of 2 orders refused or failed (max_gross_exposure 1)', by_reason: { max_gross_exposure: 1 } })]);
    expect(lines.filter((l) => l.msg === 'order refused').map((l) => l.level)).toEqual(['debug']);
  });

  it('a refusal (4xx) is not retried; every order refused → failed run', async () => {
    t.gateway.fault('*', { kind: 'refuse', status: 422, code: 'max_position_pct' }, { kind: 'refuse', status: 422, code: 'max_position_pct' });
    const r = await post(body());
    expect(r.body).toMatchObject({ status: 'failed', orders_planned: 2, orders_submitted: 0, orders_failed: 2 });
    expect(r.body.orders.every((o) => o.order_status === 'failed' && !o.retryable && o.attempts === 1)).toBe(true);
    expect(r.body.error).toMatch(/2 of 2 orders failed/);
  });

  it('a broker rejection is recorded as rejected (counted as failed, not resubmitted)', async () => {
    t.gateway.fault('XOM', { kind: 'reject', reason: 'insufficient qty available for order' });
    const r = await post(body());
    expect(r.body).toMatchObject({ status: 'partial', orders_failed: 1 });
    expect(bySymbol(r.body.orders).XOM).toMatchObject({ order_status: 'rejected', error: 'insufficient qty available for order', created: true });
    const again = await post(body());
    expect(again.body.attempt).toBe(1); // nothing resumable: rejected is final
  });

  it('signal service down: failed run, nothing planned; the next request plans and runs it', async () => {
    t.signals.failWith = new Error('connect ECONNREFUSED 127.0.0.1:7303');
    const r = await post(body());
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ status: 'failed', orders_planned: 0, error: 'signals: connect ECONNREFUSED 127.0.0.1:7303' });
    expect(r.body.orders).toEqual([]);
    t.signals.failWith = null;
    const again = await post(body());
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: r.body.id, status: 'completed', attempt: 2, orders_submitted: 2 });
  });

  it('a model that does not predict returns (abs_return): 422 naming the model, its label and the fix; run recorded failed, nothing ordered', async () => {
    t.signals.model = { name: 'alpha158-gbdt', version: 7, label: 'abs_return' };
    const r = await post(body());
    expect(r.status).toBe(422);
    expect(r.body.error).toBe('model_label_unusable');
    const msg = (r.body as unknown as { message: string }).message;
    expect(msg).toMatch(/model alpha158-gbdt v7 predicts abs_return \(the size of the coming return, i.e. volatility, not its direction\), not returns/);
    expect(msg).toMatch(/promote a model trained with --label return \(`kestrel models promote alpha158-gbdt <version>`/);
    expect(r.body.details).toEqual([{ field: 'model', reason: 'alpha158-gbdt v7 predicts abs_return' }]);
    expect(t.gateway.calls).toHaveLength(0);
    const run = (await findRunByKey(db, 'momentum-v2', AS_OF))!;
    expect(run).toMatchObject({ status: 'failed', orders_planned: 0 });
    expect(run.error).toMatch(/predicts abs_return/);
    // The same request again still refuses; once a return model serves, it resumes the run.
    expect((await post(body())).status).toBe(422);
    t.signals.model = { name: 'alpha158-gbdt', version: 8, label: 'return' };
    const again = await post(body());
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: run.id, status: 'completed', model_version: 'alpha158-gbdt:v8', orders_submitted: 2 });
  });

  it('dry runs refuse a non-return model too; a model without a label (an older signal service) is traded as returns', async () => {
    t.signals.model = { name: 'vol', version: 1, label: 'abs_return' };
    expect((await post(body({ dry_run: true }))).status).toBe(422);
    t.signals.model = { name: 'legacy', version: 2 };
    const r = await post(body());
    expect([r.status, r.body.status]).toEqual([201, 'completed']);
  });

  it('positions unreadable: failed, with the reason', async () => {
    t.gateway.positionsDown = true;
    const r = await post(body());
    expect(r.body).toMatchObject({ status: 'failed' });
    expect(r.body.error).toMatch(/^positions: .*503/);
  });

  it('a flip is two orders: the open leg goes once the close leg has filled', async () => {
    t.gateway.setPositions({ AAPL: '-50', XOM: '20' });
    const r = await post(body());
    expect(r.body.status).toBe('completed');
    const o = bySymbol(r.body.orders);
    expect(o['AAPL:close']).toMatchObject({ side: 'buy', qty: '50', order_status: 'submitted' });
    expect(o['AAPL:open']).toMatchObject({ side: 'buy', qty: '106', order_status: 'submitted' });
    expect(o['XOM:close']).toMatchObject({ side: 'sell', qty: '20' });
    expect(o['XOM:open']).toMatchObject({ side: 'sell', qty: '189' });
    expect(t.gateway.positionQty.get('AAPL')!.toString()).toBe('106');
    expect(t.gateway.positionQty.get('XOM')!.toString()).toBe('-189');
    // The open legs were sent after their close legs.
    const order = t.gateway.calls.map((c) => c.client_order_id);
    expect(order.indexOf(o['AAPL:open']!.client_order_id!)).toBeGreaterThan(order.indexOf(o['AAPL:close']!.client_order_id!));
  });

  it('a close leg that has not filled defers its open leg (partial); once filled, a later pass submits it', async () => {
    t.gateway.setPositions({ AAPL: '-50' });
    t.gateway.fill = 'manual';
    const r = await post(body());
    expect(r.body.status).toBe('partial');
    const o = bySymbol(r.body.orders);
    expect(o['AAPL:open']).toMatchObject({ order_status: 'deferred' });
    expect(r.body.error).toMatch(/1 open legs wait/);
    t.gateway.fillOrder(o['AAPL:close']!.client_order_id!);
    t.clock.advance(1_000);
    const ctx = t.app.orchestrator.ctx;
    const advanced = await runDue(ctx, { deferredRetryMs: 0 });
    expect(advanced.map((a) => [a.id, a.status])).toEqual([[r.body.id, 'completed']]);
    const plan = await loadPlan(t.db, r.body.id);
    expect(plan.find((p) => p.leg === 'open')).toMatchObject({ order_status: 'submitted', qty: '106' });
  });

  it('sizing limits cut orders (RiskEngine fits the hook)', async () => {
    await t.close();
    const limits: SizingLimits = {
      size: async (o) =>
        o.symbol === 'AAPL' ? { qty: dec(50), limitedBy: { code: 'max_order_notional', reason: 'order notional over 10000' } } : { qty: dec(0), limitedBy: { code: 'restricted_symbol', reason: 'XOM is restricted' } },
    };
    await setup({ sizingLimits: limits });
    const r = await post(body());
    const o = bySymbol(r.body.orders);
    expect(o.AAPL).toMatchObject({ qty: '50', target_qty: '106', order_status: 'submitted', limited_by: 'max_order_notional: order notional over 10000' });
    expect(o.XOM).toMatchObject({ order_status: 'limited', client_order_id: null, limited_by: 'restricted_symbol: XOM is restricted' });
    expect(r.body).toMatchObject({ status: 'completed', orders_planned: 1, orders_submitted: 1 });
    expect(t.gateway.calls.map((c) => [c.symbol, c.qty])).toEqual([['AAPL', '50']]);
    // Compile-time check: the risk engine is a SizingLimits.
    const fits = (e: RiskEngine): SizingLimits => e;
    expect(typeof fits).toBe('function');
  });
});

describe('crash recovery and scheduling', () => {
  beforeEach(() => setup());

  /** A runner that planned, submitted AAPL, and died before recording it. */
  async function crashedRun() {
    const req = parseRunRequest(body());
    const now = t.clock.now();
    const run = (await insertRun(t.db, req, { trigger: 'api', status: 'running', now, leaseUntil: new Date(now.getTime() + 1_000) }))!;
    const planned = planOrders({ strategy_id: run.strategy_id, trade_date: run.trade_date, capital: req.capital, max_position_pct: req.max_position_pct, signals: (await t.signals.generate({ as_of_date: AS_OF, top_n: 1, bottom_n: 1 })).signals, positions: new Map(), prices: await t.prices.prices(AS_OF, ['AAPL', 'XOM']) });
    const rows: OrderState[] = planned.map((p) => ({ ...p, gateway_order_id: null, gateway_status: null, created: null, retryable: false, limited_by: null, attempts: 0, submitted_at: null, updated_at: now.toISOString() }));
    expect(await storePlan(t.db, run, rows, { model_version: 'static:v1', signals_count: 4, signals_ms: 1, positions_ms: 1, plan_ms: 1 }, now)).toBe(true);
    const aapl = rows.find((r) => r.symbol === 'AAPL')!;
    await t.gateway.submitOrder({ strategy_id: run.strategy_id, symbol: 'AAPL', side: 'buy', qty: aapl.qty!, order_type: 'market', time_in_force: 'day', client_order_id: aapl.client_order_id!, trade_date: run.trade_date });
    t.signals.requests.length = 0;
    t.gateway.calls.length = 0;
    return run;
  }

  it('a run whose lease expired is resumed from its stored plan: nothing re-planned, nothing sent twice', async () => {
    const run = await crashedRun();
    t.gateway.setPositions({ AAPL: '106', TSLA: '999' }); // positions moved: must not matter
    t.clock.advance(2_000); // lease expired
    const r = await post(body());
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: run.id, status: 'completed', attempt: 2, orders_submitted: 2 });
    expect(t.signals.requests).toHaveLength(0);
    expect(r.body.orders.map((o) => [o.symbol, o.qty, o.created])).toEqual([
      ['AAPL', '106', false], // found, not created: the gateway's idempotency
      ['XOM', '189', true],
    ]);
    expect(t.gateway.created()).toHaveLength(2);
  });

  it('the scheduler resumes crashed runs without a request', async () => {
    const run = await crashedRun();
    expect(await runDue(t.app.orchestrator.ctx)).toEqual([]); // lease still valid
    t.clock.advance(2_000);
    const done = await runDue(t.app.orchestrator.ctx);
    expect(done.map((d) => [d.id, d.status, d.attempt])).toEqual([[run.id, 'completed', 2]]);
    expect(t.gateway.created()).toHaveLength(2);
  });

  it('takeOver fences the old owner: its lease renewal and writes fail', async () => {
    const run = await crashedRun();
    t.clock.advance(2_000);
    const now = t.clock.now();
    const mine = await takeOver(t.db, run, now, new Date(now.getTime() + 30_000));
    expect(mine?.attempt).toBe(2);
    expect(await takeOver(t.db, run, now, now)).toBeNull(); // a second taker loses
    expect(await renewLease(t.db, run, now)).toBe(false);
    expect(await renewLease(t.db, mine!, now)).toBe(true);
  });

  it('a future trade_date is scheduled (202) and runs once its day has come', async () => {
    await t.close();
    await setup({ tuning: { scheduling: true, retryBaseMs: 1 } });
    const r = await post(body({ trade_date: '2025-01-21' }));
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ status: 'scheduled', trade_date: '2025-01-21', started_at: null, attempt: 0 });
    const ctx = t.app.orchestrator.ctx;
    expect(await runDue(ctx)).toEqual([]);
    expect((await post(body({ trade_date: '2025-01-21' }))).status).toBe(200);
    t.clock.set('2025-01-21T14:00:00Z');
    const ran = await runDue(ctx);
    expect(ran.map((x) => [x.id, x.status, x.attempt])).toEqual([[r.body.id, 'completed', 1]]);
    expect(t.gateway.created().map((o) => o.trade_date)).toEqual(['2025-01-21', '2025-01-21']);
    expect(await runDue(ctx)).toEqual([]);
  });

  it('a scheduled run whose trade date passed unexecuted fails without submitting', async () => {
    await t.close();
    await setup({ tuning: { scheduling: true } });
    const r = await post(body({ trade_date: '2025-01-21' }));
    t.clock.set('2025-01-22T14:00:00Z');
    const [ran] = await runDue(t.app.orchestrator.ctx);
    expect(ran).toMatchObject({ id: r.body.id, status: 'failed' });
    expect(ran!.error).toMatch(/passed before the run could be planned/);
    expect(t.gateway.calls).toHaveLength(0);
  });
});

describe('GET /api/v1/orchestration/runs, /health, /metrics', () => {
  beforeEach(() => setup());

  it('lists newest first with a cursor and filters', async () => {
    const ids: number[] = [];
    for (const s of ['a', 'b', 'a', 'c', 'a']) ids.push((await post(body({ strategy_id: `strat-${s}`, dry_run: true }))).body.id);
    const page1 = (await t.app.inject({ url: '/api/v1/orchestration/runs?limit=2' })).json() as { runs: RunView[]; next_cursor: string | null };
    expect(page1.runs.map((r) => r.id)).toEqual([ids[4], ids[3]]);
    const page2 = (await t.app.inject({ url: `/api/v1/orchestration/runs?limit=2&cursor=${page1.next_cursor}` })).json() as { runs: RunView[]; next_cursor: string | null };
    expect(page2.runs.map((r) => r.id)).toEqual([ids[2], ids[1]]);
    const page3 = (await t.app.inject({ url: `/api/v1/orchestration/runs?limit=2&cursor=${page2.next_cursor}` })).json() as { runs: RunView[]; next_cursor: string | null };
    expect(page3).toMatchObject({ runs: [{ id: ids[0] }], next_cursor: null });
    const a = (await t.app.inject({ url: '/api/v1/orchestration/runs?strategy_id=strat-a&status=completed' })).json() as { runs: RunView[] };
    expect(a.runs.map((r) => r.id)).toEqual([ids[4], ids[2], ids[0]]);
    expect((await t.app.inject({ url: '/api/v1/orchestration/runs?cursor=abc' })).statusCode).toBe(400);
    expect((await t.app.inject({ url: '/api/v1/orchestration/runs?status=done' })).statusCode).toBe(400);
    expect((await t.app.inject({ url: '/api/v1/orchestration/runs/999999' })).statusCode).toBe(404);
  });

  it('/health reports the database, gateway and signals; /metrics the run series', async () => {
    const h = await t.app.inject({ url: '/health' });
    expect(h.statusCode).toBe(200);
    expect(h.json()).toMatchObject({ status: 'ok', service: 'orchestrator', checks: { database: { status: 'up' }, gateway: { status: 'up' }, signals: { status: 'up' } } });
    t.gateway.ping = async () => {
      throw new Error('connect ECONNREFUSED');
    };
    const degraded = await t.app.inject({ url: '/health' });
    expect(degraded.statusCode).toBe(200);
    expect(degraded.json()).toMatchObject({ status: 'degraded', checks: { gateway: { status: 'down' } } });
    await post(body());
    const m = (await t.app.inject({ url: '/metrics' })).body;
    expect(m).toMatch(/kestrel_orchestrator_runs_total\{[^}]*status="completed"[^}]*\} 1/);
    expect(m).toMatch(/kestrel_orchestrator_orders_total\{[^}]*outcome="created"[^}]*\} 2/);
  });
});
