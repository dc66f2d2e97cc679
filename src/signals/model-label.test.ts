import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../core/logger.js';
import { GbdtModel } from '../ml/index.js';
import { labelOf } from './model-holder.js';
import { tiedCount } from './ranking.js';
import { LAST_DATE, MODEL, signalsFixture, testApp, type SignalsFixture, type TestApp } from './test-helpers.js';
import type { SignalsResponse } from './types.js';

/** What a served model predicts: from the registry, else the artifact, else `return` assumed (with a warning). */
describe('label kind of the served model', () => {
  let fx: SignalsFixture;
  let t: TestApp;
  let plain: string;
  const warnings: string[] = [];

  beforeAll(async () => {
    fx = await signalsFixture();
    plain = await fx.trainModel(3);
    await fx.promote(plain); // v1: registered with no label (as before labels were recorded)
    const logger = createLogger('signals-test', { level: 'warn', destination: { write: (line: string) => void warnings.push(line) } });
    t = await testApp(fx, { logger });
  });
  afterAll(async () => {
    await t?.close();
    await fx?.cleanup();
  });

  const info = async () => (await t.app.inject({ method: 'GET', url: '/api/v1/model/info' })).json<{ version: number; label: string; label_source: string }>();
  const generate = async () => (await t.app.inject({ method: 'POST', url: '/api/v1/signals/generate', payload: { as_of_date: LAST_DATE, top_n: 3, bottom_n: 3 } })).json<SignalsResponse>();
  const registerAndReload = async (path: string, labelKind?: string) => {
    const v = await fx.registry.register({ name: MODEL, artifactPath: path, labelKind });
    await fx.registry.promote(MODEL, v.version);
    const r = await t.app.inject({ method: 'POST', url: '/api/v1/model/reload' });
    return { v: v.version, status: r.statusCode, reload: r.json<{ changed?: boolean; error?: string; message?: string }>() };
  };

  it('a version that records no label is served as return, and says it assumed so (with a warning in the log)', async () => {
    expect(await info()).toMatchObject({ version: 1, label: 'return', label_source: 'assumed' });
    const g = await generate();
    expect(g.model).toEqual({ name: MODEL, version: 1, label: 'return' });
    expect(warnings.some((l) => /alpha158-gbdt v1 records no label kind .*treating it as a return model/.test(l))).toBe(true);
  });

  it('the registry says abs_return: model info and every answer carry it', async () => {
    const { v, reload } = await registerAndReload(plain, 'abs_return');
    expect(reload.changed).toBe(true);
    expect(await info()).toMatchObject({ version: v, label: 'abs_return', label_source: 'registry' });
    expect((await generate()).model).toEqual({ name: MODEL, version: v, label: 'abs_return' });
  });

  it('an artifact that carries its label is read from the file when the registry has none', async () => {
    const path = join(fx.varDir, 'models', 'labelled.json');
    const model = GbdtModel.fromJSON(readFileSync(plain, 'utf8')).withLabel({ kind: 'abs_return', expr: 'Abs(Ref($close, -2)/Ref($close, -1) - 1)' });
    writeFileSync(path, JSON.stringify(model));
    expect(GbdtModel.fromJSON(readFileSync(path, 'utf8')).label).toEqual({ kind: 'abs_return', expr: 'Abs(Ref($close, -2)/Ref($close, -1) - 1)' });
    const { v } = await registerAndReload(path);
    expect(await info()).toMatchObject({ version: v, label: 'abs_return', label_source: 'artifact' });
  });

  it('registry and artifact disagreeing: not loaded, the previous model keeps serving, the error names both', async () => {
    const before = (await info()).version;
    const { status, reload } = await registerAndReload(join(fx.varDir, 'models', 'labelled.json'), 'return');
    expect([status, reload.error]).toEqual([500, 'reload_failed']);
    expect(reload.message).toMatch(/the registry says label return, the artifact says abs_return; alpha158-gbdt v\d+ stays in service/);
    expect((await info()).version).toBe(before);
  });

  it('each answer reports how many symbols share a score', async () => {
    const g = await generate();
    expect(g.ties).toEqual({ symbols: tiedCount(g.signals.map((s) => s.predicted_return)), share: tiedCount(g.signals.map((s) => s.predicted_return)) / g.signals.length });
    // A 3-tree model of 7 leaves ties many of the ~40 names.
    expect(g.ties!.symbols).toBeGreaterThan(0);
  });

  it('labelOf: registry first, then artifact, then assumed', () => {
    expect(labelOf({ label_kind: 'return' }, {})).toEqual({ kind: 'return', source: 'registry' });
    expect(labelOf({ label_kind: null }, { label: { kind: 'abs_return' } })).toEqual({ kind: 'abs_return', source: 'artifact' });
    expect(labelOf({ label_kind: null }, {})).toEqual({ kind: 'return', source: 'assumed' });
    expect(() => labelOf({ label_kind: 'abs_return' }, { label: { kind: 'return' } })).toThrow(/registry says label abs_return, the artifact says return/);
  });
});
