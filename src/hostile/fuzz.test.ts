import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '../core/money.js';
import { isSymbol, asciiUpper } from '../model/symbol.js';
import { testOrchestrator, type TestOrchestrator } from '../orchestrator/test-helpers.js';
import { operationsOf, requestArb, type FuzzRequest } from './fuzz-kit.js';
import { HOSTILE_TOKEN, hostileGateway, type Counts, type HostileGateway } from './test-helpers.js';

/**
 * Issue #14's proof: a bounded fuzz run against the services' own OpenAPI schemas (fast-check,
 * a fixed seed, a few seconds). For every request: no 5xx; a refused request writes nothing
 * (audited refusals — a pre-trade check's code, the kill switch — may append their audit row,
 * never an order) and sends nothing to the broker; an accepted order reaches the broker as the
 * caller wrote it (the ticker upper-cased in ASCII at most, the same quantity and price).
 * The figures are printed (requests, 5xx, time) and kept in docs/concepts/input.md.
 */
const SEED = 14;
const RUNS = Number(process.env.KESTREL_FUZZ_RUNS ?? 300);

/** Refusals that are input errors: nothing at all may be written for them. */
const INPUT_CODES = new Set(['validation_failed', 'invalid_order', 'invalid_symbol', 'invalid_value', 'invalid_parameter', 'stale_trade_date', 'bad_request', 'empty_body', 'body_too_large', 'unsupported_media_type', 'unauthorized', 'not_found', 'order_not_found', 'client_order_id_conflict']);

/** Valid order values beyond the schema's one example: several priced tickers, small quantities, prices in the band. */
const ORDER_HINTS = {
  symbol: fc.constantFrom('AAPL', 'msft', 'IBM', 'brk.b', 'SPY', 'TSLA'),
  qty: fc.integer({ min: 1, max: 50 }).map(String),
  limit_price: fc.constantFrom('100', '99.5', '101.25', '0.5'),
  strategy_id: fc.constantFrom('fuzz', 'momentum-v2', 'fuzz.b'),
};

interface Figures {
  sent: number;
  byStatus: Map<number, number>;
  fiveXX: Array<{ req: FuzzRequest; status: number; body: string }>;
  ms: number;
}

const figures = (): Figures => ({ sent: 0, byStatus: new Map(), fiveXX: [], ms: 0 });
const report = (name: string, f: Figures) =>
  // The run's figures, for the report and docs/concepts/input.md.
  console.log(`fuzz ${name}: ${f.sent} requests in ${(f.ms / 1000).toFixed(1)} s, 5xx: ${f.fiveXX.length}, by status: ${[...f.byStatus].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ')}`);

