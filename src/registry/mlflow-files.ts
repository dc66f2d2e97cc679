import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Mirrors runs into MLflow's file-store layout (`mlruns/<experiment>/<run>/…`) so that
 * `mlflow ui --backend-store-uri ./var/mlruns` can browse them. Postgres stays the record;
 * this is a read-only view for people who already use MLflow's UI.
 */
const STATUS = { running: 1, finished: 3, failed: 4 } as const;

const yaml = (o: Record<string, string | number>) =>
  Object.entries(o)
    .map(([k, v]) => `${k}: ${typeof v === 'number' ? v : `'${v.replace(/'/g, "''")}'`}`)
    .join('\n') + '\n';

export class MlflowFiles {
  constructor(private readonly root: string) {}

  experimentDir(experimentId: number): string {
    return join(this.root, String(experimentId));
  }

  runDir(experimentId: number, runId: string): string {
    return join(this.experimentDir(experimentId), runId);
  }

  writeExperiment(id: number, name: string, createdMs: number): void {
    const dir = this.experimentDir(id);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'meta.yaml'),
      yaml({ artifact_location: pathToFileURL(dir).href, creation_time: createdMs, experiment_id: String(id), last_update_time: createdMs, lifecycle_stage: 'active', name }),
    );
  }

  writeRunMeta(experimentId: number, runId: string, name: string, status: keyof typeof STATUS, startMs: number, endMs: number | null): void {
    const dir = this.runDir(experimentId, runId);
    for (const sub of ['params', 'metrics', 'tags', 'artifacts']) mkdirSync(join(dir, sub), { recursive: true });
    writeFileSync(
      join(dir, 'meta.yaml'),
      yaml({
        artifact_uri: pathToFileURL(join(dir, 'artifacts')).href,
        end_time: endMs ?? 0,
        entry_point_name: '',
        experiment_id: String(experimentId),
        lifecycle_stage: 'active',
        run_id: runId,
        run_name: name,
        run_uuid: runId,
        source_name: '',
        source_type: 4,
        source_version: '',
        start_time: startMs,
        status: STATUS[status],
        user_id: 'kestrel',
      }) + 'tags: []\n',
    );
  }

  writeParam(experimentId: number, runId: string, key: string, value: string): void {
    writeFileSync(join(this.runDir(experimentId, runId), 'params', safeKey(key)), value);
  }

  writeTag(experimentId: number, runId: string, key: string, value: string): void {
    writeFileSync(join(this.runDir(experimentId, runId), 'tags', safeKey(key)), value);
  }

  /** One line per point: `<timestamp ms> <value> <step>`, MLflow's metric file format. */
  appendMetric(experimentId: number, runId: string, key: string, value: number, step: number, atMs: number): void {
    appendFileSync(join(this.runDir(experimentId, runId), 'metrics', safeKey(key)), `${atMs} ${Number.isFinite(value) ? value : 'NaN'} ${step}\n`);
  }

  artifactsDir(experimentId: number, runId: string): string {
    return join(this.runDir(experimentId, runId), 'artifacts');
  }
}

const safeKey = (k: string) => k.replace(/[^A-Za-z0-9_.-]/g, '_');
