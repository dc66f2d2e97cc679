import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PaperReport } from '../../backtest/paper-run.js';
import type { Config } from '../../core/config.js';
import { FailureError } from '../../core/errors.js';
import { money } from '../../core/money.js';
import type { IO } from '../context.js';
import { createContext, type CliContext } from '../context.js';
import { paint } from '../style.js';
import { formatTable } from '../table.js';

/**
 * `kestrel status` (`make status`): the truth on one screen — every service's health, the
 * database and Redis, positions with unrealized P&L, the latest P&L and recent runs. Live
 * figures come from the running gateway/orchestrator; when they are down, the last paper run's
 * report is shown and labelled as such. Exit 1 when any part is down.
 */
export interface Component {
  name: string;
  status: 'up' | 'down' | 'degraded' | 'embedded';
  detail: string;
}

export interface StatusReport {
  timezone: 'UTC';
  at: string;
  ok: boolean;
  components: Component[];
  pnl: { source: string; realized_pnl: string | null; unrealized_pnl: string | null; total_pnl: string | null; equity: string | null } | null;
  positions: Array<{ symbol: string; qty: string; avg_entry_price: string; mark: string | null; unrealized_pnl: string | null; realized_pnl: string }>;
  runs: Array<{ id: number; strategy_id: string; as_of_date: string; trade_date: string; status: string; orders_submitted: number; orders_failed: number; finished_at: string | null }>;
}

type Json = Record<string, unknown>;

async function getJson(url: string, timeoutMs = 1500): Promise<{ ok: boolean; status: number; body: Json | null; error?: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json().catch(() => null)) as Json | null;
    return { ok: res.ok, status: res.status, body };
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    return { ok: false, status: 0, body: null, error: cause === 'ECONNREFUSED' ? 'not running' : (e as Error).message };
  }
}

