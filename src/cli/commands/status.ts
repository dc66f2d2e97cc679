import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PaperReport } from '../../backtest/paper-run.js';
import type { Bus } from '../../bus/types.js';
import type { Config } from '../../core/config.js';
import { FailureError, InputError } from '../../core/errors.js';
import { averagePrice, cents, priceAtTick } from '../../core/money.js';
import type { CloseMark, LiveMarkState, MarkSource, MarksSummary } from '../../pnl/marks.js';
import type { IO } from '../context.js';
import { createContext, type CliContext } from '../context.js';
import { paint } from '../style.js';
import { formatTable } from '../table.js';

/**
 * `kestrel status` (`make status`): the truth on one screen — every service's health, the
 * database and Redis, positions with unrealized P&L, the latest P&L and recent runs. Live
 * figures come from the running gateway/orchestrator; when they are down, the last paper run's
 * report is shown and labelled as such. Positions are marked at the market-data service's live
 * prices (`price:{symbol}` in Redis) when fresh (≤ MARKS_MAX_AGE_MS), at the last close
 * otherwise, and each says which (src/pnl/marks.ts). Exit 1 when any part is down.
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
  pnl: { source: string; realized_pnl: string | null; unrealized_pnl: string | null; total_pnl: string | null; equity: string | null; marks: StatusMarks | null } | null;
  positions: StatusPosition[];
  runs: Array<{ id: number; strategy_id: string; as_of_date: string; trade_date: string; status: string; orders_submitted: number; orders_failed: number; finished_at: string | null }>;
}

/** How the live book was marked: counts per source (see MarksSummary) and where marks came from. */
export interface StatusMarks extends MarksSummary {
  /** The price cache read, or why there was none. */
  feed: string;
  /** Where closes came from (only read when some position lacks a fresh live mark). */
  closes: string;
}

export interface StatusPosition {
  symbol: string;
  qty: string;
  avg_entry_price: string;
  mark: string | null;
  /** live | close; null without a mark. */
  mark_source: MarkSource | null;
  /** UTC ISO-8601 time of the mark (a close is 16:00 New York on its date). */
  mark_ts: string | null;
  mark_age_ms: number | null;
  /** Valued at a live mark older than MARKS_MAX_AGE_MS. */
  mark_stale: boolean;
  /** The live mark as read; null when not looked up (paper report). */
  live_mark: LiveMarkState | null;
  unrealized_pnl: string | null;
  realized_pnl: string;
}

/** Test seams: where marks come from. */
export interface StatusDeps {
  /** The price cache (default: Redis at REDIS_URL, none without it). null = none. */
  bus?: Pick<Bus, 'mget'> | null;
  /** Latest closes (default: bars_raw of KESTREL_DATA_DIR). */
  closes?: (symbols: string[]) => Promise<ReadonlyMap<string, CloseMark>>;
}

type Json = Record<string, unknown>;

async function getJson(url: string, token?: string, timeoutMs = 1500): Promise<{ ok: boolean; status: number; body: Json | null; error?: string }> {
  try {
    // Reads off loopback need READ_TOKEN or API_TOKEN.
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: token ? { authorization: `Bearer ${token}` } : {} });
    const body = (await res.json().catch(() => null)) as Json | null;
    return { ok: res.ok, status: res.status, body };
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    return { ok: false, status: 0, body: null, error: cause === 'ECONNREFUSED' ? 'not running' : (e as Error).message };
  }
}

