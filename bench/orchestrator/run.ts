/**
 * Orchestration run end to end: `npx tsx bench/orchestrator/run.ts [--reps 5] [--symbols 482] [--top 20] [--bottom 20] [--db pglite|postgres] [--concurrency 8] [--rebalance] [--json]`
 *
 * Embedded defaults in this process, as `kestrel up` runs them: one in-memory PGlite shared by
 * the execution gateway and the orchestrator (--db postgres: a fresh schema of the local
 * PostgreSQL server, $KESTREL_TEST_DATABASE_URL, dropped afterwards), the broker simulator (Alpaca REST + trade_updates
 * WebSocket on loopback), the gateway app listening on loopback (the orchestrator reaches it
 * with HttpGatewayClient, as a separate deployment would), and a SignalsClient returning
 * precomputed signals for every symbol (the signal service's own latency is not measured here).
 *
 * Each repetition is a new as_of_date (consecutive NYSE days; the clock is set to its trade
 * date, as the gateway takes orders for today only): POST /api/v1/orchestration/run → signals
 * (482) + positions → sizing → plan written → 40 orders (top 20 / bottom 20) submitted 8 at a
 * time → run recorded. Between repetitions (not timed) the account is flattened through the
 * gateway and its positions catch up with the broker's fills; with --rebalance the positions
 * are kept instead, so later days also close, resize and flip the previous day's names (~80 orders).
 * Baseline: the same number of orders POSTed straight to the gateway with the same
 * concurrency, to separate the orchestrator's own cost from the gateway's per-order cost.
 * Target (issue): < 500 ms end to end for one run.
 */
