import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { FailureError } from '../core/errors.js';
import type { Duck } from './duck.js';
import { sqlString } from './duck.js';

/**
 * The Parquet store under the data directory. Files are immutable and content-addressed
 * (`part-<hash>.parquet`); `_manifest.json` names the files that make up the current
 * snapshot and is replaced by an atomic rename, so a crash mid-write never exposes half
 * a snapshot, an unchanged partition is never rewritten, and re-running the same input
 * changes nothing. Files the manifest does not name are garbage from an older snapshot
 * or an interrupted run and are removed after each commit.
 *
 *   data/_manifest.json
 *   data/raw/bars/year=YYYY/part-<hash>.parquet
 *   data/adjusted/bars/year=YYYY/part-<hash>.parquet
 *   data/quarantine/part-<hash>.parquet
 *   data/corporate_actions/part-<hash>.parquet
 *   data/features/alpha158/year=YYYY/part-<hash>.parquet   (kestrel features)
 */
export const MANIFEST = '_manifest.json';
export const MANIFEST_VERSION = 1;
export const TABLE_DIRS = {
  bars_raw: 'raw/bars',
  bars_adjusted: 'adjusted/bars',
  quarantine: 'quarantine',
  corporate_actions: 'corporate_actions',
  features: 'features/alpha158',
} as const;
export type StoreTable = keyof typeof TABLE_DIRS;

export interface Manifest {
  version: number;
  created_at: string;
  /** Relative paths (to the data dir) of each table's files. */
  tables: Record<string, string[]>;
  /** Free-form facts about the snapshot (e.g. row counts, source files). */
  meta?: Record<string, unknown>;
}

export function readManifest(dataDir: string): Manifest | null {
  const file = join(dataDir, MANIFEST);
  if (!existsSync(file)) return null;
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
    if (m.version !== MANIFEST_VERSION || typeof m.tables !== 'object') throw new Error(`unsupported manifest version ${m.version}`);
    return m;
  } catch (e) {
    throw new FailureError(`${file} is unreadable (${(e as Error).message}); re-run kestrel etl to rebuild it`, 'bad_manifest');
  }
}

/** Absolute paths of a table's files in the current snapshot (empty when there is none). */
export function tableFiles(dataDir: string, table: string, manifest = readManifest(dataDir)): string[] {
  return (manifest?.tables[table] ?? []).map((f) => join(dataDir, f));
}

/** Stable content hash for a partition, fed with the typed arrays that define it. */
export class PartitionHash {
  private h = createHash('sha256');
  add(x: string | ArrayBufferView): this {
    if (typeof x === 'string') this.h.update(x + '\0');
    else this.h.update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
    return this;
  }
  digest(): string {
    return this.h.digest('hex').slice(0, 20);
  }
}

/**
 * Collects the files of a new snapshot. `write` exports a query to a staging file unless a
 * file with the same content hash already exists; `commit` moves staged files into place and
 * swaps the manifest.
 */
export class SnapshotWriter {
  private readonly staging: string;
  private readonly staged: Array<{ from: string; to: string }> = [];
  private readonly tables: Record<string, string[]> = {};
  readonly written: string[] = [];
  readonly reused: string[] = [];

  constructor(
    private readonly dataDir: string,
    private readonly duck: Duck,
    private readonly now: () => Date,
  ) {
    this.staging = join(dataDir, '.staging', `${process.pid}-${Date.now()}`);
    removeAbandonedStaging(join(dataDir, '.staging'));
  }

  private rel(table: StoreTable, partition: string | null, hash: string): string {
    return join(TABLE_DIRS[table], partition ?? '', `part-${hash}.parquet`);
  }

  /** True when a file with this content already exists (writing it again would be a no-op). */
  has(table: StoreTable, partition: string | null, hash: string): boolean {
    return existsSync(join(this.dataDir, this.rel(table, partition, hash)));
  }

  /** Adds `<dir>/<partition>/part-<hash>.parquet` with the rows of `query`. */
  async write(table: StoreTable, partition: string | null, hash: string, query: string): Promise<void> {
    const rel = this.rel(table, partition, hash);
    (this.tables[table] ??= []).push(rel);
    if (existsSync(join(this.dataDir, rel))) {
      this.reused.push(rel);
      return;
    }
    const tmp = join(this.staging, rel);
    mkdirSync(dirname(tmp), { recursive: true });
    await this.duck.run(`COPY (${query}) TO ${sqlString(tmp)} (FORMAT parquet, COMPRESSION zstd)`);
    this.staged.push({ from: tmp, to: join(this.dataDir, rel) });
    this.written.push(rel);
  }

