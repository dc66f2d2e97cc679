/**
 * Signal service latency: cold (feature cache empty: every vector computed from the bars) vs warm
 * (every vector from the cache), for every symbol of a date, over --dates dates (default 50).
 *
 *   npx tsx bench/signals/generate.ts [--dates 50] [--warm-passes 3] [--input FILE] [--no-redis] [--json]
 *
 * 1. ETL of /work/shared/data/sp500_daily_2015_2020.csv.gz (482 symbols; $KESTREL_BENCH_INPUT or --input
 *    to override; falls back to data/sample/bars.csv.gz and says so) into a temp data dir.
 * 2. A 100-tree GBDT (num_boost_round 100, no early stopping, num_leaves 31, max_depth 8) trained on
 *    Alpha158 features of 60 symbols, 2015-2017; registered and promoted on in-memory PGlite.
 * 3. The app on the in-process bus, then on the real Redis ($KESTREL_TEST_REDIS_URL or
 *    redis://127.0.0.1:6379, unique key prefix, deleted at the end). For each bus and each transport
 *    (`app.inject`, real HTTP over loopback with a keep-alive agent): 2 cold passes (cache keys deleted
 *    before each) and --warm-passes warm passes over the same dates; each request = all symbols of a date.
 *    Every warm answer is checked equal to the cold one.
 * Targets (issue): cached ≥ 50% faster than computed; warm p50 < 25 ms, p99 < 60 ms.
 */