import { startBrokerSim } from '../../src/broker-sim/index.js';
import { dayNumber, dayString, fixedClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { nextTradingDay } from '../../src/data/calendar.js';
import type { Db } from '../../src/db/db.js';
import { migrate } from '../../src/db/migrate.js';
import { openPglite } from '../../src/db/pglite.js';
import { openPostgres } from '../../src/db/postgres.js';
import { createTestSchema } from '../../src/db/test-helpers.js';
import { buildGatewayApp } from '../../src/execution/app.js';
import { AlpacaBroker } from '../../src/execution/brokers/alpaca.js';
import { buildOrchestratorApp } from '../../src/orchestrator/app.js';
import { HttpGatewayClient } from '../../src/orchestrator/gateway-client.js';
import { mapLimit } from '../../src/orchestrator/run.js';
import { StaticPriceSource } from '../../src/orchestrator/prices.js';
import { StaticSignalsClient } from '../../src/orchestrator/signals-clients.js';
import type { RunOrderView, RunView } from '../../src/orchestrator/types.js';
import { mulberry32 as rng } from '../../src/core/random.js';
import { benchArgs } from '../lib/args.js';

const { argv: args, flag, json: JSON_OUT, log } = benchArgs();
const REPS = Number(flag('reps', '5'));
const N = Number(flag('symbols', '482'));
const TOP = Number(flag('top', '20'));
const BOTTOM = Number(flag('bottom', '20'));
const DB = flag('db', 'pglite') as 'pglite' | 'postgres';
/** Keep the previous day's positions (later days then close, resize and flip: ~80 orders) instead of flattening between runs. */
const REBALANCE = args.includes('--rebalance');
const CONCURRENCY = Number(flag('concurrency', '8'));


const symbols = Array.from({ length: N }, (_, i) => `S${String(i).padStart(3, '0')}`);
const rand = rng(42);
const prices: Record<string, string> = Object.fromEntries(symbols.map((s) => [s, (10 + rand() * 490).toFixed(2)]));

// Dates: REPS consecutive NYSE trading days from 2025-02-03, each with its own scores.
const asOfDates: string[] = [];
let d = dayNumber('2025-02-03');
for (let i = 0; i < REPS; i++) {
  asOfDates.push(dayString(d));
  d = nextTradingDay(d);
}
const tradeDate = (asOf: string) => dayString(nextTradingDay(dayNumber(asOf)));
const scores: Record<string, Record<string, number>> = {};
for (const [i, day] of asOfDates.entries()) {
  const r = rng(1000 + i);
  scores[day] = Object.fromEntries(symbols.map((s) => [s, r() * 2 - 1]));
}

async function main() {
  const clock = fixedClock(`${tradeDate(asOfDates[0]!)}T14:00:00Z`);
  const logger = silentLogger();
  const tSetup = performance.now();
  let db: Db;
  let dropSchema: (() => Promise<void>) | null = null;
  if (DB === 'postgres') {
    const schema = await createTestSchema();
    dropSchema = schema.drop;
    db = openPostgres({ url: schema.url });
  } else db = await openPglite(null);
  await migrate(db);
  const sim = await startBrokerSim({ prices, config: { startingCash: '100000000', apiKeyId: 'PKBENCH', apiSecretKey: 'bench-secret' } });
  const broker = new AlpacaBroker({ keyId: 'PKBENCH', secretKey: 'bench-secret', baseUrl: sim.baseUrl, streamUrl: sim.streamUrl });
  const gateway = await buildGatewayApp({ db, broker, clock, logger });
  await gateway.listen({ port: 0, host: '127.0.0.1' });
  const ga = gateway.server.address() as { port: number };
  const gatewayUrl = `http://127.0.0.1:${ga.port}`;
  const orchestrator = await buildOrchestratorApp({
    db,
    clock,
    logger,
    signals: new StaticSignalsClient(scores, { name: 'bench', version: 1 }),
    gateway: new HttpGatewayClient({ baseUrl: gatewayUrl }),
    prices: new StaticPriceSource({ all: prices }),
    background: { scheduler: false },
    tuning: { submitConcurrency: CONCURRENCY },
  });
  await orchestrator.listen({ port: 0, host: '127.0.0.1' });
  const oa = orchestrator.server.address() as { port: number };
  const url = `http://127.0.0.1:${oa.port}/api/v1/orchestration/run`;
  await gateway.gateway.startup;
  log(`setup ${(performance.now() - tSetup).toFixed(0)} ms: ${DB === 'postgres' ? 'PostgreSQL (local server)' : 'PGlite (in memory)'}, broker sim + gateway + orchestrator on loopback; ${N} symbols, top ${TOP} / bottom ${BOTTOM}`);

  const results: Array<{ as_of_date: string; trade_date: string; ms: number; orders: number; status: string; timings: RunView['timings']; legs: Record<string, number> }> = [];
  try {
    const gw = new HttpGatewayClient({ baseUrl: gatewayUrl });
    for (const asOf of asOfDates) {
      clock.set(`${tradeDate(asOf)}T14:00:00Z`);
      await settle(gateway, gatewayUrl, sim);
      if (!REBALANCE) {
        await flatten(gw, tradeDate(asOf));
        await settle(gateway, gatewayUrl, sim);
      }
      const t0 = performance.now();
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ strategy_id: 'bench', as_of_date: asOf, capital: '1000000', max_position_pct: 0.05, top_n: TOP, bottom_n: BOTTOM }),
      });
      const body = (await res.json()) as RunView & { orders: RunOrderView[] };
      const ms = performance.now() - t0;
      if (res.status !== 201 || body.status !== 'completed') throw new Error(`run ${asOf}: HTTP ${res.status} ${body.status}: ${body.error ?? JSON.stringify(body).slice(0, 300)}`);
      const legs: Record<string, number> = {};
      for (const o of body.orders) if (o.qty !== null) legs[o.leg] = (legs[o.leg] ?? 0) + 1;
      results.push({ as_of_date: asOf, trade_date: body.trade_date, ms, orders: body.orders_submitted, status: body.status, timings: body.timings, legs });
      const t = body.timings;
      log(
        `${asOf} → ${body.trade_date}: ${ms.toFixed(1)} ms end to end (HTTP) | run ${t.total_ms} ms = signals ${t.signals_ms} ‖ positions ${t.positions_ms}, plan ${t.plan_ms}, submit ${t.submit_ms} | ${body.signals_count} signals → ${body.orders_submitted} orders (${Object.entries(legs).map(([k, v]) => `${v} ${k}`).join(', ')})`,
      );
    }
    // The idempotent path: the same run again answers the stored run and submits nothing.
    const t0 = performance.now();
    const again = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ strategy_id: 'bench', as_of_date: asOfDates.at(-1), capital: '1000000', max_position_pct: 0.05, top_n: TOP, bottom_n: BOTTOM }) });
    await again.arrayBuffer();
    const repeatMs = performance.now() - t0;
    // Baseline: the gateway alone, the same number of orders at the same concurrency (a new strategy id each, so all are new).
    const baseline: number[] = [];
    for (const [i, r] of results.entries()) {
      await settle(gateway, gatewayUrl, sim);
      const t = performance.now();
      await mapLimit(
        Array.from({ length: r.orders }, (_, k) => symbols[k]!),
        CONCURRENCY,
        async (sym) => void (await gw.submitOrder({ strategy_id: `baseline-${i}`, symbol: sym, side: 'buy', qty: '1', order_type: 'market', time_in_force: 'day', trade_date: tradeDate(asOfDates.at(-1)!) })),
      );
      baseline.push(performance.now() - t);
    }
    await settle(gateway, gatewayUrl, sim);
    if (!REBALANCE) await flatten(gw, tradeDate(asOfDates.at(-1)!));
    log(`baseline, the gateway alone: ${baseline.map((b, i) => `${results[i]!.orders} orders ${b.toFixed(1)} ms`).join(', ')}`);
    const sorted = results.map((r) => r.ms).sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    const after1 = results.slice(1).map((r) => r.ms);
    log(`median ${median.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms over ${results.length} runs (first run includes JIT warm-up; without it max ${after1.length ? Math.max(...after1).toFixed(1) : '-'} ms); target < 500 ms`);
    log(`repeat of an existing run (HTTP ${again.status}): ${repeatMs.toFixed(1)} ms, nothing submitted`);
    if (JSON_OUT) console.log(JSON.stringify({ bench: 'orchestrator_run', db: DB, symbols: N, top: TOP, bottom: BOTTOM, runs: results, median_ms: median, max_ms: sorted.at(-1), repeat_ms: repeatMs, gateway_baseline_ms: baseline }, null, 2));
  } finally {
    await orchestrator.close();
    await gateway.close();
    await sim.close();
    await db.close();
    await dropSchema?.();
  }
}

