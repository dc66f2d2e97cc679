import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../core/clock.js';
import type { Db } from '../db/db.js';
import { loadMigrations, migrate } from '../db/migrate.js';
import { openPglite } from '../db/pglite.js';
import { openPostgres } from '../db/postgres.js';
import { createTestSchema } from '../db/test-helpers.js';
import { tempDir } from '../data/test-helpers.js';
import { ModelRegistry } from './models.js';
import { ExperimentTracker } from './tracking.js';

// The research tables and the label column added to them.
const research = loadMigrations().filter((m) => m.version === 2 || m.name === 'model_label');

function suite(name: string, open: () => Promise<{ db: Db; done: () => Promise<void> }>) {
  describe(name, () => {
    let db: Db;
    let done: () => Promise<void>;
    const clock = fixedClock('2026-01-05T21:00:00Z');
    const tmp = tempDir('kestrel-reg-');
    beforeAll(async () => {
      ({ db, done } = await open());
      await migrate(db, research);
    });
    afterAll(async () => {
      await db.close();
      await done();
      tmp.cleanup();
    });

    it('tracks a run: params, per-iteration metrics, artifacts, code version, MLflow layout', async () => {
      const tracker = new ExperimentTracker(db, join(tmp.dir, 'mlruns'), clock);
      const run = await tracker.startRun({ experiment: 'alpha158', name: 'gbdt', params: { learning_rate: 0.2, num_leaves: 210 }, codeVersion: 'git:abc123' });
      for (let i = 0; i < 3; i++) run.logMetric('valid_l2', 1 - i / 10, i);
      run.logArtifact('model.json', { format: 'test' });
      await run.finish({ valid_mse: 0.7, test_ic: 0.05 });
      const rec = (await tracker.getRun(run.id))!;
      expect(rec).toMatchObject({ status: 'finished', experiment: 'alpha158', params: { learning_rate: 0.2, num_leaves: 210 }, metrics: { valid_mse: 0.7, test_ic: 0.05 }, code_version: 'git:abc123' });
      expect(rec.ended_at).toBe('2026-01-05T21:00:00.000Z');
      expect(await tracker.metricHistory(run.id, 'valid_l2')).toEqual([
        { step: 0, value: 1 },
        { step: 1, value: 0.9 },
        { step: 2, value: 0.8 },
      ]);
      // MLflow file store: meta.yaml, params/, metrics/ (ts value step), artifacts/.
      const runDir = join(tmp.dir, 'mlruns', String(rec.experiment_id), run.id);
      expect(readFileSync(join(runDir, 'meta.yaml'), 'utf8')).toMatch(/status: 3/);
      expect(readFileSync(join(runDir, 'params', 'learning_rate'), 'utf8')).toBe('0.2');
      expect(readFileSync(join(runDir, 'metrics', 'valid_l2'), 'utf8').trim().split('\n').map((l) => l.split(' ').slice(1).join(' '))).toEqual(['1 0', '0.9 1', '0.8 2']);
      expect(existsSync(join(runDir, 'artifacts', 'model.json'))).toBe(true);
      expect(readdirSync(join(tmp.dir, 'mlruns', String(rec.experiment_id)))).toContain('meta.yaml');
    });

    it('records a failed run with its error', async () => {
      const tracker = new ExperimentTracker(db, join(tmp.dir, 'mlruns'), clock);
      const run = await tracker.startRun({ experiment: 'alpha158', name: 'broken', params: {}, codeVersion: 'git:abc123' });
      await run.fail(new Error('no training rows'));
      expect(await tracker.getRun(run.id)).toMatchObject({ status: 'failed', error: 'no training rows' });
    });

    it('registry: versions, one production at a time, audited promotion', async () => {
      const reg = new ModelRegistry(db, clock);
      const v1 = await reg.register({ name: 'alpha158-gbdt', artifactPath: '/a/1', metrics: { test_ic: 0.01 } });
      const v2 = await reg.register({ name: 'alpha158-gbdt', artifactPath: '/a/2' });
      expect([v1.version, v1.status, v2.version]).toEqual([1, 'staged', 2]);
      await reg.promote('alpha158-gbdt', 1, 'alice', 'first');
      const { promoted, archived } = await reg.promote('alpha158-gbdt', 2, 'bob', 'better IC');
      expect(promoted.status).toBe('production');
      expect(archived?.version).toBe(1);
      expect((await reg.production('alpha158-gbdt'))?.version).toBe(2);
      await expect(reg.promote('alpha158-gbdt', 1)).rejects.toThrow(/archived/);
      await expect(reg.promote('alpha158-gbdt', 9)).rejects.toThrow(/no version 9/);
      const h = await reg.history('alpha158-gbdt');
      expect(h.map((e) => `${e.version}:${e.from_status ?? '-'}>${e.to_status}:${e.actor}`)).toEqual([
        '1:->staged:kestrel',
        '2:->staged:kestrel',
        '1:staged>production:alice',
        '1:production>archived:bob',
        '2:staged>production:bob',
      ]);
      expect(h.every((e) => e.at.endsWith('Z'))).toBe(true);
    });

    it('concurrent promotions leave exactly one production version', async () => {
      const reg = new ModelRegistry(db, clock);
      const vs = await Promise.all([1, 2, 3, 4].map(() => reg.register({ name: 'race', artifactPath: '/r' })));
      await Promise.all(vs.map((v) => reg.promote('race', v.version)));
      const prod = (await reg.list('race')).filter((v) => v.status === 'production');
      expect(prod).toHaveLength(1);
      // The database refuses a second production row even if code forgot to archive.
      await expect(db.query(`UPDATE model_versions SET status = 'production' WHERE name = 'race' AND status = 'archived'`)).rejects.toThrow();
    });

    it('records the label kind with a version; versions registered without one read null', async () => {
      const reg = new ModelRegistry(db, clock);
      const vol = await reg.register({ name: 'labels', artifactPath: '/l/1', labelKind: 'abs_return' });
      const old = await reg.register({ name: 'labels', artifactPath: '/l/2' });
      expect([vol.label_kind, old.label_kind]).toEqual(['abs_return', null]);
      expect((await reg.get('labels', 1))?.label_kind).toBe('abs_return');
      await expect(reg.register({ name: 'labels', artifactPath: '/l/3', labelKind: 'Return; DROP' })).rejects.toThrow(/label kind/);
    });

    it('refuses to archive the production version unless forced, naming what could replace it', async () => {
      const reg = new ModelRegistry(db, clock);
      await reg.register({ name: 'arch', artifactPath: '/x/1' });
      await reg.register({ name: 'arch', artifactPath: '/x/2' });
      await reg.promote('arch', 1);
      const err = (await reg.archive('arch', 1, 'carol').then(
        () => null,
        (e: unknown) => e,
      )) as Error & { code: string };
      expect(err).toBeInstanceOf(Error);
      expect(err.code).toBe('production_archive');
      expect(err.message).toMatch(/arch v1 is the production version: archiving it leaves arch with no production model/);
      expect(err.message).toMatch(/503 no_model/);
      expect(err.message).toMatch(/staged: v2/);
      expect(err.message).toMatch(/--force/);
      expect((await reg.production('arch'))?.version).toBe(1);
      // A staged version archives without --force; then nothing is left to promote.
      expect((await reg.archive('arch', 2, 'carol')).status).toBe('archived');
      await expect(reg.archive('arch', 1, 'carol')).rejects.toThrow(/train and promote a replacement first/);
      // Forced: archived, audited, and there is no production version any more.
      expect((await reg.archive('arch', 1, 'carol', 'withdrawn', { force: true })).status).toBe('archived');
      expect(await reg.production('arch')).toBeNull();
      expect((await reg.history('arch')).at(-1)).toMatchObject({ version: 1, from_status: 'production', to_status: 'archived', actor: 'carol', reason: 'withdrawn' });
    });

    it('rejects bad model names', async () => {
      const reg = new ModelRegistry(db, clock);
      await expect(reg.register({ name: 'Bad Name!', artifactPath: '/x' })).rejects.toThrow(/model name/);
    });
  });
}

suite('registry on PGlite', async () => ({ db: await openPglite(null), done: async () => {} }));
suite('registry on PostgreSQL', async () => {
  const s = await createTestSchema();
  return { db: openPostgres({ url: s.url }), done: s.drop };
});
