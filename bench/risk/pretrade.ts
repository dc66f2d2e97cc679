/**
 * Pre-trade check latency: every check (restricted list, breaker gate, price, price band, order
 * notional, position shares and % of equity, gross and net exposure, buying power, correlated
 * cluster) on one order against a realistic account: 50 positions, 500 last prices, 20 open
 * orders, correlations known for every pair. Target: p99 < 0.2 ms.
 *
 *   npx tsx bench/risk/pretrade.ts [--iterations 100000] [--json]
 *
 * Reported:
 *  - checks, fresh snapshot: each order gets its own context object (as in the gateway, where the
 *    snapshot is new per order), so the portfolio exposure is recomputed every time;
 *  - checks, shared snapshot: one context for all orders (the orchestrator sizing a batch);
 *  - engine, in memory: the whole hook without I/O (snapshot from memory, breaker read and
 *    trigger evaluation over the in-memory store, checks), i.e. the overhead risk adds to the
 *    gateway beyond its database/Redis round trips.
 */
import { fixedClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { CircuitBreaker } from '../../src/risk/breaker.js';
import { OPEN_GATE } from '../../src/risk/breaker-state.js';
import { checkOrder, type RiskOrder } from '../../src/risk/checks.js';
import { parseRiskConfig } from '../../src/risk/config.js';
import { makeRiskContext, type CorrelationLookup } from '../../src/risk/context.js';
import { RiskEngine } from '../../src/risk/engine.js';
import { nullRiskAudit } from '../../src/risk/events.js';
import { StaticRiskStateProvider } from '../../src/risk/provider.js';
import { MemoryStateStore } from '../../src/risk/state-store.js';

const args = process.argv.slice(2);
const iterations = (() => {
  const i = args.indexOf('--iterations');
  return i >= 0 ? Number(args[i + 1]) : 100_000;
})();
const asJson = args.includes('--json');

// ---- a realistic account ------------------------------------------------------------------
const N_PRICES = 500;
const N_POS = 50;
let seed = 42;
const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const symbols = Array.from({ length: N_PRICES }, (_, i) => `S${String(i).padStart(3, '0')}`);
const price = (i: number) => (10 + ((i * 37) % 490) + (i % 100) / 100).toFixed(2);
const now = Date.parse('2025-03-04T15:00:00Z');
const positions: Record<string, { qty: string; avgPrice: string }> = {};
for (let i = 0; i < N_POS; i++) positions[symbols[i * 7]!] = { qty: String((i % 5 === 0 ? -1 : 1) * (50 + Math.floor(rnd() * 400))), avgPrice: price(i * 7) };
const openOrders = Array.from({ length: 20 }, (_, i) => ({ symbol: symbols[(i * 13) % N_PRICES]!, side: (i % 3 === 0 ? 'sell' : 'buy') as 'buy' | 'sell', remaining: String(10 + i), limitPrice: null }));
const prices: Record<string, { price: string; ts: number }> = {};
symbols.forEach((s, i) => (prices[s] = { price: price(i), ts: now - 2_000 }));

// Correlations for every pair, stored the way CatalogCorrelationSource memoises them.
const corr = new Map<string, number>();
for (let a = 0; a < N_PRICES; a++) for (let b = a + 1; b < N_PRICES; b++) corr.set(`${symbols[a]}|${symbols[b]}`, (a % 10 === b % 10 ? 0.85 : 0.2) + (rnd() - 0.5) * 0.1);
const correlations: CorrelationLookup = { asOf: '2025-03-03', corr: (a, b) => (a === b ? 1 : (corr.get(a < b ? `${a}|${b}` : `${b}|${a}`) ?? null)) };

const base = makeRiskContext({ now, tradeDate: '2025-03-04', positions, openOrders, prices, equity: '2500000', startOfDayEquity: '2510000', buyingPower: '1500000', correlations });
const config = parseRiskConfig({ limits: { max_gross_exposure_pct: 2, max_net_exposure_pct: 1.5, max_position_pct: 0.1 }, correlation: { enabled: true, threshold: 0.8, max_cluster_pct: 0.3 } });

// Orders cycle through held and unheld names, both sides, market and limit.
const orders: RiskOrder[] = Array.from({ length: 64 }, (_, i) => {
  const s = symbols[(i * 11) % N_PRICES]!;
  const limit = i % 4 === 0 ? price((i * 11) % N_PRICES) : null;
  return { symbol: s, side: i % 2 ? 'sell' : 'buy', qty: String(5 + (i % 40)), order_type: limit ? 'limit' : 'market', limit_price: limit };
});

// ---- measurement --------------------------------------------------------------------------
function stats(samples: Float64Array) {
  const s = Float64Array.from(samples).sort();
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]! * 1000; // µs
  let sum = 0;
  for (const v of s) sum += v;
  return { p50_us: +q(0.5).toFixed(2), p90_us: +q(0.9).toFixed(2), p99_us: +q(0.99).toFixed(2), p999_us: +q(0.999).toFixed(2), max_us: +(s[s.length - 1]! * 1000).toFixed(2), mean_us: +((sum / s.length) * 1000).toFixed(2) };
}

