import { afterEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { bearerGuard } from '../observability/auth.js';
import { createServiceApp } from '../observability/http-app.js';
import { CircuitBreaker } from './breaker.js';
import { parseRiskConfig } from './config.js';
import { nullRiskAudit } from './events.js';
import { StaticRiskStateProvider } from './provider.js';
import { riskRoutes } from './routes.js';
import { RiskService } from './service.js';
import { MemoryStateStore, type StateStore } from './state-store.js';
import { ctxOf, T0 } from './test-helpers.js';

/** The risk routes on a bare service app (no gateway): auth, strictness, store outages. */
const TOKEN = 'routes-test-token-0123456789';
const apps: Array<{ close(): Promise<unknown> }> = [];
afterEach(async () => {
  while (apps.length) await apps.pop()!.close();
});

async function appWith(store: StateStore, equity: string | null = '100000') {
  const clock = fixedClock(new Date(T0));
  const config = parseRiskConfig({ correlation: { enabled: false } });
  const breaker = new CircuitBreaker({ store, events: nullRiskAudit, clock, logger: silentLogger(), config: config.breaker });
  const provider = new StaticRiskStateProvider(() => ctxOf({ equity, startOfDayEquity: '104000' }));
  const service = new RiskService({ config, breaker, events: nullRiskAudit, provider, clock, logger: silentLogger() });
  const { app } = await createServiceApp({ name: 'gateway', version: 'test', logger: silentLogger() });
  await app.register(riskRoutes, { service, auth: bearerGuard(TOKEN) });
  await app.ready();
  apps.push(app);
  return app;
}
const auth = { authorization: `Bearer ${TOKEN}` };

describe('risk routes', () => {
  it('status reports the loss against its threshold; reset needs equity (503) and a tripped breaker (409)', async () => {
    const app = await appWith(new MemoryStateStore());
    const s = (await app.inject({ url: '/api/v1/risk/status' })).json();
    expect(s).toMatchObject({ as_of: new Date(T0).toISOString(), trade_date: '2025-03-04', breaker: { state: 'OPEN', version: 0, gate: 'OPEN' }, daily_loss: { basis: 'start_of_day', reference: '104000', equity: '100000', loss_pct: '3.846153', threshold_pct: 5, breached: false }, kill_switch: null });
    expect((await app.inject({ method: 'POST', url: '/api/v1/risk/breaker/reset', headers: auth, payload: { reason: 'x' } })).statusCode).toBe(409);

    const noEquity = await appWith(new MemoryStateStore(), null);
    await noEquity.inject({ method: 'POST', url: '/api/v1/risk/breaker/trip', headers: auth, payload: { reason: 'x' } });
    const r = await noEquity.inject({ method: 'POST', url: '/api/v1/risk/breaker/reset', headers: auth, payload: { reason: 'y' } });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ error: 'equity_unavailable' });
  });

  it('limits on the body: reason 1-500 characters, actor 1-100, nothing else', async () => {
    const app = await appWith(new MemoryStateStore());
    const post = (payload: object) => app.inject({ method: 'POST', url: '/api/v1/risk/breaker/trip', headers: auth, payload });
    expect((await post({ reason: '' })).statusCode).toBe(400);
    expect((await post({ reason: 'x'.repeat(501) })).statusCode).toBe(400);
    expect((await post({ reason: 'ok', actor: 'a'.repeat(101) })).statusCode).toBe(400);
    expect((await post({ reason: 'ok', actor: 'a'.repeat(100) })).json()).toMatchObject({ changed: true, breaker: { actor: 'a'.repeat(100) } });
  });

  it('an unreachable breaker store answers 503 breaker_unavailable (nothing changed, no 500)', async () => {
    const down: StateStore = { get: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')), compareAndSet: () => Promise.reject(new Error('down')) };
    const app = await appWith(down);
    for (const r of [await app.inject({ url: '/api/v1/risk/status' }), await app.inject({ method: 'POST', url: '/api/v1/risk/breaker/trip', headers: auth, payload: { reason: 'x' } })]) {
      expect(r.statusCode).toBe(503);
      expect(r.json()).toMatchObject({ error: 'breaker_unavailable', message: expect.stringContaining('ECONNREFUSED') });
    }
  });
});
