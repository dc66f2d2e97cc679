import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../core/clock.js';
import type { Db } from '../db/db.js';
import { MlflowFiles } from './mlflow-files.js';

/**
 * Experiment tracking: every training run records its params, metrics (final and per
 * iteration), artifacts and code version in Postgres, with the artifacts under
 * `<varDir>/mlruns/<experiment>/<run>/artifacts` in MLflow's file-store layout.
 */
export type ParamValue = string | number | boolean | null;

export interface RunRecord {
  id: string;
  experiment: string;
  experiment_id: number;
  name: string;
  status: 'running' | 'finished' | 'failed';
  params: Record<string, ParamValue>;
  metrics: Record<string, number | null>;
  tags: Record<string, string>;
  code_version: string;
  artifact_dir: string;
  error: string | null;
  started_at: string;
  ended_at: string | null;
}

export class ExperimentTracker {
  private readonly files: MlflowFiles;

  constructor(
    private readonly db: Db,
    readonly root: string,
    private readonly clock: Clock,
  ) {
    this.files = new MlflowFiles(root);
  }

  async startRun(opts: { experiment: string; name: string; params: Record<string, ParamValue>; codeVersion: string; tags?: Record<string, string> }): Promise<Run> {
    const exp = await this.db.query<{ id: number; created_at: string }>(
      `INSERT INTO experiments (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id, created_at`,
      [opts.experiment],
    );
    const experimentId = exp.rows[0]!.id;
    this.files.writeExperiment(experimentId, opts.experiment, Date.parse(exp.rows[0]!.created_at));
    const id = randomUUID().replace(/-/g, '');
    const started = this.clock.now();
    const artifactDir = this.files.artifactsDir(experimentId, id);
    const tags = { ...(opts.tags ?? {}), 'mlflow.source.git.commit': opts.codeVersion, 'kestrel.code_version': opts.codeVersion };
    await this.db.query(
      `INSERT INTO runs (id, experiment_id, name, status, params, tags, code_version, artifact_dir, started_at) VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $8)`,
      [id, experimentId, opts.name, JSON.stringify(opts.params), JSON.stringify(tags), opts.codeVersion, artifactDir, started.toISOString()],
    );
    this.files.writeRunMeta(experimentId, id, opts.name, 'running', started.getTime(), null);
    for (const [k, v] of Object.entries(opts.params)) this.files.writeParam(experimentId, id, k, String(v));
    for (const [k, v] of Object.entries(tags)) this.files.writeTag(experimentId, id, k, v);
    mkdirSync(artifactDir, { recursive: true });
    return new Run(this.db, this.files, this.clock, id, experimentId, opts.name, started, artifactDir);
  }

  async getRun(id: string): Promise<RunRecord | null> {
    const r = await this.db.query<RunRecord>(
      `SELECT r.id, e.name AS experiment, r.experiment_id, r.name, r.status, r.params, r.metrics, r.tags, r.code_version, r.artifact_dir, r.error, r.started_at, r.ended_at
         FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE r.id = $1`,
      [id],
    );
    return r.rows[0] ?? null;
  }

  async metricHistory(runId: string, key: string): Promise<Array<{ step: number; value: number | null }>> {
    const r = await this.db.query<{ step: number; value: number | null }>('SELECT step, value FROM run_metrics WHERE run_id = $1 AND key = $2 ORDER BY step', [runId, key]);
    return r.rows;
  }

  async listRuns(experiment?: string, limit = 20): Promise<RunRecord[]> {
    const r = await this.db.query<RunRecord>(
      `SELECT r.id, e.name AS experiment, r.experiment_id, r.name, r.status, r.params, r.metrics, r.tags, r.code_version, r.artifact_dir, r.error, r.started_at, r.ended_at
         FROM runs r JOIN experiments e ON e.id = r.experiment_id
        WHERE ($1::text IS NULL OR e.name = $1) ORDER BY r.started_at DESC LIMIT $2`,
      [experiment ?? null, limit],
    );
    return r.rows;
  }
}

export class Run {
  private readonly pending: Array<[string, number, number]> = [];

  constructor(
    private readonly db: Db,
    private readonly files: MlflowFiles,
    private readonly clock: Clock,
    readonly id: string,
    readonly experimentId: number,
    readonly name: string,
    private readonly started: Date,
    readonly artifactDir: string,
  ) {}

  /** Buffered: per-iteration metrics reach Postgres in one batch at flush() / finish(). */
  logMetric(key: string, value: number, step: number): void {
    this.pending.push([key, value, step]);
    this.files.appendMetric(this.experimentId, this.id, key, value, step, this.clock.now().getTime());
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending.splice(0);
    // One multi-row upsert per batch: unnest keeps it a single round trip.
    await this.db.query(
      `INSERT INTO run_metrics (run_id, key, step, value)
       SELECT $1, k, s, v FROM unnest($2::text[], $3::int[], $4::float8[]) AS t(k, s, v)
       ON CONFLICT (run_id, key, step) DO UPDATE SET value = EXCLUDED.value`,
      [this.id, batch.map((b) => b[0]), batch.map((b) => b[2]), batch.map((b) => (Number.isFinite(b[1]) ? b[1] : null))],
    );
  }

  /** Writes an artifact file (JSON for objects) into the run's artifact directory. */
  logArtifact(name: string, content: string | Uint8Array | object): string {
    const path = join(this.artifactDir, name);
    writeFileSync(path, typeof content === 'string' || content instanceof Uint8Array ? content : JSON.stringify(content, null, 2) + '\n');
    return path;
  }

  async finish(metrics: Record<string, number | null>): Promise<void> {
    await this.flush();
    const ended = this.clock.now();
    await this.db.query(`UPDATE runs SET status = 'finished', metrics = $2, ended_at = $3 WHERE id = $1`, [this.id, JSON.stringify(metrics), ended.toISOString()]);
    for (const [k, v] of Object.entries(metrics)) if (v !== null) this.files.appendMetric(this.experimentId, this.id, k, v, 0, ended.getTime());
    this.files.writeRunMeta(this.experimentId, this.id, this.name, 'finished', this.started.getTime(), ended.getTime());
  }

  async fail(error: unknown): Promise<void> {
    await this.flush().catch(() => {});
    const ended = this.clock.now();
    await this.db.query(`UPDATE runs SET status = 'failed', error = $2, ended_at = $3 WHERE id = $1`, [this.id, error instanceof Error ? error.message : String(error), ended.toISOString()]);
    this.files.writeRunMeta(this.experimentId, this.id, this.name, 'failed', this.started.getTime(), ended.getTime());
  }
}
