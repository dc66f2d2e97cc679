import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startBrokerSim, type RunningBrokerSim, type StartBrokerSimOptions } from '../broker-sim/index.js';
import { systemClock, type Clock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { openPglite } from '../db/pglite.js';
import { buildGatewayApp, type GatewayApp, type GatewayAppOptions } from './app.js';
import { AlpacaBroker } from './brokers/alpaca.js';

/** Test plumbing shared by the gateway's tests: the real simulator over HTTP + WebSocket. */

export const SIM_KEYS = { keyId: 'PKTESTGATEWAY', secretKey: 'sim-secret-for-tests' };

export async function startSim(opts: StartBrokerSimOptions = {}): Promise<RunningBrokerSim> {
  return startBrokerSim({
    prices: { AAPL: '100', MSFT: '200', SPY: '450' },
    ...opts,
    config: { startingCash: '1000000000', apiKeyId: SIM_KEYS.keyId, apiSecretKey: SIM_KEYS.secretKey, ...opts.config },
  });
}

export function simBroker(sim: { baseUrl: string; streamUrl: string }, timeoutMs = 3_000): AlpacaBroker {
  return new AlpacaBroker({ ...SIM_KEYS, baseUrl: sim.baseUrl, streamUrl: sim.streamUrl, timeoutMs, reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
}

/** Calls the simulator's admin API (faults, prices, reset). */
export async function simAdmin(sim: { baseUrl: string }, method: 'POST' | 'DELETE' | 'GET', path: string, body?: unknown): Promise<unknown> {
  const r = await fetch(sim.baseUrl + path, {
    method,
    headers: { 'APCA-API-KEY-ID': SIM_KEYS.keyId, 'APCA-API-SECRET-KEY': SIM_KEYS.secretKey, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!r.ok) throw new Error(`sim ${method} ${path}: HTTP ${r.status} ${await r.text()}`);
  return r.status === 204 ? null : r.json();
}

export async function freshPglite(): Promise<Db> {
  const db = await openPglite(null);
  await migrate(db);
  return db;
}

export interface TestGateway {
  app: GatewayApp;
  db: Db;
  sim: RunningBrokerSim;
  broker: AlpacaBroker;
  close(): Promise<void>;
}

/** Embedded PGlite + the simulator in this process + the gateway app (not listening; use inject). */
export async function embeddedGateway(
  opts: Partial<GatewayAppOptions> & { simOptions?: StartBrokerSimOptions; clock?: Clock; db?: Db } = {},
): Promise<TestGateway> {
  const sim = await startSim(opts.simOptions);
  const broker = simBroker(sim);
  const db = opts.db ?? (await freshPglite());
  const app = await buildGatewayApp({ db, broker, clock: opts.clock ?? systemClock, logger: silentLogger(), retry: { baseMs: 50, maxMs: 500 }, ...opts });
  await app.ready();
  return {
    app,
    db,
    sim,
    broker,
    close: async () => {
      await app.close();
      await sim.close();
      if (!opts.db) await db.close();
    },
  };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 20_000, everyMs = 25): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const order = (over: Record<string, unknown> = {}) => ({ strategy_id: 'momentum-v2', symbol: 'AAPL', side: 'buy', qty: '10', order_type: 'market', ...over });

export const CHILD_ENTRY = fileURLToPath(new URL('./test-child.ts', import.meta.url));

export interface GatewayChild {
  url: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM and wait (SIGKILL after 10 s). */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/**
 * `kestrel serve gateway --port 0` as a child process on the given database and simulator.
 * Resolves once it prints its URL; `url` is null-safe only after that.
 */
export async function spawnGateway(opts: { databaseUrl: string; sim: { baseUrl: string; streamUrl: string }; args?: string[]; env?: Record<string, string> }): Promise<GatewayChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD_ENTRY, 'serve', 'gateway', '--port', '0', ...(opts.args ?? [])], {
    env: {
      ...process.env,
      DATABASE_URL: opts.databaseUrl,
      BROKER: 'sim',
      ALPACA_BASE_URL: opts.sim.baseUrl,
      ALPACA_STREAM_URL: opts.sim.streamUrl,
      ALPACA_API_KEY_ID: SIM_KEYS.keyId,
      ALPACA_API_SECRET_KEY: SIM_KEYS.secretKey,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
      API_TOKEN: '',
      DRY_RUN: 'false',
      // These tests exercise exactly-once mechanics; risk has its own suite (src/risk).
      RISK_ENABLED: 'false',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway child did not start within 30 s:\n${out}`)), 30_000);
    const onData = () => {
      const m = /gateway listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`gateway child exited (${code ?? signal}) before listening:\n${out}`));
    });
  });
  return {
    url,
    child,
    exited,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        const r = await exited;
        clearTimeout(t);
        return r;
      }
      return exited;
    },
  };
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
