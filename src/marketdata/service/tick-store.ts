import type { Logger } from '../../core/logger.js';
import { isDecimalString } from '../../core/money.js';
import { isConnectionError, type Db, type Queryable } from '../../db/db.js';
import type { Bar, Trade } from './types.js';

/**
 * Buffered writer of trades and 1-minute bars (migrations/0005_marketdata.sql).
 *
 * Rows wait in a bounded buffer and are written in batches — ONE multi-row statement per
 * table per flush (`INSERT … SELECT * FROM unnest($1::text[], …) ON CONFLICT DO NOTHING`),
 * so duplicates (replays, reconnect overlaps) are harmless. A flush happens when `batchSize`
 * rows are buffered, every `flushIntervalMs`, and on close(). When the buffer is full
 * (`maxBuffered`, e.g. the database is down) new rows are dropped and counted, never queued
 * without bound. A failed flush keeps its rows for the next attempt while they fit.
 */
export interface TickStoreOptions {
  db: Db;
  /**
   * Flush when this many rows (trades + bars) are buffered. Default 1000 on PostgreSQL, 250 on
   * PGlite: it executes in this thread (~15 µs a row), so a batch is an event-loop stall.
   */
  batchSize?: number;
  /** Flush at least this often while rows are buffered. Default 1000 ms. */
  flushIntervalMs?: number;
  /** Rows beyond this are dropped (and counted). Default 100 000. */
  maxBuffered?: number;
  logger?: Logger;
}

export interface TickStoreStats {
  tradesWritten: number;
  barsWritten: number;
  /** Rows refused: buffer full, closed, or malformed (bad decimal/time/id). */
  dropped: number;
  /** Rows of batches the database refused with an SQL error (not retried: a poison batch would block everything). */
  rejected: number;
  flushes: number;
  flushFailures: number;
}

const INSERT_TRADES = `INSERT INTO trades (symbol, trade_id, price, size, ts)
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::numeric[], $4::numeric[], $5::timestamptz[])
  ON CONFLICT DO NOTHING`;

const INSERT_BARS = `INSERT INTO bars_1m (symbol, t, o, h, l, c, v)
  SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[], $7::numeric[])
  ON CONFLICT DO NOTHING`;

export class TickStore {
  private readonly db: Db;
  private readonly batchSize: number;
  private readonly maxBuffered: number;
  private readonly logger: Logger | undefined;
  private trades: Trade[] = [];
  private bars: Bar[] = [];
  private readonly timer: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  /** The flush waiting behind the one in flight: it takes every row buffered when it starts. */
  private queued: Promise<void> | null = null;
  private closed = false;
  readonly stats: TickStoreStats = { tradesWritten: 0, barsWritten: 0, dropped: 0, rejected: 0, flushes: 0, flushFailures: 0 };

  constructor(opts: TickStoreOptions) {
    this.db = opts.db;
    this.batchSize = Math.max(1, opts.batchSize ?? (opts.db.kind === 'pglite' ? 250 : 1000));
    this.maxBuffered = Math.max(this.batchSize, opts.maxBuffered ?? 100_000);
    this.logger = opts.logger;
    this.timer = setInterval(() => {
      if (this.buffered > 0) this.flush().catch(() => {});
    }, opts.flushIntervalMs ?? 1000);
    this.timer.unref();
  }

  get buffered(): number {
    return this.trades.length + this.bars.length;
  }

  /** Buffers a trade; false when dropped (buffer full or closed). */
  addTrade(t: Trade): boolean {
    if (!this.admit(validTrade(t))) return false;
    this.trades.push(t);
    this.afterAdd();
    return true;
  }

  addBar(b: Bar): boolean {
    if (!this.admit(validBar(b))) return false;
    this.bars.push(b);
    this.afterAdd();
    return true;
  }

  private admit(valid: boolean): boolean {
    if (!valid || this.closed || this.buffered >= this.maxBuffered) {
      this.stats.dropped++;
      return false;
    }
    return true;
  }

  private afterAdd(): void {
    if (this.buffered >= this.batchSize) this.flush().catch(() => {});
  }

  /**
   * Writes everything buffered now; rejects when the write failed (rows are kept for a retry).
   * At most one flush waits behind the one in flight — while the database is slow, rows pile
   * up into one bigger batch instead of one queued (and later near-empty) flush per row added.
   */
  flush(): Promise<void> {
    if (this.queued) return this.queued;
    const run = this.chain.then(() => {
      this.queued = null;
      return this.flushBuffered();
    });
    this.queued = run;
    this.chain = run.catch(() => {});
    return run;
  }

