import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import type { Db } from '../db/db.js';
import { buildGatewayApp, type GatewayApp } from '../execution/app.js';
import { freshPglite, simBroker, startSim, waitFor } from '../execution/test-helpers.js';
import type { RunningBrokerSim } from '../broker-sim/index.js';
import { parseRiskConfig } from './config.js';
import { MapPriceSource, brokerEquitySource } from './provider.js';
import { MemoryStateStore } from './state-store.js';
import { createRisk, type RiskWiring } from './wire.js';

/**
 * Concurrent orders that each pass a limit alone must not pass it together: the gateway's risk
 * hook decides concurrent requests one after the other and counts what it approved until the
 * database has it.
 */
let sim: RunningBrokerSim;
let db: Db;
let app: GatewayApp;
let risk: RiskWiring;
const prices = new MapPriceSource();

beforeAll(async () => {
  sim = await startSim({ prices: { AAPL: '100' } });
  const broker = simBroker(sim);
  db = await freshPglite();
  const config = parseRiskConfig({ limits: { max_position_shares: 100 }, correlation: { enabled: false } });
  risk = createRisk({ db, clock: systemClock, logger: silentLogger(), config, store: new MemoryStateStore(), prices, equity: brokerEquitySource(broker, { clock: systemClock, ttlMs: 0 }) });
  app = await buildGatewayApp({ db, broker, clock: systemClock, logger: silentLogger(), preTradeCheck: risk.engine.preTradeCheck, background: { reconcileOnStart: false } });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await risk?.close();
  await sim?.close();
  await db?.close();
});

const buy = (strategy: string, qty: string) =>
  app.inject({ method: 'POST', url: '/api/v1/orders', payload: { strategy_id: strategy, symbol: 'AAPL', side: 'buy', qty, order_type: 'market' } });

describe('risk under concurrency', () => {
  it('six concurrent buys of 30 against a 100-share limit: exactly three pass, and identical requests are one order', async () => {
    prices.set('AAPL', '100', Date.now());
    const answers = await Promise.all([...Array.from({ length: 6 }, (_, i) => buy(`conc-${i}`, '30')), buy('conc-0', '30'), buy('conc-0', '30')]);
    const codes = answers.map((a) => a.statusCode);
    expect(codes.filter((c) => c === 201)).toHaveLength(3);
    expect(codes.filter((c) => c === 422)).toHaveLength(3);
    for (const a of answers.filter((x) => x.statusCode === 422)) expect(a.json()).toMatchObject({ error: 'max_position_shares' });
    // The two repeats of conc-0 share its decision: both 200/201 if it passed, 422 if it did not.
    expect(new Set([codes[0], codes[6] === 200 ? 201 : codes[6], codes[7] === 200 ? 201 : codes[7]]).size).toBe(1);

    const filled = await waitFor('fills', async () => {
      const r = await db.query<{ qty: string }>("SELECT qty::text FROM positions WHERE symbol = 'AAPL'");
      return r.rows[0]?.qty === '90' ? r.rows[0] : null;
    });
    expect(filled.qty).toBe('90');
    // Later orders see the position: 10 more fit, 11 do not.
    expect((await buy('after-1', '11')).statusCode).toBe(422);
    expect((await buy('after-2', '10')).statusCode).toBe(201);
  });

  it('an approval not yet written is priced in the next batch, whatever its symbol', async () => {
    // The portfolio check values every pending order; one approved in another batch (SPY) must
    // come with its price, or the next batch (MSFT) is refused as "no usable last price".
    const now = Date.now();
    prices.set('MSFT', '200', now);
    prices.set('SPY', '450', now);
    const intent = (strategy: string, symbol: string) => ({
      client_order_id: `ks-${strategy}`,
      strategy_id: strategy,
      symbol,
      side: 'buy' as const,
      qty: '1',
      order_type: 'market' as const,
      limit_price: null,
      time_in_force: 'day' as const,
      trade_date: new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York' }).format(new Date(now)),
    });
    const pctx = { db, clock: systemClock, logger: silentLogger(), dryRun: false };
    const spy = await risk.engine.preTradeCheck(intent('priced-spy', 'SPY'), pctx);
    expect(spy.ok).toBe(true);
    try {
      const msft = await risk.engine.preTradeCheck(intent('priced-msft', 'MSFT'), pctx);
      expect(msft, JSON.stringify(msft)).toMatchObject({ ok: true });
      if (msft.ok) msft.settle?.();
    } finally {
      if (spy.ok) spy.settle?.();
    }
  });
});
