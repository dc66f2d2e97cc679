import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../core/clock.js';
import { tempDir } from '../../data/test-helpers.js';
import { openDb } from '../../db/open.js';
import { ModelRegistry } from '../../registry/models.js';
import { main } from '../main.js';

/** `kestrel models promote|archive` on an embedded registry: the gate, --force, the production archive. */
const tmp = tempDir('kestrel-models-cli-');
const PASSING = { valid_mse: 0.9951, valid_mse_zero: 0.9979, valid_ic: 0.021, valid_rank_ic: 0.018, valid_tie_share: 0.3 };
const TIED = { ...PASSING, valid_tie_share: 0.96 };

async function run(...argv: string[]) {
  const chunks = { out: '', err: '' };
  const sink = (k: 'out' | 'err') =>
    new Writable({
      write(c, _e, cb) {
        chunks[k] += String(c);
        cb();
      },
    });
  const code = await main(argv, { stdout: sink('out'), stderr: sink('err') });
  return { code, ...chunks };
}

describe('kestrel models', () => {
  const saved = { var: process.env.KESTREL_VAR_DIR, url: process.env.DATABASE_URL };
  beforeAll(async () => {
    process.env.KESTREL_VAR_DIR = tmp.dir;
    delete process.env.DATABASE_URL;
    const db = await openDb({ varDir: tmp.dir });
    try {
      const reg = new ModelRegistry(db, fixedClock('2026-01-05T21:00:00Z'));
      await reg.register({ name: 'm', artifactPath: '/a/1', metrics: PASSING, labelKind: 'return' });
      await reg.register({ name: 'm', artifactPath: '/a/2', metrics: TIED, labelKind: 'return' });
      await reg.register({ name: 'm', artifactPath: '/a/3', metrics: PASSING, labelKind: 'abs_return' });
    } finally {
      await db.close();
    }
  });
  afterAll(() => {
    if (saved.var === undefined) delete process.env.KESTREL_VAR_DIR;
    else process.env.KESTREL_VAR_DIR = saved.var;
    if (saved.url !== undefined) process.env.DATABASE_URL = saved.url;
    tmp.cleanup();
  });

  it('promote checks the gate from the stored metrics; --force overrides it and says so', async () => {
    const refused = await run('models', 'promote', 'm', '2');
    expect(refused.code).toBe(2);
    expect(refused.err).toBe('kestrel: m v2 fails the promotion gate (96.0% of valid scores tied > 90.0%): not promoted; pass --force to promote it anyway\n');
    const ok = await run('models', 'promote', 'm', '1');
    expect([ok.code, ok.out]).toEqual([0, 'm v1 is production; signal services load it at their next registry check (or POST /api/v1/model/reload)\n']);
    const forced = await run('models', 'promote', 'm', '2', '--force', '--json');
    expect(forced.code).toBe(0);
    const body = JSON.parse(forced.out) as { promoted: { version: number; status: string }; archived: { version: number }; gate: { passed: boolean } };
    expect([body.promoted.version, body.promoted.status, body.archived.version, body.gate.passed]).toEqual([2, 'production', 1, false]);
    const shown = await run('models', 'show', 'm', '2', '--json');
    const history = (JSON.parse(shown.out) as { history: Array<{ to_status: string; reason: string }> }).history;
    expect(history.at(-1)).toMatchObject({ to_status: 'production', reason: 'forced past the gate (96.0% of valid scores tied > 90.0%)' });
  });

  it('promoting a model that does not predict returns warns that trading will refuse it', async () => {
    const r = await run('models', 'promote', 'm', '3');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^kestrel: warning: m v3 predicts abs_return, not returns: the long\/short orchestrator and kestrel paper-run refuse it/);
  });

  it('archive refuses the production version without --force, and warns with it', async () => {
    const refused = await run('models', 'archive', 'm', '3');
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/^kestrel: m v3 is the production version: archiving it leaves m with no production model \(signal services keep serving v3 only until their next registry check, then answer 503 no_model/);
    expect(refused.err.trim().split('\n')).toHaveLength(1);
    const forced = await run('models', 'archive', 'm', '3', '--force', '--reason', 'drill');
    expect([forced.code, forced.out]).toEqual([0, 'm v3 archived\n']);
    expect(forced.err).toBe('kestrel: warning: m has no production version now: signal services unload v3 at their next registry check and answer 503 no_model until one is promoted (kestrel models promote m <version>)\n');
    const list = JSON.parse((await run('models', 'list', 'm', '--json')).out) as Array<{ status: string }>;
    expect(list.filter((v) => v.status === 'production')).toEqual([]);
  });

  it('bad versions are bad usage', async () => {
    for (const v of ['0', 'x', '99999999999999999999']) {
      const r = await run('models', 'archive', 'm', v);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/version must be a whole number from 1 to 2147483647/);
    }
  });
});
