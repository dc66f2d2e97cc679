import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import type { Db } from '../db/db.js';
import { buildGatewayApp, type GatewayApp } from '../execution/app.js';
import { bearerGuard } from '../observability/auth.js';
import type { OrderRow } from '../execution/model.js';
import { freshPglite, simBroker, startSim, waitFor } from '../execution/test-helpers.js';
import type { RunningBrokerSim } from '../broker-sim/index.js';
import { createMetrics } from '../observability/metrics.js';
import { parseRiskConfig } from './config.js';
import type { DeriskReport } from './derisk.js';
import { riskRoutes } from './routes.js';
import { MapPriceSource, brokerEquitySource } from './provider.js';
import { MemoryStateStore } from './state-store.js';
import { createRisk, gatewayDeriskOps, type RiskWiring } from './wire.js';

/**
 * Risk wired into the real gateway (embedded PGlite, the simulated broker over HTTP + WebSocket)
 * the way `kestrel serve gateway` will: the engine as the pre-trade hook, the risk routes on the
 * same app, de-risking through the gateway's own submit/cancel paths.
 */
const TOKEN = 'risk-test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
let sim: RunningBrokerSim;
let db: Db;
let app: GatewayApp;
let risk: RiskWiring;
const reports: DeriskReport[] = [];
const prices = new MapPriceSource();

beforeAll(async () => {
  sim = await startSim({ prices: { AAPL: '100', MSFT: '200' } });
  const broker = simBroker(sim);
  db = await freshPglite();
  const config = parseRiskConfig({
    limits: { max_order_notional: '50000', price_band_pct: 5, restricted_symbols: ['GME'] },
    correlation: { enabled: false },
    breaker: { quiet_period_s: 600, derisk: { policy: 'reduce_pct', reduce_pct: 50 } },
  });
  const metrics = createMetrics('gateway', { defaultMetrics: false });
  risk = createRisk({ db, clock: systemClock, logger: silentLogger(), config, store: new MemoryStateStore(), prices, equity: brokerEquitySource(broker, { clock: systemClock, ttlMs: 0 }), metrics });
  app = await buildGatewayApp({ db, broker, clock: systemClock, logger: silentLogger(), apiToken: TOKEN, metrics, preTradeCheck: risk.engine.preTradeCheck, background: { reconcileOnStart: false } });
  await app.register(riskRoutes, { service: risk.service, auth: bearerGuard(TOKEN) });
  risk.service.attachDerisk(gatewayDeriskOps(app.gateway.ctx), { metrics: risk.metrics, onReport: (r) => reports.push(r) });
  await app.ready();
});

afterAll(async () => {
  await risk?.service.deriskIdle();
  await app?.close();
  await risk?.close();
  await sim?.close();
  await db?.close();
});

const mark = () => {
  prices.set('AAPL', '100', Date.now());
  prices.set('MSFT', '200', Date.now());
};
const post = (o: Record<string, unknown>) => app.inject({ method: 'POST', url: '/api/v1/orders', headers: auth, payload: { strategy_id: 'risk-e2e', order_type: 'market', ...o } });
const simOrders = () => sim.sim.listOrders({ status: 'all', limit: 500 });
const riskRows = async () => (await db.query<{ kind: string; code: string; symbol: string | null; client_order_id: string | null }>('SELECT kind, code, symbol, client_order_id FROM risk_events ORDER BY id')).rows;