describe('fuzz: gateway + risk API from its OpenAPI document', () => {
  let g: HostileGateway;
  const f = figures();
  beforeAll(async () => {
    g = await hostileGateway({ tradeUpdates: false });
  });
  afterAll(async () => {
    report('gateway', f);
    await g?.close();
  });

  it(`${RUNS} requests: no 5xx, nothing written or sent for a refusal, nothing sent that was not asked for`, async () => {
    const ops = await operationsOf(g.app);
    expect(ops.map((o) => o.id)).toEqual(expect.arrayContaining(['POST /api/v1/orders', 'GET /api/v1/orders', 'GET /api/v1/risk/events', 'POST /api/v1/kill-switch/engage']));
    // Most of the budget on the routes that write; every operation is visited.
    const weight = (op: { id: string }) => (op.id === 'POST /api/v1/orders' ? 12 : op.id.startsWith('GET /api/v1/orders') || op.id.includes('risk') ? 3 : 1);
    const t0 = performance.now();
    // Nothing writes behind the requests' backs (no trade-update stream), so the counts after
    // one request are the counts before the next.
    let last = await g.counts();
    await fc.assert(
      fc.asyncProperty(requestArb(ops, { token: HOSTILE_TOKEN, weight, hints: ORDER_HINTS }), async (req) => {
        const before = last;
        const res = await g.app.inject({ method: req.method, url: req.url, payload: req.payload, headers: req.headers });
        f.sent++;
        f.byStatus.set(res.statusCode, (f.byStatus.get(res.statusCode) ?? 0) + 1);
        if (res.statusCode >= 500) f.fiveXX.push({ req, status: res.statusCode, body: res.body.slice(0, 300) });
        expect(res.statusCode, `${req.method} ${req.url} ${req.payload ?? ''} → ${res.body.slice(0, 300)}`).toBeLessThan(500);
        const after = await g.counts();
        last = after;
        if (res.statusCode >= 400) await refusedLeftNoTrace(req, res.json().error as string, before, after);
        if (req.op === 'POST /api/v1/orders' && (res.statusCode === 200 || res.statusCode === 201)) sentAsAsked(req, res.json());
        if (await restore(req, res.statusCode)) last = await g.counts();
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    f.ms = performance.now() - t0;
    // Audit rows stay small whatever the input (was: 30 MB rows in order_events and risk_events).
    for (const table of ['orders', 'order_events', 'risk_events', 'kill_switch_events']) {
      const r = await g.db.query<{ n: number | null }>(`SELECT max(octet_length(t::text))::int AS n FROM ${table} t`);
      expect(r.rows[0]!.n ?? 0, table).toBeLessThan(8_192);
    }
    expect(f.fiveXX).toEqual([]);
    // The run exercised both sides: refusals and accepted orders.
    expect(f.byStatus.get(201) ?? 0).toBeGreaterThan(0);
    expect((f.byStatus.get(400) ?? 0) + (f.byStatus.get(422) ?? 0)).toBeGreaterThan(RUNS / 4);
  });

  async function refusedLeftNoTrace(req: FuzzRequest, code: string, before: Counts, after: Counts): Promise<void> {
    const what = `${req.method} ${req.url} ${req.payload ?? ''} → ${code}`;
    expect(after.orders, what).toBe(before.orders);
    expect(after.broker_orders, what).toBe(before.broker_orders);
    if (INPUT_CODES.has(code)) expect(after, what).toEqual(before);
  }

  function sentAsAsked(req: FuzzRequest, order: { client_order_id: string; symbol: string; qty: string; side: string; limit_price: string | null }): void {
    const body = req.body as Record<string, unknown>;
    const bo = g.sim.sim.getOrderByClientId(order.client_order_id);
    if (!bo) return; // an existing order answered again (200) or one the kill switch cancelled locally
    const what = `${req.payload} → broker ${JSON.stringify({ symbol: bo.symbol, qty: bo.qty, side: bo.side, limit_price: bo.limit_price })}`;
    expect(typeof body.symbol === 'string' && isSymbol(bo.symbol) && asciiUpper(body.symbol) === bo.symbol, what).toBe(true);
    expect(typeof body.qty === 'string' && dec(bo.qty).eq(dec(body.qty)), what).toBe(true);
    expect(bo.side, what).toBe(body.side);
    if (bo.limit_price !== null) expect(typeof body.limit_price === 'string' && dec(bo.limit_price).eq(dec(body.limit_price)), what).toBe(true);
  }

  /** Keeps later requests meaningful: a fuzzed kill switch or breaker trip is undone. */
  async function restore(req: FuzzRequest, status: number): Promise<boolean> {
    if (status !== 200) return false;
    const auth = { authorization: `Bearer ${HOSTILE_TOKEN}`, 'content-type': 'application/json' };
    if (req.op === 'POST /api/v1/kill-switch/engage') await g.app.inject({ method: 'POST', url: '/api/v1/kill-switch/disengage', headers: auth, payload: { reason: 'fuzz restore' } });
    else if (req.op === 'POST /api/v1/risk/breaker/trip') await g.app.inject({ method: 'POST', url: '/api/v1/risk/breaker/reset', headers: auth, payload: { reason: 'fuzz restore' } });
    else return false;
    return true;
  }
});

describe('fuzz: orchestrator API from its OpenAPI document', () => {
  let o: TestOrchestrator;
  const f = figures();
  beforeAll(async () => {
    o = await testOrchestrator('2025-01-17', { apiToken: HOSTILE_TOKEN });
  });
  afterAll(async () => {
    report('orchestrator', f);
    await o?.close();
  });

  it(`${Math.round(RUNS / 3)} requests: no 500, a refused request writes no run and sends no order`, async () => {
    const ops = await operationsOf(o.app);
    const runs = async () => (await o.db.query<{ n: number }>('SELECT count(*)::int AS n FROM orchestration_runs')).rows[0]!.n;
    const t0 = performance.now();
    await fc.assert(
      fc.asyncProperty(requestArb(ops, { token: HOSTILE_TOKEN, weight: (op) => (op.id.startsWith('POST') ? 4 : 1) }), async (req) => {
        const [runsBefore, callsBefore] = [await runs(), o.gateway.calls.length];
        const res = await o.app.inject({ method: req.method, url: req.url, payload: req.payload, headers: req.headers });
        f.sent++;
        f.byStatus.set(res.statusCode, (f.byStatus.get(res.statusCode) ?? 0) + 1);
        if (res.statusCode >= 500) f.fiveXX.push({ req, status: res.statusCode, body: res.body.slice(0, 300) });
        // 502/503 are honest answers about a dependency (the fake signal service has no signals); 500 is ours.
        expect(res.statusCode, `${req.method} ${req.url} ${req.payload ?? ''} → ${res.body.slice(0, 300)}`).not.toBe(500);
        if (res.statusCode >= 400 && res.statusCode < 500) {
          expect(await runs(), req.payload).toBe(runsBefore);
          expect(o.gateway.calls.length, req.payload).toBe(callsBefore);
        }
      }),
      { seed: SEED, numRuns: Math.round(RUNS / 3), endOnFailure: true },
    );
    f.ms = performance.now() - t0;
    expect(f.fiveXX.filter((x) => x.status === 500)).toEqual([]);
  });
});
