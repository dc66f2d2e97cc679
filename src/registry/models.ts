import type { Clock } from '../core/clock.js';
import { InputError } from '../core/errors.js';
import type { Db, Queryable } from '../db/db.js';

/**
 * Model registry: versions per model name with a status (staged → production → archived),
 * metrics and the artifact path. Exactly one production version per name: promotion archives
 * the previous one in the same transaction, and a partial unique index backs it up.
 */
export type ModelStatus = 'staged' | 'production' | 'archived';

export interface ModelVersion {
  name: string;
  version: number;
  status: ModelStatus;
  run_id: string | null;
  artifact_path: string;
  metrics: Record<string, number | null>;
  description: string | null;
  /** What the model predicts (`return`, `abs_return`); null for versions registered before it was recorded. */
  label_kind: string | null;
  created_at: string;
  updated_at: string;
}

const COLS = 'name, version, status, run_id, artifact_path, metrics, description, label_kind, created_at, updated_at';
const LABEL_KIND_RE = /^[a-z][a-z0-9_]{0,31}$/;
const NAME_RE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

export class ModelRegistry {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  static checkName(name: string): string {
    if (!NAME_RE.test(name)) throw new InputError(`model name ${JSON.stringify(name)}: use 1-64 of a-z 0-9 _ . - (starting with a letter or digit)`);
    return name;
  }

  /** Adds the next version of `name` as staged. */
  async register(opts: { name: string; runId?: string; artifactPath: string; metrics?: Record<string, number | null>; description?: string; labelKind?: string; actor?: string }): Promise<ModelVersion> {
    const name = ModelRegistry.checkName(opts.name);
    if (opts.labelKind !== undefined && !LABEL_KIND_RE.test(opts.labelKind)) throw new InputError(`label kind ${JSON.stringify(opts.labelKind)}: use 1-32 of a-z 0-9 _ (starting with a letter), e.g. return`);
    const now = this.clock.now().toISOString();
    return this.db.transaction(async (tx) => {
      // Serialise version numbering per name across processes.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`model:${name}`]);
      const r = await tx.query<ModelVersion>(
        `INSERT INTO model_versions (name, version, status, run_id, artifact_path, metrics, description, label_kind, created_at, updated_at)
         SELECT $1, COALESCE(max(version), 0) + 1, 'staged', $2, $3, $4, $5, $7, $6, $6 FROM model_versions WHERE name = $1
         RETURNING ${COLS}`,
        [name, opts.runId ?? null, opts.artifactPath, JSON.stringify(opts.metrics ?? {}), opts.description ?? null, now, opts.labelKind ?? null],
      );
      const v = r.rows[0]!;
      await audit(tx, name, v.version, null, 'staged', opts.actor ?? 'kestrel', 'registered', now);
      return v;
    });
  }

  async list(name?: string): Promise<ModelVersion[]> {
    const r = await this.db.query<ModelVersion>(`SELECT ${COLS} FROM model_versions WHERE ($1::text IS NULL OR name = $1) ORDER BY name, version DESC`, [name ?? null]);
    return r.rows;
  }

  async get(name: string, version: number): Promise<ModelVersion | null> {
    const r = await this.db.query<ModelVersion>(`SELECT ${COLS} FROM model_versions WHERE name = $1 AND version = $2`, [name, version]);
    return r.rows[0] ?? null;
  }

  async production(name: string): Promise<ModelVersion | null> {
    const r = await this.db.query<ModelVersion>(`SELECT ${COLS} FROM model_versions WHERE name = $1 AND status = 'production'`, [name]);
    return r.rows[0] ?? null;
  }

  async history(name: string): Promise<Array<{ version: number; from_status: string | null; to_status: string; actor: string; reason: string | null; at: string }>> {
    const r = await this.db.query<{ version: number; from_status: string | null; to_status: string; actor: string; reason: string | null; at: string }>(
      'SELECT version, from_status, to_status, actor, reason, at FROM model_events WHERE name = $1 ORDER BY id',
      [name],
    );
    return r.rows;
  }