function serviceUrl(config: Config, port: number): string {
  return `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
}

export async function collectStatus(config: Config, now: Date, deps: StatusDeps = {}): Promise<StatusReport> {
  const base = (port: number) => serviceUrl(config, port);
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
  } else {
    const { describeOwner } = await import('../../db/embedded.js');
    components.push({ name: 'postgres', status: 'embedded', detail: `PGlite in ${join(config.varDir, 'pg')}, ${describeOwner(join(config.varDir, 'pg'))} (set DATABASE_URL for a server)` });
  }
  // The Redis connection stays open for the marks (price:{symbol}) and is closed at the end.
  let redis: Bus | null = null;
  let feed = 'none: REDIS_URL is unset (the in-process price cache of `kestrel serve marketdata` is not visible here)';
  if (config.redisUrl) {
    const { openBus } = await import('../../bus/index.js');
    const { silentLogger } = await import('../../core/logger.js');
    try {
      redis = await openBus({ redisUrl: config.redisUrl, logger: silentLogger(), requireConnection: true, redis: { connectTimeoutMs: 1500 } });
      const t = performance.now();
      await redis.ping(1500);
      components.push({ name: 'redis', status: 'up', detail: `${redactUrl(config.redisUrl)} (${Math.round(performance.now() - t)} ms)` });
      feed = `price cache at ${redactUrl(config.redisUrl)}`;
    } catch (e) {
      components.push({ name: 'redis', status: 'down', detail: `${redactUrl(config.redisUrl)}: ${(e as Error).message}` });
      feed = `none: redis unreachable (${(e as Error).message})`;
      await redis?.close();
      redis = null;
    }
  } else components.push({ name: 'redis', status: 'embedded', detail: 'in-process bus (set REDIS_URL for a server)' });
  try {
    const marks = deps.bus !== undefined ? { bus: deps.bus, feed: deps.bus ? 'price cache (injected)' : 'none' } : { bus: redis, feed };
    return await collectBooks(config, now, components, marks, deps.closes);
  } finally {
    await redis?.close();
  }
}

async function collectBooks(config: Config, now: Date, components: Component[], live: { bus: Pick<Bus, 'mget'> | null; feed: string }, closesDep: StatusDeps['closes']): Promise<StatusReport> {
  const base = (port: number) => serviceUrl(config, port);
  const report: StatusReport = { timezone: 'UTC', at: now.toISOString(), ok: components.every((c) => c.status !== 'down'), components, pnl: null, positions: [], runs: [] };

  // Books: the running gateway and orchestrator, else the last paper run.
  const gw = base(config.ports.gateway);
  const token = config.readToken ?? config.apiToken;
  const positions = await getJson(`${gw}/api/v1/positions`, token);
  if (positions.ok && positions.body) {
    // cost_basis (when the gateway sends it) makes unrealized exact: qty × mark − basis (src/pnl/portfolio.ts).
    const rows = (positions.body.positions ?? []) as Array<{ symbol: string; qty: string; avg_entry_price: string; realized_pnl: string; cost_basis?: string }>;
    const { markedPnl } = await import('../../pnl/marks.js');
    const account = await getJson(`${gw}/api/v1/account`, token);
    const cash = (account.body?.account as { cash?: string } | undefined)?.cash;
    let closesFrom = 'not needed (every mark is live and fresh)';
    const closes = async (symbols: string[]) => {
      if (closesDep) {
        closesFrom = 'injected';
        return closesDep(symbols);
      }
      const r = await catalogCloses(config, symbols);
      closesFrom = r.from;
      return r.closes;
    };
    const snap = await markedPnl(rows, { bus: live.bus ? failSoft(live.bus, (e) => (live.feed = `none: reading the price cache failed (${e.message})`)) : null, closes }, { now, cash, maxAgeMs: config.marksMaxAgeMs });
    report.pnl = {
      source: `live (gateway ${gw})`,
      realized_pnl: snap.realized_pnl,
      unrealized_pnl: snap.unrealized_pnl,
      total_pnl: snap.total_pnl,
      equity: snap.equity,
      marks: { ...snap.marks, feed: live.feed, closes: closesFrom },
    };
    report.positions = snap.positions
      .filter((p) => p.qty !== '0')
      .map((p) => ({
        symbol: p.symbol,
        qty: p.qty,
        avg_entry_price: p.avg_entry_price,
        mark: p.mark,
        mark_source: p.mark_source,
        mark_ts: p.mark_ts,
        mark_age_ms: p.mark_age_ms,
        mark_stale: p.stale,
        live_mark: p.live_mark,
        unrealized_pnl: p.mark ? p.unrealized_pnl : null,
        realized_pnl: p.realized_pnl,
      }));
    const runs = await getJson(`${base(config.ports.orchestrator)}/api/v1/orchestration/runs?limit=5`, config.readToken ?? config.apiToken);
    if (runs.body) report.runs = (runs.body.runs ?? []) as StatusReport['runs'];
  } else {
    const file = join(config.varDir, 'paper', 'last-report.json');
    if (existsSync(file)) {
      const r = JSON.parse(readFileSync(file, 'utf8')) as PaperReport;
      report.pnl = { source: `last paper run ${r.from} → ${r.to} (report of ${r.generated_at})`, realized_pnl: r.realized_pnl, unrealized_pnl: r.unrealized_pnl, total_pnl: r.total_pnl, equity: r.equity_end, marks: null };
      // A paper run marks its positions at the last day's close.
      report.positions = r.positions.map((p) => ({
        symbol: p.symbol,
        qty: p.qty,
        avg_entry_price: p.avg_entry_price,
        mark: p.mark,
        mark_source: p.mark ? 'close' : null,
        mark_ts: null,
        mark_age_ms: null,
        mark_stale: false,
        live_mark: null,
        unrealized_pnl: p.unrealized_pnl,
        realized_pnl: p.realized_pnl,
      }));
      // finished_at is in reports written since it was recorded; an older report has none.
      report.runs = r.runs.slice(-5).reverse().map((x) => ({ id: x.id, strategy_id: r.strategy_id, as_of_date: x.as_of_date, trade_date: x.trade_date, status: x.status, orders_submitted: x.orders_submitted, orders_failed: x.orders_failed, finished_at: x.finished_at ?? null }));
    }
  }
  return roundStatus(report);
}

/**
 * Money at the edge (docs/concepts/pnl.md): P&L and equity in cents, marks at their tick, average
 * prices to 4 dp, quantities exact — for the JSON and the screen alike.
 */
export function roundStatus(r: StatusReport): StatusReport {
  const c = (v: string | null) => (v === null ? null : cents(v));
  return {
    ...r,
    pnl: r.pnl && { ...r.pnl, realized_pnl: c(r.pnl.realized_pnl), unrealized_pnl: c(r.pnl.unrealized_pnl), total_pnl: c(r.pnl.total_pnl), equity: c(r.pnl.equity) },
    positions: r.positions.map((p) => ({
      ...p,
      avg_entry_price: averagePrice(p.avg_entry_price),
      mark: p.mark === null ? null : priceAtTick(p.mark),
      unrealized_pnl: c(p.unrealized_pnl),
      realized_pnl: cents(p.realized_pnl),
    })),
  };
}

/** A status screen must not fail on the price cache: an error reads as "no live marks" and is reported. */
function failSoft(bus: Pick<Bus, 'mget'>, onError: (e: Error) => void): Pick<Bus, 'mget'> {
  return {
    mget: async (keys) => {
      try {
        return await bus.mget(keys);
      } catch (e) {
        onError(e as Error);
        return keys.map(() => null);
      }
    },
  };
}

/** Each symbol's latest traded close from the data store (bars_raw); none without data. */
async function catalogCloses(config: Config, symbols: string[]): Promise<{ closes: Map<string, CloseMark>; from: string }> {
  const [{ openCatalog }, { latestRawCloses }] = await Promise.all([import('../../data/catalog.js'), import('../../data/latest-closes.js')]);
  let cat;
  try {
    cat = await openCatalog(config.dataDir);
  } catch (e) {
    return { closes: new Map(), from: `none: ${e instanceof InputError ? e.message : `cannot open ${config.dataDir} (${(e as Error).message})`}` };
  }
  try {
    if (!cat.views.includes('bars_raw')) return { closes: new Map(), from: `none: no bars_raw in ${config.dataDir}` };
    const latest = await latestRawCloses(cat);
    const closes = new Map<string, CloseMark>();
    for (const s of symbols) {
      const c = latest.get(s);
      if (c) closes.set(s, { price: c.close, date: c.date });
    }
    return { closes, from: `bars_raw in ${config.dataDir}` };
  } catch (e) {
    return { closes: new Map(), from: `none: reading closes failed (${(e as Error).message})` };
  } finally {
    cat.close();
  }
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
    const m = (v: string | null) => (v === null ? '-' : cents(v));
    lines.push(`  realized ${m(r.pnl.realized_pnl)}  unrealized ${m(r.pnl.unrealized_pnl)}  total ${m(r.pnl.total_pnl)}${r.pnl.equity ? `  equity ${m(r.pnl.equity)}` : ''}`);
    if (r.pnl.marks && r.positions.length > 0) lines.push(`  ${renderMarks(r.pnl.marks, c)}`);
    lines.push('');
    lines.push(c.bold(`Positions (${r.positions.length})`));
    const rows = r.positions.map((p) => ({ symbol: p.symbol, qty: p.qty, avg_entry: averagePrice(p.avg_entry_price), mark: p.mark === null ? '-' : priceAtTick(p.mark), source: markLabel(p), unrealized: m(p.unrealized_pnl), realized: m(p.realized_pnl) }));
    lines.push(rows.length ? formatTable(rows, color, 30) : '  none');
    lines.push('');
    lines.push(c.bold('Recent runs'));
    lines.push(r.runs.length ? formatTable(r.runs, color, 5) : '  none');
  } else lines.push(c.dim('No books yet: run `npm start` (a paper run) or `kestrel up`.'));
  return lines.join('\n');
}

/** `marks: 12 live (≤ 60 s), 3 stale (oldest …Z), 1 from close (2026-11-19), 1 none — price cache at …` */
export function renderMarks(mk: StatusMarks, c: ReturnType<typeof paint>): string {
  const parts: string[] = [];
  if (mk.live) parts.push(c.green(`${mk.live} live (≤ ${fmtAge(mk.max_age_ms)})`));
  if (mk.stale) parts.push(c.yellow(`${mk.stale} stale (oldest ${mk.oldest_stale_ts})`));
  if (mk.close) parts.push(`${mk.close} from close (${mk.close_dates.join(', ')})`);
  if (mk.none) parts.push(c.red(`${mk.none} none (valued at entry)`));
  return `marks: ${parts.join(', ')} ${c.dim(`— ${mk.feed}`)}`;
}

/** Per position: `live 3 s`, `stale 12 min`, `close 2026-11-19`, or `-`. */
export function markLabel(p: Pick<StatusPosition, 'mark_source' | 'mark_ts' | 'mark_age_ms' | 'mark_stale'>): string {
  if (p.mark_source === 'live') return `${p.mark_stale ? 'stale' : 'live'}${p.mark_age_ms === null ? '' : ` ${fmtAge(p.mark_age_ms)}`}`;
  // A close's mark_ts is 16:00 New York (20:00/21:00Z): its UTC date is the trading date.
  if (p.mark_source === 'close') return p.mark_ts ? `close ${p.mark_ts.slice(0, 10)}` : 'close';
  return '-';
}

function fmtAge(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  if (s < 172_800) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86_400)} d`;
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
