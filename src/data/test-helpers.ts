import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixedClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { runEtl, type EtlOptions } from './etl.js';
import { defaultGates } from './quality/rules.js';

/** A temp directory removed by the returned cleanup function. */
export function tempDir(prefix = 'kestrel-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Row {
  date: string;
  symbol: string;
  open: number;
  high: number;
  low: number;
  close: number;
  adj_close?: number;
  volume: number;
}

/** Writes bars as CSV (with adj_close when every row has one). */
export function writeBarsCsv(file: string, rows: Row[]): string {
  const adj = rows.length > 0 && rows.every((r) => r.adj_close !== undefined);
  const head = adj ? 'date,symbol,open,high,low,close,adj_close,volume' : 'date,symbol,open,high,low,close,volume';
  const body = rows.map((r) => [r.date, r.symbol, r.open, r.high, r.low, r.close, ...(adj ? [r.adj_close] : []), r.volume].join(','));
  writeFileSync(file, [head, ...body].join('\n') + '\n');
  return file;
}

/** A clean bar whose OHLC brackets the close. */
export function bar(symbol: string, date: string, close: number, extra: Partial<Row> = {}): Row {
  return { date, symbol, open: close, high: close * 1.01, low: close * 0.99, close, volume: 1000, ...extra };
}

export function etlOptions(input: string, dataDir: string, over: Partial<EtlOptions> = {}): EtlOptions {
  return { input, dataDir, gates: defaultGates(), clock: fixedClock('2020-01-13T22:00:00Z'), logger: silentLogger(), ...over };
}

export const etl = (input: string, dataDir: string, over: Partial<EtlOptions> = {}) => runEtl(etlOptions(input, dataDir, over));
