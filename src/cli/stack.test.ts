import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBrokerSim } from '../broker-sim/index.js';
import { openBus, type Bus } from '../bus/index.js';
import { asOfClock, systemClock } from '../core/clock.js';
import { loadConfig } from '../core/config.js';
import { silentLogger } from '../core/logger.js';
import type { Db } from '../db/db.js';
import type { GatewayApp } from '../execution/app.js';
import { freshPglite, simBroker, startSim } from '../execution/test-helpers.js';
import type { RiskWiring } from '../risk/index.js';
import { buildRiskedGateway, noPriceHint } from './stack.js';

/**
 * The gateway as `kestrel up` and `kestrel serve gateway` wire it (buildRiskedGateway): risk's
 * metrics on its registry, the start-of-day equity per broker account, the as-of close fallback.
 */
const config = loadConfig({ KESTREL_DATA_DIR: '/nonexistent-kestrel-data', RISK_CORRELATION_ENABLED: 'false' });
const open: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c();
});
// One database for the file (a migrated PGlite takes seconds on a busy machine): the books of
// `kestrel up` and `kestrel serve gateway` are one database too.
let db: Db;
beforeAll(async () => {
  db = await freshPglite();
}, 120_000);
afterAll(async () => db?.close());

async function gatewayOn(sim: RunningBrokerSim, db: Db, bus: Bus, over: Partial<Parameters<typeof buildRiskedGateway>[0]> = {}): Promise<{ app: GatewayApp; risk: RiskWiring }> {
  const { gateway, risk } = await buildRiskedGateway({ config, db, bus, broker: simBroker(sim), clock: systemClock, logger: silentLogger(), ...over });
  await gateway.ready();
  open.push(async () => {
    await gateway.close();
    await risk?.close();
  });
  return { app: gateway, risk: risk! };
}

const order = (symbol = 'AAPL', qty = '10') => ({ strategy_id: 'demo', symbol, side: 'buy', qty, order_type: 'market' });
const post = (app: GatewayApp, body: unknown) => app.inject({ method: 'POST', url: '/api/v1/orders', payload: body as Record<string, unknown> });

async function fixtures() {
  // One bus for both gateways: the breaker's state survives the switch, as it does in Redis.
  const bus = await openBus({ logger: silentLogger() });
  open.push(() => bus.close());
  await bus.mset([['price:AAPL', JSON.stringify({ price: '100', size: '1', ts: new Date().toISOString() })]]);
  return { db, bus };
}

describe('the risked gateway of the stack', () => {
  it('switching to another simulated account (restart, other starting cash) does not trip the breaker', { timeout: 60_000 }, async () => {
    const { bus } = await fixtures();
    // `kestrel up` with a 1,000,000 account records that account's start of day …
    const big = await startSim({ config: { startingCash: '1000000' } });
    open.push(() => big.close());
    const a = await gatewayOn(big, db, bus);
    expect((await post(a.app, order())).statusCode).toBe(201);
    await a.app.close();
    // … then `kestrel serve broker-sim` (a new account of 100,000) with the same books.
    const small = await startSim({ config: { startingCash: '100000' } });
    open.push(() => small.close());
    const b = await gatewayOn(small, db, bus);
    const r = await post(b.app, order('AAPL', '5'));
    expect(r.json()).toMatchObject({ status: 'filled' });
    expect(r.statusCode).toBe(201);
    expect((await b.risk.breaker.current()).state).toBe('OPEN');
    const days = await db.query<{ account: string; equity: string }>('SELECT account, equity::text AS equity FROM risk_day_start WHERE account = ANY($1) ORDER BY equity::numeric', [[small.sim.accountId, big.sim.accountId]]);
    expect(days.rows).toEqual([
      { account: small.sim.accountId, equity: '100000' },
      { account: big.sim.accountId, equity: '1000000' },
    ]);
  });

  it('a reset simulator is a new account: its own start of day', async () => {
    const sim = await startSim({ config: { startingCash: '1000000' } });
    open.push(() => sim.close());
    const before = sim.sim.accountId;
    sim.sim.reset();
    expect(sim.sim.accountId).not.toBe(before);
  });

  it('risk’s series are on the gateway’s /metrics (kestrel_risk_*)', { timeout: 60_000 }, async () => {
    const { bus } = await fixtures();
    const sim = await startSim();
    open.push(() => sim.close());
    const { app } = await gatewayOn(sim, db, bus);
    expect((await post(app, order('MSFT'))).json()).toMatchObject({ error: 'no_price' });
    expect((await post(app, order('AAPL', '7'))).statusCode).toBe(201);
    const text = (await app.inject('/metrics')).body;
    expect(text).toContain('kestrel_risk_rejections_total{code="no_price",service="gateway"} 1');
    expect(text).toContain('kestrel_risk_approvals_total{reducing="false",service="gateway"} 1');
    expect(text).toMatch(/kestrel_risk_check_seconds_count\{service="gateway"\} [1-9]/);
    expect(text).toContain('# TYPE kestrel_risk_breaker_state gauge');
    // The gateway's own series share the registry.
    expect(text).toContain('kestrel_orders_submitted_total');
  });

  it('no_price says the fix; as-of mode prices at the stored close and labels it last_close', { timeout: 60_000 }, async () => {
    const { bus } = await fixtures();
    const sim = await startSim({ prices: { AAPL: '100', MSFT: '200', XOM: '60' } });
    open.push(() => sim.close());
    const hint = noPriceHint({ inProcess: false, command: 'kestrel serve gateway' });
    const plain = await gatewayOn(sim, db, bus, { noPriceHint: hint });
    const refused = (await post(plain.app, order('MSFT'))).json() as { error: string; message: string };
    expect(refused).toMatchObject({ error: 'no_price' });
    expect(refused.message).toBe(
      'no usable last price for MSFT (none) — REDIS_URL is unset, so this gateway sees no market-data service\'s prices: run `kestrel serve marketdata` with a REDIS_URL shared with this gateway, or on stored data run `kestrel serve gateway --as-of last`',
    );
    await plain.app.close();

    // `kestrel serve gateway --as-of 2020-01-10`: that day's clock, its stored closes behind the live marks.
    const clock = asOfClock('2020-01-10');
    await bus.mset([['price:AAPL', JSON.stringify({ price: '100', size: '1', ts: clock.now().toISOString() })]]);
    const closeTs = Date.parse('2020-01-10T21:00:00Z');
    const asOf = await gatewayOn(sim, db, bus, { clock, noPriceHint: hint, priceFallback: new Map([['MSFT', { price: '200', ts: closeTs }]]) });
    const priced = await post(asOf.app, order('MSFT', '3'));
    expect(priced.json()).toMatchObject({ status: 'filled', trade_date: '2020-01-10' });
    expect(priced.statusCode).toBe(201);
    // A refusal priced at the close says so in the audit trail.
    const big = (await post(asOf.app, order('MSFT', '100000'))).json() as { error: string };
    expect(big.error).toBe('max_order_notional');
    const ev = await db.query<{ detail: { price_source?: string } }>("SELECT detail FROM risk_events WHERE code = 'max_order_notional' ORDER BY id DESC LIMIT 1");
    expect(ev.rows[0]!.detail.price_source).toBe('last_close');
    // A live mark wins over the close: AAPL is priced live, no label.
    await post(asOf.app, order('AAPL', '100000'));
    const live = await db.query<{ detail: { price_source?: string } }>("SELECT detail FROM risk_events WHERE code = 'max_order_notional' AND symbol = 'AAPL' ORDER BY id DESC LIMIT 1");
    expect(live.rows[0]!.detail.price_source).toBeUndefined();
  });
});