  /**
   * Writes several partitions with one partitioned COPY (one scan, all cores), then gives each
   * file its content-addressed name. `query` must select a column named after the partition
   * key (e.g. `year`); `parts` maps each key value to its content hash.
   */
  async writePartitioned(table: StoreTable, key: string, parts: Array<{ value: number | string; hash: string }>, query: string): Promise<void> {
    if (parts.length === 0) return;
    const batch = join(this.staging, `${TABLE_DIRS[table].replace(/\//g, '_')}-batch`);
    mkdirSync(this.staging, { recursive: true });
    await this.duck.run(`COPY (${query}) TO ${sqlString(batch)} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (${key}))`);
    for (const { value, hash } of parts) {
      const partition = `${key}=${value}`;
      const rel = this.rel(table, partition, hash);
      (this.tables[table] ??= []).push(rel);
      const produced = existsSync(join(batch, partition)) ? readdirSync(join(batch, partition)) : [];
      if (produced.length !== 1) throw new Error(`partitioned write of ${table} ${partition} produced ${produced.length} files`);
      const tmp = join(this.staging, rel);
      mkdirSync(dirname(tmp), { recursive: true });
      renameSync(join(batch, partition, produced[0]!), tmp);
      this.staged.push({ from: tmp, to: join(this.dataDir, rel) });
      this.written.push(rel);
    }
    rmSync(batch, { recursive: true, force: true });
  }

  /**
   * Declares that this snapshot defines `table`, even if it ends up with no file: the table
   * then replaces the previous snapshot's instead of carrying it over.
   */
  ensureTable(table: StoreTable): void {
    this.tables[table] ??= [];
  }

  /** Publishes the snapshot atomically, then removes files no snapshot refers to. */
  commit(meta: Record<string, unknown>): Manifest {
    for (const { from, to } of this.staged) {
      mkdirSync(dirname(to), { recursive: true });
      renameSync(from, to);
    }
    const previous = readManifest(this.dataDir);
    // Tables this run did not write (e.g. features during an ETL) carry over unchanged.
    const manifest: Manifest = {
      version: MANIFEST_VERSION,
      created_at: this.now().toISOString(),
      tables: { ...(previous?.tables ?? {}), ...this.tables },
      meta: { ...(previous?.meta ?? {}), ...meta },
    };
    const tmp = join(this.dataDir, `.${MANIFEST}.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify(manifest, null, 2) + '\n');
    renameSync(tmp, join(this.dataDir, MANIFEST));
    this.discard();
    // Keep the previous snapshot's files one more round so a query that opened it still reads.
    collectGarbage(this.dataDir, manifest, previous);
    return manifest;
  }

  /** Drops staged files (a failed run publishes nothing). */
  discard(): void {
    rmSync(this.staging, { recursive: true, force: true });
    const root = join(this.dataDir, '.staging');
    if (existsSync(root) && readdirSync(root).length === 0) rmSync(root, { recursive: true, force: true });
  }
}

/** Removes Parquet files under the table directories that the manifest does not name. */
export function collectGarbage(dataDir: string, manifest: Manifest, previous?: Manifest | null): string[] {
  const keep = new Set([...Object.values(manifest.tables).flat(), ...Object.values(previous?.tables ?? {}).flat()]);
  const removed: string[] = [];
  for (const dir of Object.values(TABLE_DIRS)) {
    const abs = join(dataDir, dir);
    if (!existsSync(abs)) continue;
    for (const file of walk(abs)) {
      const rel = relative(dataDir, file);
      if (file.endsWith('.parquet') && !keep.has(rel)) {
        rmSync(file, { force: true });
        removed.push(rel);
      }
    }
  }
  return removed;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

/** Staging folders of processes that no longer run are leftovers of a crash. */
function removeAbandonedStaging(root: string): void {
  if (!existsSync(root)) return;
  for (const name of readdirSync(root)) {
    const pid = Number(name.split('-')[0]);
    if (Number.isInteger(pid) && pid !== process.pid && !isAlive(pid)) rmSync(join(root, name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