/** Closes every position through the gateway (untimed set-up of the next repetition). */
async function flatten(gw: HttpGatewayClient, day: string): Promise<void> {
  const open = await gw.positions();
  await mapLimit(open, 8, async (p) => {
    const q = Number(p.qty);
    await gw.submitOrder({ strategy_id: 'bench-flatten', symbol: p.symbol, side: q > 0 ? 'sell' : 'buy', qty: String(Math.abs(q)), order_type: 'market', time_in_force: 'day', trade_date: day });
  });
}

/** Waits until the gateway's positions (from fills over the stream) match the broker's. */
async function settle(gateway: Awaited<ReturnType<typeof buildGatewayApp>>, gatewayUrl: string, sim: Awaited<ReturnType<typeof startBrokerSim>>): Promise<void> {
  const end = Date.now() + 30_000;
  for (;;) {
    await gateway.gateway.consumer?.idle();
    const ours = ((await (await fetch(`${gatewayUrl}/api/v1/positions`)).json()) as { positions: Array<{ symbol: string; qty: string }> }).positions.map((p) => `${p.symbol}:${p.qty}`).sort();
    const theirs = sim.sim.listPositions().map((p) => `${p.symbol}:${p.qty}`).sort();
    if (JSON.stringify(ours) === JSON.stringify(theirs)) return;
    if (Date.now() > end) throw new Error('gateway positions did not catch up with the broker within 30 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