  /** Makes `version` the production version; the previous one is archived, atomically. */
  async promote(name: string, version: number, actor = 'kestrel', reason?: string): Promise<{ promoted: ModelVersion; archived: ModelVersion | null }> {
    const now = this.clock.now().toISOString();
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`model:${name}`]);
      const target = (await tx.query<ModelVersion>(`SELECT ${COLS} FROM model_versions WHERE name = $1 AND version = $2 FOR UPDATE`, [name, version])).rows[0];
      if (!target) throw new InputError(`model ${name} has no version ${version}`, 'not_found');
      if (target.status === 'production') return { promoted: target, archived: null };
      if (target.status === 'archived') throw new InputError(`model ${name} v${version} is archived; register it again to reuse it`, 'invalid_transition');
      const old = await tx.query<ModelVersion>(
        `UPDATE model_versions SET status = 'archived', updated_at = $2 WHERE name = $1 AND status = 'production' RETURNING ${COLS}`,
        [name, now],
      );
      const archived = old.rows[0] ?? null;
      if (archived) await audit(tx, name, archived.version, 'production', 'archived', actor, `superseded by v${version}`, now);
      const p = await tx.query<ModelVersion>(`UPDATE model_versions SET status = 'production', updated_at = $3 WHERE name = $1 AND version = $2 RETURNING ${COLS}`, [name, version, now]);
      await audit(tx, name, version, target.status, 'production', actor, reason ?? null, now);
      return { promoted: p.rows[0]!, archived };
    });
  }

  /**
   * Archives a version. Archiving the production version leaves `name` with no production
   * model — signal services unload it at their next registry check and answer 503 — so it is
   * refused (InputError `production_archive`, naming the versions that could be promoted
   * instead) unless `force`.
   */
  async archive(name: string, version: number, actor = 'kestrel', reason?: string, opts: { force?: boolean } = {}): Promise<ModelVersion> {
    const now = this.clock.now().toISOString();
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`model:${name}`]);
      const cur = (await tx.query<ModelVersion>(`SELECT ${COLS} FROM model_versions WHERE name = $1 AND version = $2 FOR UPDATE`, [name, version])).rows[0];
      if (!cur) throw new InputError(`model ${name} has no version ${version}`, 'not_found');
      if (cur.status === 'archived') return cur;
      if (cur.status === 'production' && !opts.force) {
        const staged = (await tx.query<{ version: number }>(`SELECT version FROM model_versions WHERE name = $1 AND status = 'staged' ORDER BY version DESC LIMIT 5`, [name])).rows.map((r) => `v${r.version}`);
        const instead = staged.length > 0 ? `promote another version first (staged: ${staged.join(', ')}): \`kestrel models promote ${name} <version>\` archives v${version} for you` : `train and promote a replacement first (\`kestrel train --promote always\`), which archives v${version} for you`;
        throw new InputError(
          `${name} v${version} is the production version: archiving it leaves ${name} with no production model (signal services keep serving v${version} only until their next registry check, then answer 503 no_model and orchestration runs fail); ${instead}, or pass --force`,
          'production_archive',
        );
      }
      const r = await tx.query<ModelVersion>(`UPDATE model_versions SET status = 'archived', updated_at = $3 WHERE name = $1 AND version = $2 RETURNING ${COLS}`, [name, version, now]);
      await audit(tx, name, version, cur.status, 'archived', actor, reason ?? null, now);
      return r.rows[0]!;
    });
  }
}

async function audit(tx: Queryable, name: string, version: number, from: string | null, to: string, actor: string, reason: string | null, at: string): Promise<void> {
  await tx.query('INSERT INTO model_events (name, version, from_status, to_status, actor, reason, at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [name, version, from, to, actor, reason, at]);
}