export async function collectStatus(config: Config, now: Date): Promise<StatusReport> {
  const base = (port: number) => `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  const services: Array<[string, number]> = [
    ['gateway', config.ports.gateway],
    ['broker-sim', config.ports.brokerSim],
    ['signals', config.ports.signals],
    ['orchestrator', config.ports.orchestrator],
    ['marketdata', config.ports.marketdata],
  ];
  const components: Component[] = [];
  const health = await Promise.all(services.map(([, port]) => getJson(`${base(port)}/health`)));
  services.forEach(([name, port], i) => {
    const h = health[i]!;
    if (!h.body) components.push({ name, status: 'down', detail: `${base(port)}: ${h.error ?? `HTTP ${h.status}`}` });
    else {
      const s = String(h.body.status ?? 'down');
      const failing = Object.entries((h.body.checks ?? {}) as Record<string, { status: string; detail?: string }>)
        .filter(([, c]) => c.status !== 'up')
        .map(([k, c]) => `${k} ${c.status}${c.detail ? ` (${c.detail})` : ''}`);
      components.push({ name, status: s === 'ok' ? 'up' : s === 'degraded' ? 'degraded' : 'down', detail: `${base(port)}${failing.length ? ` — ${failing.join('; ')}` : ''}` });
    }
  });

  // Datastores: the servers when configured, the embedded engines otherwise.
  if (config.databaseUrl) {
    const { openPostgres } = await import('../../db/postgres.js');
    const db = openPostgres({ url: config.databaseUrl, connectTimeoutMs: 1500, max: 1 });
    const t = performance.now();
    try {
      await db.ping();
      components.push({ name: 'postgres', status: 'up', detail: `${redactUrl(config.databaseUrl)} (${Math.round(performance.now() - t)} ms)` });
    } catch (e) {
      components.push({ name: 'postgres', status: 'down', detail: `${redactUrl(config.databaseUrl)}: ${(e as Error).message}` });
    } finally {
      await db.close();
    }
  } else components.push({ name: 'postgres', status: 'embedded', detail: `PGlite in ${join(config.varDir, 'pg')} (set DATABASE_URL for a server)` });
  if (config.redisUrl) {
    const { openBus } = await import('../../bus/index.js');
    const { silentLogger } = await import('../../core/logger.js');
    try {
      const bus = await openBus({ redisUrl: config.redisUrl, logger: silentLogger(), requireConnection: true, redis: { connectTimeoutMs: 1500 } });
      const t = performance.now();
      await bus.ping(1500);
      components.push({ name: 'redis', status: 'up', detail: `${redactUrl(config.redisUrl)} (${Math.round(performance.now() - t)} ms)` });
      await bus.close();
    } catch (e) {
      components.push({ name: 'redis', status: 'down', detail: `${redactUrl(config.redisUrl)}: ${(e as Error).message}` });
    }
  } else components.push({ name: 'redis', status: 'embedded', detail: 'in-process bus (set REDIS_URL for a server)' });

  const report: StatusReport = { timezone: 'UTC', at: now.toISOString(), ok: components.every((c) => c.status !== 'down'), components, pnl: null, positions: [], runs: [] };

  // Books: the running gateway and orchestrator, else the last paper run.
  const gw = base(config.ports.gateway);
  const positions = await getJson(`${gw}/api/v1/positions`);
  if (positions.ok && positions.body) {
    const rows = (positions.body.positions ?? []) as Array<{ symbol: string; qty: string; avg_entry_price: string; realized_pnl: string }>;
    const marks = await liveMarks(config, rows.map((r) => r.symbol));
    const { computePnl } = await import('../../pnl/portfolio.js');
    const account = await getJson(`${gw}/api/v1/account`);
    const cash = (account.body?.account as { cash?: string } | undefined)?.cash;
    const snap = computePnl(rows, (s) => marks.get(s), { now, cash, staleAfterMs: 15 * 60_000 });
    report.pnl = { source: `live (gateway ${gw}; marks: ${marks.size ? 'latest prices' : 'none'})`, realized_pnl: snap.realized_pnl, unrealized_pnl: snap.unrealized_pnl, total_pnl: snap.total_pnl, equity: snap.equity };
    report.positions = snap.positions.filter((p) => p.qty !== '0').map((p) => ({ symbol: p.symbol, qty: p.qty, avg_entry_price: p.avg_entry_price, mark: p.mark, unrealized_pnl: p.mark ? p.unrealized_pnl : null, realized_pnl: p.realized_pnl }));
    const runs = await getJson(`${base(config.ports.orchestrator)}/api/v1/orchestration/runs?limit=5`);
    if (runs.body) report.runs = (runs.body.runs ?? []) as StatusReport['runs'];
  } else {
    const file = join(config.varDir, 'paper', 'last-report.json');
    if (existsSync(file)) {
      const r = JSON.parse(readFileSync(file, 'utf8')) as PaperReport;
      report.pnl = { source: `last paper run ${r.from} → ${r.to} (report of ${r.generated_at})`, realized_pnl: r.realized_pnl, unrealized_pnl: r.unrealized_pnl, total_pnl: r.total_pnl, equity: r.equity_end };
      report.positions = r.positions.map((p) => ({ symbol: p.symbol, qty: p.qty, avg_entry_price: p.avg_entry_price, mark: p.mark, unrealized_pnl: p.unrealized_pnl, realized_pnl: p.realized_pnl }));
      report.runs = r.runs.slice(-5).reverse().map((x) => ({ id: x.id, strategy_id: r.strategy_id, as_of_date: x.as_of_date, trade_date: x.trade_date, status: x.status, orders_submitted: x.orders_submitted, orders_failed: x.orders_failed, finished_at: null }));
    }
  }
  return report;
}

/** Latest prices from the price cache (`price:{symbol}`) when Redis is configured. */
async function liveMarks(config: Config, symbols: string[]): Promise<Map<string, { price: string; ts: string }>> {
  const out = new Map<string, { price: string; ts: string }>();
  if (!config.redisUrl || symbols.length === 0) return out;
  const [{ openBus }, { silentLogger }] = await Promise.all([import('../../bus/index.js'), import('../../core/logger.js')]);
  try {
    const bus = await openBus({ redisUrl: config.redisUrl, logger: silentLogger(), requireConnection: true });
    const raws = await bus.mget(symbols.map((s) => `price:${s}`));
    raws.forEach((raw, i) => {
      if (!raw) return;
      const v = JSON.parse(raw) as { price?: string; ts?: string };
      if (v.price && v.ts) out.set(symbols[i]!, { price: v.price, ts: v.ts });
    });
    await bus.close();
  } catch {
    // No marks: positions show at entry price, flagged as missing marks.
  }
  return out;
}

function redactUrl(u: string): string {
  try {
    const url = new URL(u);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(invalid url)';
  }
}

export function renderStatus(r: StatusReport, color: boolean): string {
  const c = paint(color);
  const mark = (s: Component['status']) => (s === 'up' ? c.green('✓') : s === 'embedded' ? c.cyan('•') : s === 'degraded' ? c.yellow('!') : c.red('✗'));
  const lines = [`${c.bold('Kestrel status')}  ${r.ok ? c.green('OK') : c.red('DOWN')}  ${c.dim(r.at)}`];
  for (const comp of r.components) lines.push(`  ${mark(comp.status)} ${comp.name.padEnd(13)} ${comp.status.padEnd(9)} ${c.dim(comp.detail)}`);
  lines.push('');
  if (r.pnl) {
    lines.push(`${c.bold('P&L')}  ${c.dim(r.pnl.source)}`);
    const m = (v: string | null, dp = 2) => (v === null ? '-' : money(v, dp));
    lines.push(`  realized ${m(r.pnl.realized_pnl)}  unrealized ${m(r.pnl.unrealized_pnl)}  total ${m(r.pnl.total_pnl)}${r.pnl.equity ? `  equity ${m(r.pnl.equity)}` : ''}`);
    lines.push('');
    lines.push(c.bold(`Positions (${r.positions.length})`));
    const rows = r.positions.map((p) => ({ symbol: p.symbol, qty: Number(p.qty), avg_entry: m(p.avg_entry_price, 4), mark: p.mark, unrealized: m(p.unrealized_pnl), realized: m(p.realized_pnl) }));
    lines.push(rows.length ? formatTable(rows, color, 30) : '  none');
    lines.push('');
    lines.push(c.bold('Recent runs'));
    lines.push(r.runs.length ? formatTable(r.runs, color, 5) : '  none');
  } else lines.push(c.dim('No books yet: run `npm start` (a paper run) or `kestrel up`.'));
  return lines.join('\n');
}

export function registerStatus(program: Command, io: IO): void {
  program
    .command('status')
    .description('health of every service, Postgres and Redis; positions, P&L and recent runs; exit 1 if anything is down')
    .option('--json', 'machine output')
    .addHelpText(
      'after',
      `
Examples:
  kestrel status
  kestrel status --json | jq '.components[] | select(.status == "down")'
  make status`,
    )
    .action(async (opts: { json?: boolean }) => {
      const ctx: CliContext = createContext('status', io, {}, { quiet: true });
      const r = await collectStatus(ctx.config, ctx.clock.now());
      if (opts.json) ctx.json(r);
      else ctx.out(renderStatus(r, ctx.tty));
      const down = r.components.filter((x) => x.status === 'down').map((x) => x.name);
      if (down.length) throw new FailureError(`down: ${down.join(', ')}`, 'status_down');
    });
}