import { Agent, request } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { busKeys, MemoryBackend, MemoryBus, openBus, type Bus } from '../../src/bus/index.js';
import { dayNumber, dayString, systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { loadAdjustedBars } from '../../src/data/bars-loader.js';
import { openCatalog } from '../../src/data/catalog.js';
import { runEtl } from '../../src/data/etl.js';
import { defaultGates } from '../../src/data/quality/rules.js';
import { migrate } from '../../src/db/migrate.js';
import { openPglite } from '../../src/db/pglite.js';
import { computeAlpha158 } from '../../src/features/compute.js';
import { buildSet } from '../../src/ml/dataset.js';
import { trainGbdt } from '../../src/ml/index.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { deletePrefix } from '../../src/bus/test-helpers.js';
import { ModelRegistry } from '../../src/registry/models.js';
import { buildSignalsApp, type SignalsApp } from '../../src/signals/app.js';
import { rowOf } from '../../src/signals/features.js';
import type { SignalsRequest, SignalsResponse } from '../../src/signals/types.js';
import { benchArgs } from '../lib/args.js';
import { runBench } from '../lib/run.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const SHARED = '/work/shared/data/sp500_daily_2015_2020.csv.gz';
const SAMPLE = join(root, 'data/sample/bars.csv.gz');
const { argv: args, flag, json: JSON_OUT, log } = benchArgs();
const N_DATES = Number(flag('dates', '50'));
const WARM_PASSES = Number(flag('warm-passes', '3'));
const USE_REDIS = !args.includes('--no-redis');
const REDIS_URL = process.env.KESTREL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const tmp = mkdtempSync(join(tmpdir(), 'kestrel-bench-signals-'));
const cleanups: Array<() => Promise<void>> = [];
async function cleanup(): Promise<void> {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  cleanups.length = 0;
  rmSync(tmp, { recursive: true, force: true });
}

function pickInput(): { file: string; note: string | null } {
  const explicit = flag('input', process.env.KESTREL_BENCH_INPUT ?? '');
  if (explicit) return { file: explicit, note: `input ${explicit} (targets are defined for the full data set)` };
  if (existsSync(SHARED)) return { file: SHARED, note: null };
  return { file: SAMPLE, note: `NOTE: ${SHARED} not found: using the bundled sample (40 symbols); figures are only indicative` };
}

const q = (xs: number[], f: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  const pos = f * (s.length - 1);
  const lo = Math.floor(pos);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (pos - lo);
};

type Transport = 'inject' | 'http';
interface Phase {
  bus: string;
  transport: Transport;
  symbols: number;
  cold: number[];
  warm: number[];
  mismatches: number;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const load0 = loadavg();
  const { file, note } = pickInput();
  if (note) log(note);
  const dataDir = join(tmp, 'data');
  log(`ETL ${file} → ${dataDir}`);
  const etl = await runEtl({ input: file, dataDir, gates: defaultGates(), clock: systemClock, logger: silentLogger() });
  if (etl.status !== 'published') throw new Error(`ETL failed: ${etl.failure}`);

  // ---- a 100-tree model ----
  const cat = await openCatalog(dataDir);
  const bars = await loadAdjustedBars(cat);
  cat.close();
  const trainSymbols = [...bars.keys()].slice(0, 60);
  const mats = await computeAlpha158(trainSymbols.map((s) => bars.get(s)!), { threads: 1 });
  const set = buildSet(mats, { from: '2015-01-01', to: '2017-12-31' }, 'return');
  const tt = performance.now();
  const { model } = await trainGbdt(
    { objective: 'l2', learning_rate: 0.1, num_leaves: 31, max_depth: 8, min_data_in_leaf: 50, num_boost_round: 100, early_stopping_rounds: 0, feature_fraction: 0.8, lambda_l2: 10, seed: 1 },
    { X: set.X, y: set.y, nRows: set.nRows, nFeatures: set.nFeatures, featureNames: set.featureNames },
    undefined,
    { threads: 2 },
  );
  log(`model: ${model.numTrees} trees trained on ${set.nRows} rows × ${set.nFeatures} features in ${((performance.now() - tt) / 1000).toFixed(1)} s`);
  mkdirSync(join(tmp, 'models'));
  const modelPath = join(tmp, 'models', 'model.json');
  writeFileSync(modelPath, JSON.stringify(model));
  const db = await openPglite(null);
  cleanups.push(() => db.close());
  await migrate(db);
  const registry = new ModelRegistry(db, systemClock);
  const v = await registry.register({ name: 'alpha158-gbdt', artifactPath: modelPath });
  await registry.promote('alpha158-gbdt', v.version);

  // ---- dates: every 5th trading day going back from the last, N_DATES of them ----
  const allDays = [...new Set([...bars.values()].flatMap((b) => Array.from(b.day)))].sort((a, b) => a - b);
  const dates = Array.from({ length: N_DATES }, (_, i) => allDays[allDays.length - 1 - i * 5]).filter((d): d is number => d !== undefined).map(dayString);
  const symbolsOn = new Map(dates.map((d) => [d, [...bars.values()].filter((b) => rowOf(b.day, dayNumber(d)) >= 0).map((b) => b.symbol)]));
  log(`${bars.size} symbols; ${dates.length} dates ${dates[dates.length - 1]}..${dates[0]}, ${Math.min(...[...symbolsOn.values()].map((s) => s.length))}-${Math.max(...[...symbolsOn.values()].map((s) => s.length))} symbols each`);
  const topN = Math.min(50, Math.floor(Math.min(...[...symbolsOn.values()].map((s) => s.length)) / 4));
  log(`machine: ${cpus().length} cores, load average ${load0.map((x) => x.toFixed(2)).join(' ')}`);

  const phases: Phase[] = [];
  const buses: Array<{ name: string; open: () => Promise<Bus | null> }> = [
    { name: 'memory', open: async () => new MemoryBus({ logger: silentLogger(), backend: new MemoryBackend() }) },
  ];
  const prefix = `kbench:${process.pid}:`;
  if (USE_REDIS) {
    buses.push({
      name: 'redis',
      open: async () => {
        try {
          return await openBus({ redisUrl: REDIS_URL, logger: silentLogger(), keyPrefix: prefix });
        } catch (e) {
          log(`NOTE: Redis at ${REDIS_URL} unreachable (${(e as Error).message}): skipping the Redis runs`);
          return null;
        }
      },
    });
  }

  for (const b of buses) {
    const bus = await b.open();
    if (!bus) continue;
    const app = await buildSignalsApp({ db, bus, clock: systemClock, logger: silentLogger(), dataDir, pollMs: 0, metrics: createMetrics('signals-bench', { defaultMetrics: false }) });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const transport of ['inject', 'http'] as const) {
        const call = transport === 'inject' ? (r: SignalsRequest) => viaInject(app, r) : (r: SignalsRequest) => viaHttp(url, agent, r);
        // warm-up of the code paths (JIT), not measured: one cold and one warm request on a date outside the set
        const spare = dayString(allDays[allDays.length - 1 - N_DATES * 5]!);
        await clearCache(bus, [spare], symbolsOn, bars);
        await call({ as_of_date: spare, top_n: topN, bottom_n: topN });
        await call({ as_of_date: spare, top_n: topN, bottom_n: topN });

        const phase: Phase = { bus: b.name, transport, symbols: 0, cold: [], warm: [], mismatches: 0 };
        const coldAnswers = new Map<string, SignalsResponse>();
        for (let pass = 0; pass < 2; pass++) {
          await clearCache(bus, dates, symbolsOn, bars);
          for (const d of dates) {
            const s = performance.now();
            const r = await call({ as_of_date: d, top_n: topN, bottom_n: topN });
            phase.cold.push(performance.now() - s);
            if (r.cache.hits !== 0) throw new Error(`cold request for ${d} had ${r.cache.hits} cache hits`);
            coldAnswers.set(d, r);
            phase.symbols = Math.max(phase.symbols, r.signals.length);
          }
        }
        for (let pass = 0; pass < WARM_PASSES; pass++) {
          for (const d of dates) {
            const s = performance.now();
            const r = await call({ as_of_date: d, top_n: topN, bottom_n: topN });
            phase.warm.push(performance.now() - s);
            if (r.cache.misses !== 0) throw new Error(`warm request for ${d} had ${r.cache.misses} cache misses`);
            if (JSON.stringify(r.signals) !== JSON.stringify(coldAnswers.get(d)!.signals)) phase.mismatches++;
          }
        }
        phases.push(phase);
        report(phase);
      }
    } finally {
      agent.destroy();
      await app.close();
      await bus.close();
      if (b.name === 'redis') await deletePrefix(prefix, REDIS_URL).catch((e: unknown) => log(`NOTE: could not delete ${prefix}* (${(e as Error).message})`));
    }
  }

  const load1 = loadavg();
  const summary = phases.map((p) => {
    const coldP50 = q(p.cold, 0.5);
    const warmP50 = q(p.warm, 0.5);
    return {
      bus: p.bus,
      transport: p.transport,
      symbols_per_request: p.symbols,
      cold_ms: { p50: round(coldP50), p99: round(q(p.cold, 0.99)), n: p.cold.length },
      warm_ms: { p50: round(warmP50), p99: round(q(p.warm, 0.99)), n: p.warm.length },
      cached_faster_pct: round((1 - warmP50 / coldP50) * 100),
      warm_answers_differing_from_cold: p.mismatches,
      targets: { cached_50pct_faster: warmP50 <= coldP50 / 2, warm_p50_lt_25ms: warmP50 < 25, warm_p99_lt_60ms: q(p.warm, 0.99) < 60 },
    };
  });
  log('');
  log('bus     transport  symbols  cold p50/p99 ms     warm p50/p99 ms    cached faster  targets (≥50% faster, p50<25, p99<60)');
  for (const s of summary) {
    const t = s.targets;
    log(
      `${s.bus.padEnd(7)} ${s.transport.padEnd(10)} ${String(s.symbols_per_request).padStart(7)}  ${`${s.cold_ms.p50} / ${s.cold_ms.p99}`.padEnd(18)} ${`${s.warm_ms.p50} / ${s.warm_ms.p99}`.padEnd(18)} ${`${s.cached_faster_pct}%`.padStart(12)}   ${[t.cached_50pct_faster, t.warm_p50_lt_25ms, t.warm_p99_lt_60ms].map((x) => (x ? 'ok' : 'MISSED')).join(' ')}`,
    );
  }
  log(`load average start ${load0.map((x) => x.toFixed(2)).join(' ')}, end ${load1.map((x) => x.toFixed(2)).join(' ')} (2-core machine shared with other work: compare ratios, not absolutes); total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  if (JSON_OUT) process.stdout.write(JSON.stringify({ input: file, note, dates: dates.length, load_start: load0, load_end: load1, summary }, null, 2) + '\n');
  if (summary.some((s) => s.warm_answers_differing_from_cold > 0)) throw new Error('warm answers differ from cold ones');
}

function report(p: Phase): void {
  log(
    `  ${p.bus}/${p.transport}: cold p50 ${round(q(p.cold, 0.5))} ms p99 ${round(q(p.cold, 0.99))} ms (n ${p.cold.length}); warm p50 ${round(q(p.warm, 0.5))} ms p99 ${round(q(p.warm, 0.99))} ms (n ${p.warm.length}); ${p.symbols} symbols/request`,
  );
}

const round = (x: number) => Math.round(x * 10) / 10;

async function viaInject(app: SignalsApp, req: SignalsRequest): Promise<SignalsResponse> {
  const r = await app.inject({ method: 'POST', url: '/api/v1/signals/generate', payload: req });
  if (r.statusCode !== 200) throw new Error(`HTTP ${r.statusCode}: ${r.body}`);
  return r.json<SignalsResponse>();
}

function viaHttp(base: string, agent: Agent, req: SignalsRequest): Promise<SignalsResponse> {
  const body = JSON.stringify(req);
  return new Promise((resolvePromise, reject) => {
    const r = request(`${base}/api/v1/signals/generate`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}: ${text}`));
        else resolvePromise(JSON.parse(text) as SignalsResponse);
      });
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(body);
  });
}


async function clearCache(bus: Bus, dates: string[], symbolsOn: Map<string, string[]>, bars: Map<string, unknown>): Promise<void> {
  const keys: string[] = [];
  for (const d of dates) for (const s of symbolsOn.get(d) ?? [...bars.keys()]) keys.push(busKeys.features(s, d));
  for (let i = 0; i < keys.length; i += 5000) await bus.del(keys.slice(i, i + 5000));
}

runBench(main, cleanup);
