import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busKeys, busStreams, decodeSignalsGenerated, type SignalsGenerated } from '../bus/index.js';
import { dayNumber, dayString, fixedClock } from '../core/clock.js';
import { bar, etl, tempDir, writeBarsCsv } from '../data/test-helpers.js';
import { alpha158, toRowMajor } from '../features/alpha158.js';
import { GbdtModel } from '../ml/index.js';
import { encodeCacheValue, FEATURE_COUNT, rowOf, windowFingerprint } from './features.js';
import { InProcessSignalsClient, SignalsRequestError, SignalsUnavailableError } from './client.js';
import { LAST_DATE, metricValue, MODEL, signalsFixture, testApp, type SignalsFixture, type TestApp } from './test-helpers.js';
import type { SignalsResponse } from './types.js';

type ErrBody = { error: string; message: string; details?: Array<{ field: string; reason: string }> };

describe('signal service (sample data, PGlite registry, in-process bus)', () => {
  let fx: SignalsFixture;
  let t: TestApp;
  let modelPath: string;
  /** Symbols with a bar on LAST_DATE. */
  let onLast: string[];

  beforeAll(async () => {
    fx = await signalsFixture();
    modelPath = await fx.trainModel(4);
    await fx.promote(modelPath);
    t = await testApp(fx);
    const d = dayNumber(LAST_DATE);
    onLast = [...fx.bars.values()].filter((b) => rowOf(b.day, d) >= 0).map((b) => b.symbol);
  });
  afterAll(async () => {
    await t?.close();
    await fx?.cleanup();
  });

  const post = (body: unknown, headers: Record<string, string> = {}) => t.app.inject({ method: 'POST', url: '/api/v1/signals/generate', payload: body as object, headers });

  it('scores every symbol with a bar on the date: ranks, equal long/short weights, model, UTC time', async () => {
    const r = await post({ as_of_date: LAST_DATE, top_n: 5, bottom_n: 4 });
    expect(r.statusCode).toBe(200);
    const b = r.json<SignalsResponse>();
    expect(onLast.length).toBeGreaterThan(25);
    expect(b.signals).toHaveLength(onLast.length);
    expect(new Set(b.signals.map((s) => s.symbol))).toEqual(new Set(onLast));
    expect(b).toMatchObject({ as_of_date: LAST_DATE, model: { name: MODEL, version: 1 }, generated_at: '2020-01-10T21:30:00.000Z', timezone: 'UTC', missing: [], cache: { hits: 0, misses: onLast.length } });
    expect(b.signals.map((s) => s.rank)).toEqual(onLast.map((_, i) => i + 1));
    for (let i = 1; i < b.signals.length; i++) expect(b.signals[i - 1]!.predicted_return).toBeGreaterThanOrEqual(b.signals[i]!.predicted_return);
    expect(b.signals.slice(0, 5).every((s) => s.target_weight === 0.2)).toBe(true);
    expect(b.signals.slice(-4).every((s) => s.target_weight === -0.25)).toBe(true);
    expect(b.signals.slice(5, -4).every((s) => s.target_weight === 0)).toBe(true);
    const long = b.signals.filter((s) => s.target_weight > 0).reduce((a, s) => a + s.target_weight, 0);
    const short = b.signals.filter((s) => s.target_weight < 0).reduce((a, s) => a + s.target_weight, 0);
    expect(long).toBeCloseTo(1, 12);
    expect(short).toBeCloseTo(-1, 12);

    // The scores are the model's predictions on full-history Alpha158 features (an independent path).
    const model = GbdtModel.fromJSON(JSON.parse(readFileSync(modelPath, 'utf8')));
    for (const s of b.signals.filter((_, i) => i % 5 === 0)) {
      const bars = fx.bars.get(s.symbol)!;
      const full = alpha158(bars);
      const row = rowOf(bars.day, dayNumber(LAST_DATE));
      const x = toRowMajor(full).subarray(row * FEATURE_COUNT, (row + 1) * FEATURE_COUNT);
      expect(s.predicted_return).toBeCloseTo(model.predict(Float64Array.from(x), 1)[0]!, 12);
    }
  });

  it('answers the second time from the feature cache, identically', async () => {
    const req = { as_of_date: '2019-12-31', symbols: ['MSFT', 'AAPL', 'KO', 'XOM', 'JPM', 'PG'], top_n: 2, bottom_n: 2 };
    const hits0 = (await metricValue(t.metrics, 'kestrel_signals_feature_cache_hits_total')) ?? 0;
    const first = (await post(req)).json<SignalsResponse>();
    expect(first.cache).toEqual({ hits: 0, misses: 6 });
    const keys = req.symbols.map((s) => busKeys.features(s, '2019-12-31'));
    expect((await t.bus.mgetBuffer(keys)).every((v) => v !== null && v.byteLength === (FEATURE_COUNT + 1) * 8)).toBe(true);
    const second = (await post(req)).json<SignalsResponse>();
    expect(second.cache).toEqual({ hits: 6, misses: 0 });
    expect(second.signals).toEqual(first.signals);
    expect(await metricValue(t.metrics, 'kestrel_signals_feature_cache_hits_total')).toBe(hits0 + 6);
  });

  it('recomputes a cache entry that does not match the bars (stale snapshot, other feature version) and rewrites it', async () => {
    const req = { as_of_date: '2019-12-30', symbols: ['AAPL', 'MSFT', 'KO'], top_n: 1, bottom_n: 1 };
    const computed = (await post(req)).json<SignalsResponse>();
    await t.bus.set(busKeys.features('AAPL', '2019-12-30'), encodeCacheValue(new Float64Array(FEATURE_COUNT).fill(42), 12345));
    await t.bus.set(busKeys.features('MSFT', '2019-12-30'), Buffer.from('garbage'));
    const again = (await post(req)).json<SignalsResponse>();
    expect(again.cache).toEqual({ hits: 1, misses: 2 });
    expect(again.signals).toEqual(computed.signals);
    expect((await post(req)).json<SignalsResponse>().cache).toEqual({ hits: 3, misses: 0 });
  });

  it('scores a symbol whose feature row is all NaN (trees route missing values)', async () => {
    const aapl = fx.bars.get('AAPL')!;
    const fp = windowFingerprint(aapl, rowOf(aapl.day, dayNumber('2019-12-27')));
    await t.bus.set(busKeys.features('AAPL', '2019-12-27'), encodeCacheValue(new Float64Array(FEATURE_COUNT).fill(NaN), fp));
    const r = (await post({ as_of_date: '2019-12-27', symbols: ['AAPL', 'MSFT'], top_n: 1, bottom_n: 1 })).json<SignalsResponse>();
    expect(r.cache.hits).toBe(1);
    const a = r.signals.find((s) => s.symbol === 'AAPL')!;
    expect(Number.isFinite(a.predicted_return)).toBe(true);
  });

  it('lists requested symbols without a bar on the date as missing and scores the rest', async () => {
    // CSRA stops 2018-04-03; on its first day COL has one bar: every rolling feature is NaN, it is still scored
    const colFirst = dayString(fx.bars.get('COL')!.day[0]!);
    expect(colFirst.startsWith('2019-')).toBe(true);
    const r = await post({ as_of_date: colFirst, symbols: ['AAPL', 'CSRA', 'COL', 'MSFT'], top_n: 1, bottom_n: 1 });
    expect(r.statusCode).toBe(200);
    const b = r.json<SignalsResponse>();
    expect(b.missing).toEqual(['CSRA']);
    expect(b.signals.map((s) => s.symbol).sort()).toEqual(['AAPL', 'COL', 'MSFT']);
    expect(b.signals.every((s) => Number.isFinite(s.predicted_return))).toBe(true);
  });

  it('4xx with a reason: unknown symbols, dates without data, bad dates, too many names, bad bodies', async () => {
    const cases: Array<[unknown, number, string, RegExp]> = [
      [{ as_of_date: LAST_DATE, symbols: ['AAPL', 'NOPE', 'ZZZZ'], top_n: 1, bottom_n: 0 }, 422, 'unknown_symbols', /NOPE, ZZZZ/],
      [{ as_of_date: '2020-01-04', top_n: 1, bottom_n: 1 }, 422, 'no_data', /no data for 2020-01-04.*not a trading day/],
      [{ as_of_date: LAST_DATE, symbols: ['CSRA', 'CBS'], top_n: 0, bottom_n: 0 }, 422, 'no_data', /none of the 2 requested symbols has a bar on 2020-01-10/],
      [{ as_of_date: '2014-06-02', top_n: 1, bottom_n: 1 }, 422, 'no_data', /data starts 2015-01-12/],
      [{ as_of_date: '2020-01-13', top_n: 1, bottom_n: 1 }, 422, 'date_out_of_range', /after the last stored date 2020-01-10.*kestrel etl/],
      [{ as_of_date: '2020-02-30', top_n: 1, bottom_n: 1 }, 422, 'bad_date', /not a YYYY-MM-DD calendar date/],
      [{ as_of_date: '10/01/2020', top_n: 1, bottom_n: 1 }, 422, 'bad_date', /YYYY-MM-DD/],
      [{ as_of_date: LAST_DATE, symbols: ['AAPL', 'MSFT'], top_n: 2, bottom_n: 1 }, 422, 'too_few_symbols', /top_n 2 \+ bottom_n 1 = 3 exceeds the 2 symbols/],
      [{ as_of_date: LAST_DATE, top_n: 1 }, 400, 'validation_failed', /bottom_n/],
      [{ as_of_date: LAST_DATE, top_n: 1, bottom_n: 1, extra: true }, 400, 'validation_failed', /extra unknown field/],
      [{ as_of_date: LAST_DATE, top_n: -1, bottom_n: 1 }, 400, 'validation_failed', /top_n/],
      [{ as_of_date: LAST_DATE, top_n: 1.5, bottom_n: 1 }, 400, 'validation_failed', /top_n/],
      [{ as_of_date: LAST_DATE, symbols: [], top_n: 0, bottom_n: 0 }, 400, 'validation_failed', /symbols/],
      [{ as_of_date: LAST_DATE, symbols: ['AAPL', 'AAPL'], top_n: 0, bottom_n: 0 }, 400, 'validation_failed', /symbols/],
      [{ as_of_date: {}, top_n: 1, bottom_n: 1 }, 400, 'validation_failed', /as_of_date/],
      // A JSON number is not coerced to a string any more (issue #14): 400, not 422 bad_date.
      [{ as_of_date: 20200110, top_n: 1, bottom_n: 1 }, 400, 'validation_failed', /as_of_date/],
      [{ as_of_date: '20200110', top_n: 1, bottom_n: 1 }, 422, 'bad_date', /"20200110" is not a YYYY-MM-DD/],
      [{ as_of_date: LAST_DATE, symbols: ['AAPL', 'MſFT'], top_n: 0, bottom_n: 0 }, 422, 'invalid_symbol', /"MſFT" is not a US equity ticker/],
      [{ as_of_date: LAST_DATE, symbols: ['\u00a0AAPL'], top_n: 0, bottom_n: 0 }, 422, 'invalid_symbol', /is not a US equity ticker/],
    ];
    for (const [body, status, code, msg] of cases) {
      const r = await post(body);
      const b = r.json<ErrBody>();
      expect([r.statusCode, b.error], JSON.stringify(body)).toEqual([status, code]);
      expect(b.message, JSON.stringify(body)).toMatch(msg);
    }
    const unknown = (await post(cases[0]![0])).json<ErrBody>();
    expect(unknown.details).toEqual([
      { field: 'symbols', reason: 'NOPE: not in the data store' },
      { field: 'symbols', reason: 'ZZZZ: not in the data store' },
    ]);
    const notJson = await t.app.inject({ method: 'POST', url: '/api/v1/signals/generate', payload: '{"as_of_date":', headers: { 'content-type': 'application/json' } });
    expect(notJson.statusCode).toBe(400);
    expect(await metricValue(t.metrics, 'kestrel_signals_requests_total', { result: 'client_error' })).toBeGreaterThanOrEqual(8);
  });

  it('publishes signals.generated after answering (consumer group on the in-process bus)', async () => {
    const got: SignalsGenerated[] = [];
    const c = t.bus.consume(busStreams.signalsGenerated, 'orchestrator', 'test-consumer', (e) => void got.push(decodeSignalsGenerated(e.fields)), { blockMs: 50 });
    try {
      const r = (await post({ as_of_date: '2019-12-20', symbols: ['KO', 'AAPL', 'XOM'], top_n: 1, bottom_n: 1 })).json<SignalsResponse>();
      const deadline = Date.now() + 5000;
      while (!got.some((g) => g.as_of_date === '2019-12-20') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
      const ev = got.find((g) => g.as_of_date === '2019-12-20');
      expect(ev).toEqual({ as_of_date: '2019-12-20', symbols: r.signals.map((s) => s.symbol), model_version: `${MODEL}@1`, timestamp: r.generated_at });
      expect(ev!.symbols.sort()).toEqual(['AAPL', 'KO', 'XOM']);
    } finally {
      await c.stop();
    }
  });

  it('GET /api/v1/model/info, /health and /metrics describe the model, data and bus', async () => {
    const info = await t.app.inject({ method: 'GET', url: '/api/v1/model/info' });
    expect(info.statusCode).toBe(200);
    expect(info.json()).toMatchObject({ name: MODEL, version: 1, artifact_path: modelPath, trees: 4, features: 158, objective: 'l2', registry: { production_version: 1, poll_ms: 0 } });
    const h = await t.app.inject({ method: 'GET', url: '/health' });
    expect(h.statusCode).toBe(200);
    const hb = h.json<{ status: string; checks: Record<string, { status: string; detail?: string }> }>();
    expect(hb.status).toBe('ok');
    expect(Object.fromEntries(Object.entries(hb.checks).map(([k, v]) => [k, v.status]))).toEqual({ model: 'up', data: 'up', bus: 'up', registry: 'up' });
    expect(hb.checks.model!.detail).toMatch(/alpha158-gbdt v1/);
    // 40 in the sample; SCG's only traded bar (close 0.0045) is quarantined by price_level.
    expect(hb.checks.data!.detail).toMatch(/39 symbols, 2015-01-12\.\.2020-01-10/);
    const m = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(m).toMatch(/kestrel_signals_model_version\{name="alpha158-gbdt"[^}]*\} 1/);
    expect(m).toMatch(/kestrel_signals_generate_duration_seconds_count\{[^}]*cache="miss"[^}]*\} [1-9]/);
    expect(m).toMatch(/kestrel_signals_generate_duration_seconds_count\{[^}]*cache="hit"[^}]*\} [1-9]/);
    expect(m).toMatch(/kestrel_signals_bus_degraded\{[^}]*\} 0/);
    const docs = await t.app.inject({ method: 'GET', url: '/docs/json' });
    expect(Object.keys(docs.json<{ paths: Record<string, unknown> }>().paths)).toEqual(expect.arrayContaining(['/api/v1/signals/generate', '/api/v1/model/info', '/api/v1/model/reload']));
  });

  it('refuses bad configuration with the key and the fix', async () => {
    await expect(testApp(fx, { featureTtlSeconds: 0 })).rejects.toThrow(/featureTtlSeconds must be a positive number/);
    await expect(testApp(fx, { grossPerSide: -1 })).rejects.toThrow(/grossPerSide/);
    await expect(testApp(fx, { pollMs: 1.5 })).rejects.toThrow(/pollMs/);
    await expect(testApp(fx, { modelName: 'Bad Name' })).rejects.toThrow(/model name/);
  });

  it('the in-process client maps errors like the HTTP client: 4xx → SignalsRequestError, 503 → retryable', async () => {
    const client = new InProcessSignalsClient(t.app.signals);
    const ok = await client.generate({ as_of_date: LAST_DATE, symbols: ['AAPL', 'MSFT'], top_n: 1, bottom_n: 1 });
    expect(ok.signals).toHaveLength(2);
    const e = await client.generate({ as_of_date: LAST_DATE, symbols: ['NOPE'], top_n: 0, bottom_n: 0 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SignalsRequestError);
    expect(e).toMatchObject({ code: 'unknown_symbols', status: 422, retryable: false, exitCode: 2 });
    const bad = await client.generate({ as_of_date: LAST_DATE, top_n: -2, bottom_n: 0 }).catch((x: unknown) => x);
    expect(bad).toMatchObject({ code: 'validation_failed', status: 400 });
    await expect(client.ping()).resolves.toBeUndefined();
  });

  it('no production model: 503 no_model with the hint, /health down; a promotion + POST reload brings it up', async () => {
    const other = await testApp(fx, { modelName: 'not-trained-yet' });
    try {
      const r = await other.app.inject({ method: 'POST', url: '/api/v1/signals/generate', payload: { as_of_date: LAST_DATE, top_n: 1, bottom_n: 1 } });
      expect(r.statusCode).toBe(503);
      expect(r.json<ErrBody>()).toMatchObject({ error: 'no_model', message: expect.stringMatching(/no production model for not-trained-yet.*kestrel train/) });
      expect((await other.app.inject({ method: 'GET', url: '/api/v1/model/info' })).statusCode).toBe(503);
      const h = await other.app.inject({ method: 'GET', url: '/health' });
      expect(h.statusCode).toBe(503);
      expect(h.json<{ checks: Record<string, { status: string }> }>().checks.model!.status).toBe('down');
      const client = new InProcessSignalsClient(other.app.signals);
      const e = await client.generate({ as_of_date: LAST_DATE, top_n: 1, bottom_n: 1 }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(SignalsUnavailableError);
      expect(e).toMatchObject({ code: 'no_model', status: 503, retryable: true });
      await expect(client.ping()).rejects.toBeInstanceOf(SignalsUnavailableError);

      const v = await fx.registry.register({ name: 'not-trained-yet', artifactPath: modelPath });
      await fx.registry.promote('not-trained-yet', v.version);
      const rl = await other.app.inject({ method: 'POST', url: '/api/v1/model/reload' });
      expect(rl.statusCode).toBe(200);
      expect(rl.json()).toEqual({ changed: true, previous: null, current: { name: 'not-trained-yet', version: 1 } });
      const again = await other.app.inject({ method: 'POST', url: '/api/v1/signals/generate', payload: { as_of_date: LAST_DATE, top_n: 1, bottom_n: 1 } });
      expect(again.statusCode).toBe(200);
      expect((await other.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    } finally {
      await other.close();
    }
  });

  it('no data store: 503 no_data with the hint to run kestrel etl, /health data down', async () => {
    const empty = tempDir('kestrel-signals-empty-');
    const other = await testApp(fx, { dataDir: empty.dir });
    try {
      const r = await other.app.inject({ method: 'POST', url: '/api/v1/signals/generate', payload: { as_of_date: LAST_DATE, top_n: 1, bottom_n: 1 } });
      expect(r.statusCode).toBe(503);
      expect(r.json<ErrBody>()).toMatchObject({ error: 'no_data', message: expect.stringMatching(/kestrel etl/) });
      const h = (await other.app.inject({ method: 'GET', url: '/health' })).json<{ status: string; checks: Record<string, { status: string }> }>();
      expect([h.status, h.checks.data!.status, h.checks.model!.status]).toEqual(['down', 'down', 'up']);
    } finally {
      await other.close();
      empty.cleanup();
    }
  });

  it('picks up a newly published data snapshot (new manifest) on the next request', async () => {
    const tmp = tempDir('kestrel-signals-append-');
    const dataDir = join(tmp.dir, 'data');
    mkdirSync(dataDir);
    cpSync(fx.dataDir, dataDir, { recursive: true });
    const other = await testApp(fx, { dataDir, dataCheckMs: 0 });
    try {
      const before = await other.app.inject({ method: 'POST', url: '/api/v1/signals/generate', payload: { as_of_date: '2020-01-13', top_n: 1, bottom_n: 1 } });
      expect(before.json<ErrBody>().error).toBe('date_out_of_range');
      const csv = writeBarsCsv(join(tmp.dir, 'next-day.csv'), [bar('AAPL', '2020-01-13', 311, { adj_close: 311 }), bar('MSFT', '2020-01-13', 162, { adj_close: 162 }), bar('KO', '2020-01-13', 54, { adj_close: 54 })]);
      await etl(csv, dataDir, { clock: fixedClock('2020-01-13T22:10:00Z') });
      const after = await other.app.inject({ method: 'POST', url: '/api/v1/signals/generate', payload: { as_of_date: '2020-01-13', top_n: 1, bottom_n: 1 } });
      expect(after.statusCode).toBe(200);
      expect(after.json<SignalsResponse>().signals.map((s) => s.symbol).sort()).toEqual(['AAPL', 'KO', 'MSFT']);
      expect(await metricValue(other.metrics, 'kestrel_signals_data_reloads_total', { result: 'ok' })).toBe(2);
    } finally {
      await other.close();
      tmp.cleanup();
    }
  });

  it('with an API token, the POST routes need it and GET routes do not', async () => {
    const other = await testApp(fx, { apiToken: 'test-token-0123456789' });
    try {
      const body = { as_of_date: LAST_DATE, symbols: ['AAPL', 'MSFT'], top_n: 1, bottom_n: 1 };
      const no = await other.app.inject({ method: 'POST', url: '/api/v1/signals/generate', payload: body });
      expect([no.statusCode, no.json<ErrBody>().error]).toEqual([401, 'unauthorized']);
      expect((await other.app.inject({ method: 'POST', url: '/api/v1/model/reload', headers: { authorization: 'Bearer wrong' } })).statusCode).toBe(401);
      const yes = await other.app.inject({ method: 'POST', url: '/api/v1/signals/generate', payload: body, headers: { authorization: 'Bearer test-token-0123456789' } });
      expect(yes.statusCode).toBe(200);
      expect((await other.app.inject({ method: 'GET', url: '/api/v1/model/info' })).statusCode).toBe(200);
      // Unknown fields and parameters are refused here too (issue #14): the route takes none.
      const auth = { authorization: 'Bearer test-token-0123456789' };
      const extra = await other.app.inject({ method: 'POST', url: '/api/v1/model/reload', payload: { force: true }, headers: auth });
      expect([extra.statusCode, extra.json<ErrBody>().error]).toEqual([400, 'validation_failed']);
      expect((await other.app.inject({ method: 'POST', url: '/api/v1/model/reload?force=1', headers: auth })).statusCode).toBe(400);
      expect((await other.app.inject({ method: 'GET', url: '/api/v1/model/info?verbose=1' })).statusCode).toBe(400);
    } finally {
      await other.close();
    }
  });
});
