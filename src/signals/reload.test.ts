import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend, MemoryBus } from '../bus/index.js';
import { silentLogger } from '../core/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { LAST_DATE, metricValue, MODEL, signalsFixture, sleep, testApp, type SignalsFixture, type TestApp } from './test-helpers.js';
import type { Signal, SignalsResponse } from './types.js';

const REQ = { as_of_date: LAST_DATE, top_n: 5, bottom_n: 5 };

interface Outcome {
  status: number;
  version: number | null;
  signals: Signal[] | null;
  error?: string;
}

/** N concurrent request loops until stop(); every outcome is kept in completion order. */
function loadLoop(t: TestApp, workers = 4) {
  const results: Outcome[] = [];
  let stopped = false;
  const one = async () => {
    while (!stopped) {
      const r = await t.app.inject({ method: 'POST', url: '/api/v1/signals/generate', payload: REQ });
      if (r.statusCode === 200) {
        const b = r.json<SignalsResponse>();
        results.push({ status: 200, version: b.model.version, signals: b.signals });
      } else results.push({ status: r.statusCode, version: null, signals: null, error: r.body });
    }
  };
  const running = Array.from({ length: workers }, one);
  return {
    results,
    async until(cond: (rs: Outcome[]) => boolean, what: string, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!cond(results)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${results.length} requests, versions ${[...new Set(results.map((r) => r.version))].join(',')})`);
        await sleep(5);
      }
    },
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}

/** Every response is exactly one model's answer, never a mix; completions switch once (bar in-flight stragglers). */
function checkSwitch(results: Outcome[], from: number, to: number, expected: Map<number, Signal[]>, workers: number): void {
  expect(results.filter((r) => r.status !== 200)).toEqual([]);
  for (const r of results) expect(r.signals, `v${r.version}`).toEqual(expected.get(r.version!));
  const firstNew = results.findIndex((r) => r.version === to);
  expect(firstNew).toBeGreaterThan(0);
  expect(results[0]!.version).toBe(from);
  // a request that captured the old model before the swap may complete after the first new answer
  const stragglers = results.slice(firstNew).filter((r) => r.version === from).length;
  expect(stragglers).toBeLessThan(workers);
  expect(results.slice(-workers).every((r) => r.version === to)).toBe(true);
}

describe('model hot reload under load', () => {
  let fx: SignalsFixture;
  const paths: string[] = [];
  const expected = new Map<number, Signal[]>();

  beforeAll(async () => {
    fx = await signalsFixture();
    for (const [rounds, seed] of [[3, 1], [6, 2], [5, 3]] as const) paths.push(await fx.trainModel(rounds, seed));
    await fx.promote(paths[0]!);
  });
  afterAll(async () => {
    await fx?.cleanup();
  });

  it('by polling: a promotion is picked up while 4 request loops run; zero failures, v1 → v2', async () => {
    const t = await testApp(fx, { pollMs: 40 });
    try {
      expected.set(1, (await t.app.signals.generate(REQ)).signals);
      const loop = loadLoop(t);
      await loop.until((rs) => rs.length >= 20, '20 answers on v1');
      const v2 = await fx.promote(paths[1]!);
      expect(v2.version).toBe(2);
      await loop.until((rs) => rs.filter((r) => r.version === 2).length >= 20, '20 answers on v2');
      await loop.stop();
      expected.set(2, (await t.app.signals.generate(REQ)).signals);
      expect(expected.get(2)).not.toEqual(expected.get(1));
      checkSwitch(loop.results, 1, 2, expected, 4);
      expect(await metricValue(t.metrics, 'kestrel_signals_model_reloads_total', { result: 'ok' })).toBe(2); // start + the poll
      expect(await metricValue(t.metrics, 'kestrel_signals_model_version', { name: MODEL })).toBe(2);
    } finally {
      await t.close();
    }
  });

  it('by POST /api/v1/model/reload (no polling): v2 → v3 with zero failures; peers follow through model.reloaded', async () => {
    const backend = new MemoryBackend();
    const metrics = createMetrics('signals-test', { defaultMetrics: false });
    const peerMetrics = createMetrics('signals-peer', { defaultMetrics: false });
    const bus = new MemoryBus({ logger: silentLogger(), backend, metrics });
    const peerBus = new MemoryBus({ logger: silentLogger(), backend, metrics: peerMetrics });
    const t = await testApp(fx, { pollMs: 0, bus, metrics });
    const peer = await testApp(fx, { pollMs: 0, bus: peerBus, metrics: peerMetrics });
    try {
      const loop = loadLoop(t);
      await loop.until((rs) => rs.length >= 20, '20 answers on v2');
      const v3 = await fx.promote(paths[2]!);
      expect(v3.version).toBe(3);
      const n = loop.results.length;
      await loop.until((rs) => rs.length >= n + 20, '20 more answers');
      expect(loop.results.every((r) => r.version === 2)).toBe(true); // nothing polls
      const r = await t.app.inject({ method: 'POST', url: '/api/v1/model/reload' });
      expect(r.statusCode).toBe(200);
      expect(r.json()).toEqual({ changed: true, previous: { name: MODEL, version: 2 }, current: { name: MODEL, version: 3 } });
      await loop.until((rs) => rs.filter((x) => x.version === 3).length >= 20, '20 answers on v3');
      await loop.stop();
      expected.set(3, (await t.app.signals.generate(REQ)).signals);
      checkSwitch(loop.results, 2, 3, expected, 4);
      // the other replica heard model.reloaded and checked the registry itself
      const deadline = Date.now() + 5000;
      while (peer.app.signals.model()?.version !== 3 && Date.now() < deadline) await sleep(10);
      expect(peer.app.signals.model()?.version).toBe(3);
      // a reload with nothing new is a no-op
      const again = await t.app.inject({ method: 'POST', url: '/api/v1/model/reload' });
      expect(again.json()).toEqual({ changed: false, previous: { name: MODEL, version: 3 }, current: { name: MODEL, version: 3 } });
    } finally {
      await peer.close();
      await t.close();
      await Promise.all([bus.close(), peerBus.close()]);
    }
  });

  it('a request in flight during a swap finishes on the model it started with', async () => {
    class GatedBus extends MemoryBus {
      gate: Promise<void> | null = null;
      entered = 0;
      override async mgetBuffer(keys: readonly string[]): Promise<Array<Buffer | null>> {
        this.entered++;
        if (this.gate) await this.gate;
        return super.mgetBuffer(keys);
      }
    }
    const bus = new GatedBus({ logger: silentLogger(), backend: new MemoryBackend() });
    const t = await testApp(fx, { pollMs: 0, bus });
    try {
      const before = t.app.signals.model()!;
      let release!: () => void;
      bus.gate = new Promise<void>((r) => (release = r));
      const inFlight = t.app.signals.generate(REQ);
      while (bus.entered === 0) await sleep(1); // the request holds its model and waits on the cache
      await fx.promote(paths[before.version === 1 ? 1 : 0]!);
      const r = await t.app.signals.reload('test');
      expect(r.changed).toBe(true);
      expect(t.app.signals.model()!.version).not.toBe(before.version);
      release();
      bus.gate = null;
      const old = await inFlight;
      expect(old.model.version).toBe(before.version);
      expect(old.signals).toEqual(expected.get(before.version));
      const next = await t.app.signals.generate(REQ);
      expect(next.model.version).toBe(r.current!.version);
    } finally {
      await t.close();
      await bus.close();
    }
  });

  it('a version that cannot be loaded keeps the current model: 500 with the reason, counted, answers continue; unusable features too', async () => {
    const t = await testApp(fx, { pollMs: 30 });
    try {
      const cur = t.app.signals.model()!.version;
      const broken = await fx.promote(join(fx.varDir, 'models', 'does-not-exist.json'));
      const loop = loadLoop(t, 2);
      await sleep(200); // several polls: the broken version is tried once, not on every poll
      const r = await t.app.inject({ method: 'POST', url: '/api/v1/model/reload' });
      expect(r.statusCode).toBe(500);
      expect(r.json()).toMatchObject({ error: 'reload_failed', message: expect.stringMatching(new RegExp(`cannot load ${MODEL} v${broken.version} .*does-not-exist\\.json.*v${cur} stays in service`)) });
      await loop.until((rs) => rs.length >= 10, '10 answers');
      await loop.stop();
      expect(loop.results.every((x) => x.status === 200 && x.version === cur)).toBe(true);
      expect(await metricValue(t.metrics, 'kestrel_signals_model_reloads_total', { result: 'failed' })).toBe(2); // first poll + the explicit reload
      const info = (await t.app.inject({ method: 'GET', url: '/api/v1/model/info' })).json<{ version: number; registry: { production_version: number; last_check: { ok: boolean } } }>();
      expect(info).toMatchObject({ version: cur, registry: { production_version: broken.version, last_check: { ok: false } } });
      const h = (await t.app.inject({ method: 'GET', url: '/health' })).json<{ status: string; checks: { model: { status: string; detail: string } } }>();
      expect(h.checks.model.status).toBe('up');
      expect(h.checks.model.detail).toMatch(/last check failed: cannot load/);

      // a model over features the service does not compute is refused the same way
      const { writeFileSync, readFileSync } = await import('node:fs');
      const json = JSON.parse(readFileSync(paths[0]!, 'utf8')) as { featureNames: string[] };
      json.featureNames[0] = 'MY_OWN_FEATURE';
      const odd = join(fx.varDir, 'models', 'odd-features.json');
      writeFileSync(odd, JSON.stringify(json));
      await fx.promote(odd);
      const r2 = await t.app.inject({ method: 'POST', url: '/api/v1/model/reload' });
      expect(r2.statusCode).toBe(500);
      expect(r2.json<{ message: string }>().message).toMatch(/features the signal service does not compute: MY_OWN_FEATURE/);
      expect(t.app.signals.model()?.version).toBe(cur);

      // a good version after the broken ones is picked up by the poll
      const good = await fx.promote(paths[0]!);
      const deadline = Date.now() + 5000;
      while (t.app.signals.model()?.version !== good.version && Date.now() < deadline) await sleep(10);
      expect(t.app.signals.model()?.version).toBe(good.version);
    } finally {
      await t.close();
    }
  });

  it('when the registry has no production version any more, the model is unloaded: 503 no_model', async () => {
    const t = await testApp(fx, { pollMs: 0 });
    try {
      const cur = t.app.signals.model()!;
      await fx.registry.archive(MODEL, cur.version, 'test', 'withdrawn', { force: true });
      const r = await t.app.inject({ method: 'POST', url: '/api/v1/model/reload' });
      expect(r.json()).toEqual({ changed: true, previous: { name: MODEL, version: cur.version }, current: null });
      const g = await t.app.inject({ method: 'POST', url: '/api/v1/signals/generate', payload: REQ });
      expect([g.statusCode, g.json<{ error: string }>().error]).toEqual([503, 'no_model']);
      expect(await metricValue(t.metrics, 'kestrel_signals_model_version', { name: MODEL })).toBe(0);
    } finally {
      await t.close();
    }
  });
});
