import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { openPglite } from '../db/pglite.js';
import { parseRiskConfig } from './config.js';
import { runShockSimulation, SHOCK_LIMITS, SHOCK_SCENARIO, type ShockRun } from './simulation.js';

let db: Db;
let run: ShockRun;
beforeAll(async () => {
  db = await openPglite(null);
  await migrate(db);
  run = await runShockSimulation(SHOCK_SCENARIO, { db });
});
afterAll(async () => {
  await db.close();
});

describe('scripted price shock over three days', () => {
  it('the breaker trips at the first mark where the day loss crosses 5 %, within that day', () => {
    expect(run.crossedAt).toMatchObject({ date: '2025-03-04', step: 6 });
    expect(run.trippedAt).toEqual({ date: '2025-03-04', step: 6, equity: '94715.00', loss_pct: '5.6764' });
    // Every earlier step was below the threshold and OPEN; day 1 never came close.
    const before = run.steps.slice(0, run.steps.findIndex((s) => s.date === '2025-03-04' && s.step === 6));
    expect(before.every((s) => s.breaker_after === 'OPEN' && Number(s.loss_pct) < 5)).toBe(true);
  });

  it('before the trip risk-increasing orders are approved; after it none is, while reducing orders still are', () => {
    const i = run.steps.findIndex((s) => s.breaker_after === 'TRIPPED');
    const pre = run.steps.slice(0, i);
    const post = run.steps.slice(i);
    expect(pre.length).toBe(10);
    expect(pre.flatMap((s) => s.attempts).every((a) => a.ok)).toBe(true);
    expect(post.length).toBe(7); // the rest of the shock day and the whole next day (no automatic reset)
    for (const s of post) {
      expect(s.breaker_after).toBe('TRIPPED');
      expect(s.attempts.find((a) => a.kind === 'increase')).toMatchObject({ ok: false, code: 'breaker_tripped' });
      expect(s.attempts.find((a) => a.kind === 'reduce')).toMatchObject({ ok: true });
    }
    // 10 buys of 10 AAA before the trip; 17 sells of 5 BBB all along.
    expect(run.final.positions).toEqual({ AAA: '500', BBB: '15' });
  });

  it('the trip and every refusal are audited (who/why/when UTC)', async () => {
    const rows = (await db.query<{ kind: string; code: string; actor: string; reason: string; created_at: string }>('SELECT kind, code, actor, reason, created_at FROM risk_events ORDER BY id')).rows;
    expect(rows[0]).toEqual({ kind: 'breaker', code: 'daily_loss', actor: 'system', reason: 'equity 94715 is 5.676442% below start-of-day equity 100415 (limit 5%)', created_at: '2025-03-04T17:30:00.000Z' });
    expect(rows.slice(1).map((r) => r.code)).toEqual(Array(7).fill('breaker_tripped'));
  });

  it('a tighter limit trips earlier in the same path (the scenario is reusable)', async () => {
    const r = await runShockSimulation(SHOCK_SCENARIO, { config: parseRiskConfig({ ...SHOCK_LIMITS, breaker: { daily_loss_pct: 2, quiet_loss_pct: 1 } }) });
    expect(r.trippedAt).toMatchObject({ date: '2025-03-04', step: 3 });
  });
});