describe('risk in the gateway', () => {
  it('a refused order answers 422 with the code, is recorded in risk_events and never reaches the broker', async () => {
    mark();
    const r = await post({ symbol: 'AAPL', side: 'buy', qty: '501' }); // 50 100 > 50 000
    expect(r.statusCode).toBe(422);
    expect(r.json()).toMatchObject({ error: 'max_order_notional', message: 'order notional 50100.00 (501 × 100) exceeds the limit 50000.00' });
    const band = await post({ symbol: 'AAPL', side: 'buy', qty: '1', order_type: 'limit', limit_price: '106' });
    expect(band.json()).toMatchObject({ error: 'price_band' });
    expect((await post({ symbol: 'GME', side: 'buy', qty: '1' })).json()).toMatchObject({ error: 'restricted_symbol' });
    expect((await post({ symbol: 'TSLA', side: 'buy', qty: '1' })).json()).toMatchObject({ error: 'no_price' }); // fail closed

    expect(simOrders()).toHaveLength(0);
    expect((await db.query('SELECT 1 FROM orders')).rows).toHaveLength(0);
    const rows = await riskRows();
    expect(rows.map((x) => x.code)).toEqual(['max_order_notional', 'price_band', 'restricted_symbol', 'no_price']);
    expect(rows[0]).toMatchObject({ kind: 'pretrade_rejected', symbol: 'AAPL', client_order_id: expect.stringMatching(/^ks-riske2e-/) });
    const ev = await db.query<{ kind: string }>("SELECT kind FROM order_events WHERE kind = 'pretrade_rejected'");
    expect(ev.rows).toHaveLength(4);
  });

  it('exactly at the limit passes and reaches the broker', async () => {
    mark();
    const r = await post({ symbol: 'AAPL', side: 'buy', qty: '500' }); // 50 000
    expect(r.statusCode).toBe(201);
    const o = r.json() as OrderRow;
    expect(simOrders().map((x) => x.client_order_id)).toContain(o.client_order_id);
    await waitFor('AAPL position', async () => (await db.query<{ qty: string }>("SELECT qty FROM positions WHERE symbol = 'AAPL'")).rows[0]?.qty === '500');
  });

  it('breaker API: bearer-protected and strict; trip refuses risk-increasing orders, de-risks, passes reducing ones', async () => {
    mark();
    expect((await app.inject({ method: 'POST', url: '/api/v1/risk/breaker/trip', payload: { reason: 'x' } })).statusCode).toBe(401);
    const bad = await app.inject({ method: 'POST', url: '/api/v1/risk/breaker/trip', headers: auth, payload: { reason: 'x', force: true } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'validation_failed', details: [{ field: 'force', reason: 'unknown field' }] });
    expect((await app.inject({ method: 'POST', url: '/api/v1/risk/breaker/trip', headers: auth, payload: {} })).statusCode).toBe(400);

    const trip = await app.inject({ method: 'POST', url: '/api/v1/risk/breaker/trip', headers: auth, payload: { reason: 'e2e halt', actor: 'alice' } });
    expect(trip.statusCode).toBe(200);
    expect(trip.json()).toMatchObject({ changed: true, breaker: { state: 'TRIPPED', version: 1, trigger: 'manual', actor: 'alice', reason: 'e2e halt' } });
    const again = await app.inject({ method: 'POST', url: '/api/v1/risk/breaker/trip', headers: auth, payload: { reason: 'twice' } });
    expect(again.json()).toMatchObject({ changed: false, breaker: { version: 1 } });

    // De-risking (reduce_pct 50) went through the gateway: a sell of 250 AAPL, strategy risk-derisk-v1.
    await risk.service.deriskIdle();
    expect(reports).toHaveLength(1);
    expect(reports[0]!.orders).toMatchObject([{ symbol: 'AAPL', side: 'sell', qty: '250', strategy_id: 'risk-derisk-v1', ok: true }]);
    await waitFor('de-risked to 250', async () => (await db.query<{ qty: string }>("SELECT qty FROM positions WHERE symbol = 'AAPL'")).rows[0]?.qty === '250');

    const status = await app.inject({ url: '/api/v1/risk/status' });
    expect(status.json()).toMatchObject({ breaker: { state: 'TRIPPED', gate: 'TRIPPED' }, kill_switch: { engaged: false }, limits: { limits: { max_order_notional: '50000' } } });
    expect(status.json().daily_loss).toMatchObject({ basis: 'start_of_day', threshold_pct: 5, breached: false });

    const inc = await post({ symbol: 'MSFT', side: 'buy', qty: '1' });
    expect(inc.statusCode).toBe(422);
    expect(inc.json().error).toBe('breaker_tripped');
    const flip = await post({ symbol: 'AAPL', side: 'sell', qty: '251' });
    expect(flip.json().error).toBe('breaker_tripped');
    const red = await post({ symbol: 'AAPL', side: 'sell', qty: '100' });
    expect(red.statusCode).toBe(201);
    expect(simOrders().map((x) => x.client_order_id)).toContain((red.json() as OrderRow).client_order_id);
  });

  it('reset → QUIET_PERIOD (a second reset is 409); events are paged newest first', async () => {
    const reset = await app.inject({ method: 'POST', url: '/api/v1/risk/breaker/reset', headers: auth, payload: { reason: 'checked', actor: 'bob' } });
    expect(reset.statusCode).toBe(200);
    expect(reset.json()).toMatchObject({ changed: true, breaker: { state: 'QUIET_PERIOD', version: 2, actor: 'bob', reset_equity: expect.any(String) } });
    const twice = await app.inject({ method: 'POST', url: '/api/v1/risk/breaker/reset', headers: auth, payload: { reason: 'again' } });
    expect(twice.statusCode).toBe(409);
    expect(twice.json()).toMatchObject({ error: 'not_tripped' });
    mark();
    expect((await post({ symbol: 'MSFT', side: 'buy', qty: '1' })).statusCode).toBe(201); // tight quiet period: orders pass

    const page1 = await app.inject({ url: '/api/v1/risk/events?kind=breaker&limit=1' });
    expect(page1.json()).toMatchObject({ events: [{ kind: 'breaker', to_state: 'QUIET_PERIOD', actor: 'bob', reason: 'checked' }], next_before: expect.any(Number) });
    const page2 = await app.inject({ url: `/api/v1/risk/events?kind=breaker&limit=1&before=${page1.json().next_before}` });
    expect(page2.json().events).toMatchObject([{ to_state: 'TRIPPED', actor: 'alice', reason: 'e2e halt' }]);
    expect((await app.inject({ url: '/api/v1/risk/events?kind=derisk' })).json().events).toMatchObject([{ code: 'reduce_pct', symbol: 'AAPL' }]);
    expect((await app.inject({ url: '/api/v1/risk/events?bogus=1' })).statusCode).toBe(400);

    const metrics = await app.inject({ url: '/metrics' });
    expect(metrics.body).toMatch(/kestrel_risk_rejections_total\{code="max_order_notional",service="gateway"\} 1/);
    expect(metrics.body).toMatch(/kestrel_risk_breaker_state\{breaker="default",service="gateway"\} 2/);
  });

  it('the OpenAPI document lists the risk routes with their schemas', async () => {
    const doc = (await app.inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, { security?: unknown }>> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/risk/status', '/api/v1/risk/breaker/trip', '/api/v1/risk/breaker/reset', '/api/v1/risk/events']));
    expect(doc.paths['/api/v1/risk/breaker/trip']!.post!.security).toEqual([{ bearer: [] }]);
  });
});