  private async flushBuffered(): Promise<void> {
    if (this.buffered === 0) return;
    const trades = this.trades;
    const bars = this.bars;
    this.trades = [];
    this.bars = [];
    this.stats.flushes++;
    try {
      await this.db.transaction(async (tx) => {
        if (trades.length) await insertTrades(tx, trades);
        if (bars.length) await insertBars(tx, bars);
      });
      this.stats.tradesWritten += trades.length;
      this.stats.barsWritten += bars.length;
    } catch (e) {
      this.stats.flushFailures++;
      if (!isConnectionError(e)) {
        this.stats.rejected += trades.length + bars.length;
        this.logger?.error({ err: e, trades: trades.length, bars: bars.length }, 'tick store: database refused the batch; rows dropped');
        throw e;
      }
      this.logger?.warn({ err: e, trades: trades.length, bars: bars.length }, 'tick store flush failed; rows kept for retry');
      // Put them back in front, dropping what no longer fits.
      const room = Math.max(0, this.maxBuffered - this.buffered);
      const keepTrades = trades.slice(0, room);
      const keepBars = bars.slice(0, Math.max(0, room - keepTrades.length));
      this.stats.dropped += trades.length - keepTrades.length + bars.length - keepBars.length;
      this.trades = [...keepTrades, ...this.trades];
      this.bars = [...keepBars, ...this.bars];
      throw e;
    }
  }

  /** Deletes trades and bars older than `days` days before `now`; returns the rows removed. */
  async deleteOlderThan(days: number, now: Date = new Date()): Promise<{ trades: number; bars: number }> {
    if (!(days >= 0)) throw new Error(`retention days must be >= 0, got ${days}`);
    const cutoff = new Date(now.getTime() - days * 86_400_000).toISOString();
    const t = await this.db.query('DELETE FROM trades WHERE ts < $1', [cutoff]);
    const b = await this.db.query('DELETE FROM bars_1m WHERE t < $1', [cutoff]);
    return { trades: t.rowCount, bars: b.rowCount };
  }

  /** Flushes what is buffered (best effort) and stops the timer. Does not close the Db. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    try {
      await this.flush();
    } catch {
      // logged in flushBuffered; the rows are lost with the process
    }
  }
}

const validTime = (s: string) => typeof s === 'string' && !Number.isNaN(Date.parse(s));
const validTrade = (t: Trade) => typeof t.symbol === 'string' && t.symbol.length > 0 && Number.isSafeInteger(t.id) && isDecimalString(t.price) && isDecimalString(t.size) && validTime(t.ts);
const validBar = (b: Bar) => typeof b.symbol === 'string' && b.symbol.length > 0 && validTime(b.t) && [b.o, b.h, b.l, b.c, b.v].every(isDecimalString);

// Parameters go as Postgres array literals built here: the drivers' generic array
// serialisation (per-element escaping) cost ~4 ms per 1000-row batch on the event loop.
async function insertTrades(q: Queryable, rows: readonly Trade[]): Promise<void> {
  await q.query(INSERT_TRADES, [textArray(rows, (r) => r.symbol), intArray(rows, (r) => r.id), textArray(rows, (r) => r.price), textArray(rows, (r) => r.size), textArray(rows, (r) => r.ts)]);
}

async function insertBars(q: Queryable, rows: readonly Bar[]): Promise<void> {
  await q.query(INSERT_BARS, [
    textArray(rows, (r) => r.symbol),
    textArray(rows, (r) => r.t),
    textArray(rows, (r) => r.o),
    textArray(rows, (r) => r.h),
    textArray(rows, (r) => r.l),
    textArray(rows, (r) => r.c),
    textArray(rows, (r) => r.v),
  ]);
}

/** `{"a","b"}`: every element quoted (so NULL, commas and spaces stay text), `"` and `\` escaped. */
function textArray<T>(rows: readonly T[], get: (r: T) => string): string {
  let out = '{';
  for (let i = 0; i < rows.length; i++) {
    const v = get(rows[i]!);
    out += (i ? ',"' : '"') + (NEEDS_ESCAPE.test(v) ? v.replace(ESCAPE, '\\$&') : v) + '"';
  }
  return out + '}';
}
const NEEDS_ESCAPE = /["\\]/;
const ESCAPE = /["\\]/g;

/** `{1,2}` of safe integers (checked on admission). */
function intArray<T>(rows: readonly T[], get: (r: T) => number): string {
  let out = '{';
  for (let i = 0; i < rows.length; i++) out += (i ? ',' : '') + String(get(rows[i]!));
  return out + '}';
}

/**
 * Turns trades and bars_1m into TimescaleDB hypertables when the extension is available on
 * the server; returns false (and changes nothing) when it is not — the plain tables work.
 * Run after migrate(), on an empty or populated table (migrate_data).
 */
export async function enableTimescale(db: Db): Promise<boolean> {
  const avail = await db.query('SELECT 1 FROM pg_available_extensions WHERE name = $1', ['timescaledb']);
  if (avail.rows.length === 0) return false;
  await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
  await db.query(`SELECT create_hypertable('trades', 'ts', if_not_exists => true, migrate_data => true)`);
  await db.query(`SELECT create_hypertable('bars_1m', 't', if_not_exists => true, migrate_data => true)`);
  return true;
}