function runSync(label: string, fn: (i: number) => unknown) {
  for (let i = 0; i < Math.min(20_000, iterations); i++) fn(i); // warm-up (JIT)
  const samples = new Float64Array(iterations);
  let approved = 0;
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    const r = fn(i) as { ok: boolean };
    samples[i] = performance.now() - t;
    if (r.ok) approved++;
  }
  const wall = performance.now() - t0;
  return { label, iterations, approved_pct: +((approved / iterations) * 100).toFixed(1), ops_per_s: Math.round(iterations / (wall / 1000)), ...stats(samples) };
}

async function runAsync(label: string, fn: (i: number) => Promise<{ ok: boolean }>) {
  for (let i = 0; i < Math.min(20_000, iterations); i++) await fn(i);
  const samples = new Float64Array(iterations);
  let approved = 0;
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    const r = await fn(i);
    samples[i] = performance.now() - t;
    if (r.ok) approved++;
  }
  const wall = performance.now() - t0;
  return { label, iterations, approved_pct: +((approved / iterations) * 100).toFixed(1), ops_per_s: Math.round(iterations / (wall / 1000)), ...stats(samples) };
}

const results = [];
results.push(runSync('checks, fresh snapshot', (i) => checkOrder(orders[i & 63]!, { ...base, memo: {} }, config, OPEN_GATE)));
results.push(runSync('checks, shared snapshot', (i) => checkOrder(orders[i & 63]!, base, config, OPEN_GATE)));

const clock = fixedClock(new Date(now));
const breaker = new CircuitBreaker({ store: new MemoryStateStore(), events: nullRiskAudit, clock, logger: silentLogger(), config: config.breaker });
const engine = new RiskEngine({ config, provider: new StaticRiskStateProvider(() => ({ ...base, memo: {} })), breaker, events: nullRiskAudit, logger: silentLogger() });
results.push(await runAsync('engine, in memory', async (i) => (await engine.evaluate({ ...orders[i & 63]!, trade_date: '2025-03-04' })).decision));

const target = 0.2 * 1000;
if (asJson) console.log(JSON.stringify({ context: { positions: N_POS, prices: N_PRICES, open_orders: openOrders.length }, target_p99_us: target, results }, null, 2));
else {
  console.log(`pre-trade checks: ${N_POS} positions, ${N_PRICES} last prices, ${openOrders.length} open orders, correlations on; ${iterations} iterations each (Node ${process.version})`);
  console.log('                           p50 µs   p90 µs   p99 µs  p99.9 µs   max µs    ops/s  approved');
  for (const r of results) {
    console.log(`${r.label.padEnd(26)} ${String(r.p50_us).padStart(7)}  ${String(r.p90_us).padStart(7)}  ${String(r.p99_us).padStart(7)}  ${String(r.p999_us).padStart(8)}  ${String(r.max_us).padStart(7)}  ${String(r.ops_per_s).padStart(7)}  ${r.approved_pct}%`);
  }
  const worst = results[0]!;
  console.log(`target p99 < ${target} µs (checks, fresh snapshot): ${worst.p99_us < target ? 'PASS' : 'MISS'} (${worst.p99_us} µs)`);
}
