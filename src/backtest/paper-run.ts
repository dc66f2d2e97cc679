import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Bus } from '../bus/index.js';
import { dayNumber, fixedClock } from '../core/clock.js';
import type { Config } from '../core/config.js';
import { FailureError, InputError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { dec, decString, ZERO } from '../core/money.js';
import { isTradingDay } from '../data/calendar.js';
import { latestRawCloses } from '../data/latest-closes.js';
import type { Db } from '../db/db.js';
import type { RunView } from '../orchestrator/index.js';
import { computePnl, type PnlSnapshot } from '../pnl/portfolio.js';
import { startStack, type Stack } from '../cli/stack.js';

/**
 * `kestrel paper-run`: the whole stack over N consecutive trading days of stored data.
 * Day D: the orchestrator trades the signals of the previous trading day's close
 * (features known at that close), the simulated broker fills at D's close (± slippage),
 * positions are marked at D's close. Only the clock and the broker's prices are simulated;
 * sizing, risk, orders, fills and P&L are the production code paths.
 */
export interface PaperRunOptions {
  config: Config;
  logger: Logger;
  /** Last trading day of the run (default: the last date in the data). */
  asOf?: string;
  days: number;
  capital: string;
  maxPositionPct: string;
  topN: number;
  bottomN: number;
  slippageBps: number;
  strategyId?: string;
  /**
   * Scripted price shock (risk drills): from `date` on, every symbol held at that day's open
   * trades `move` (e.g. 0.25) against its position — longs lower, shorts higher.
   */
  shock?: { date: string; move: number };
  progress?: (stage: string, done: number, total: number) => void;
}

export interface PaperDay {
  date: string;
  signal_date: string;
  run_id: number;
  run_status: string;
  orders: number;
  fills: number;
  cash: string;
  market_value: string;
  equity: string;
  realized_pnl: string;
  unrealized_pnl: string;
  total_pnl: string;
}

export interface PaperReport {
  timezone: 'UTC';
  generated_at: string;
  strategy_id: string;
  model: string | null;
  from: string;
  to: string;
  days: number;
  capital: string;
  equity_start: string;
  equity_end: string;
  realized_pnl: string;
  unrealized_pnl: string;
  total_pnl: string;
  /** total_pnl − (equity_end − equity_start): zero when the books reconcile. */
  reconciliation_difference: string;
  /** Our ledger's cash (from fills) against the broker's account cash. */
  broker_cash_difference: string;
  daily: PaperDay[];
  per_symbol: PnlSnapshot['positions'];
  positions: PnlSnapshot['positions'];
  orders: Array<{ trade_date: string; client_order_id: string; symbol: string; side: string; qty: string; status: string; filled_qty: string; filled_avg_price: string | null }>;
  runs: Array<Pick<RunView, 'id' | 'as_of_date' | 'trade_date' | 'status' | 'signals_count' | 'orders_planned' | 'orders_submitted' | 'orders_failed' | 'model_version'> & { total_ms: number | null }>;
  timings_ms: Record<string, number>;
}

const CLOSE_UTC_HOUR = 21; // after the 16:00 New York close in both EST and EDT

export async function runPaper(o: PaperRunOptions, deps: { db: Db; registryDb?: Db; bus: Bus }): Promise<PaperReport> {
  const t0 = performance.now();
  const progress = o.progress ?? (() => {});
  const strategyId = o.strategyId ?? 'paper';
  if (!Number.isInteger(o.days) || o.days < 1 || o.days > 2520) throw new InputError(`--days must be a whole number from 1 to 2520, got ${o.days}`);
  if (o.asOf !== undefined && !Number.isFinite(dayNumber(o.asOf))) throw new InputError(`--as-of ${JSON.stringify(o.asOf)} is not a YYYY-MM-DD date`);

  const { openCatalog } = await import('../data/catalog.js');
  const cat = await openCatalog(o.config.dataDir);
  let dates: string[];
  try {
    if (!cat.views.includes('bars_raw')) throw new InputError('no bars in the data store: run `kestrel etl` first');
    const rows = await cat.query<{ d: string }>(
      `SELECT DISTINCT strftime(date, '%Y-%m-%d') AS d FROM bars_raw ${o.asOf ? `WHERE date <= DATE '${o.asOf}'` : ''} ORDER BY d DESC LIMIT ${o.days + 1}`,
    );
    dates = rows.map((r) => r.d).filter((d) => isTradingDay(dayNumber(d))).reverse();
  } finally {
    cat.close();
  }
  if (dates.length < o.days + 1) throw new InputError(`need ${o.days + 1} trading days of data up to ${o.asOf ?? 'the last date'} (one before the first traded day for signals), found ${dates.length}`);
  const tradeDays = dates.slice(1);

  const clock = fixedClock(`${dates[0]}T${CLOSE_UTC_HOUR}:00:00Z`);
  const stack = await startStack({
    config: o.config,
    clock,
    logger: o.logger,
    db: deps.db,
    registryDb: deps.registryDb,
    bus: deps.bus,
    ports: 'ephemeral',
    sim: { startingCash: o.capital, slippageBps: o.slippageBps },
    modelPollMs: 0,
  });
  const timings: Record<string, number> = { start: Math.round(performance.now() - t0) };
  try {
    const daily: PaperDay[] = [];
    const equityStart = dec(o.capital);
    let shocked = new Map<string, 1 | -1>();
    for (let i = 0; i < tradeDays.length; i++) {
      const day = tradeDays[i]!;
      const signalDate = dates[i]!;
      progress('trading', i, tradeDays.length);
      clock.set(`${day}T${CLOSE_UTC_HOUR}:00:00Z`);
      // Start-of-day equity is yesterday's close, before today's prices move anything.
      await stack.risk?.provider.recordDayStart(day, dec(daily[i - 1]?.equity ?? decString(equityStart)), 'paper-run', stack.sim.sim.accountId);
      if (o.shock && day === o.shock.date) shocked = await heldDirections(deps.db);
      const closes = applyShock(await closesOn(stack, day), shocked, o.shock?.move ?? 0);
      stack.sim.sim.setPrices(closes);
      await publishMarks(deps.bus, closes, clock.now().toISOString());

      const run = await post<RunView>(`${stack.urls.orchestrator}/api/v1/orchestration/run`, o.config.apiToken, {
        strategy_id: strategyId,
        as_of_date: signalDate,
        trade_date: day,
        capital: o.capital,
        max_position_pct: o.maxPositionPct,
        top_n: o.topN,
        bottom_n: o.bottomN,
      });
      await settled(deps.db, day);
      const snap = await snapshot(deps.db, closes, equityStart, clock.now());
      const counts = (await deps.db.query<{ orders: number; fills: number }>(
        `SELECT (SELECT count(*) FROM orders WHERE trade_date = $1)::int AS orders,
                (SELECT count(*) FROM fills f JOIN orders o ON o.id = f.order_id WHERE o.trade_date = $1)::int AS fills`,
        [day],
      )).rows[0]!;
      daily.push({
        date: day,
        signal_date: signalDate,
        run_id: run.id,
        run_status: run.status,
        orders: counts.orders,
        fills: counts.fills,
        cash: snap.cash!,
        market_value: snap.market_value,
        equity: snap.equity!,
        realized_pnl: snap.realized_pnl,
        unrealized_pnl: snap.unrealized_pnl,
        total_pnl: snap.total_pnl,
      });
    }
    progress('trading', tradeDays.length, tradeDays.length);
    timings.trading = Math.round(performance.now() - t0 - timings.start!);

    const last = tradeDays[tradeDays.length - 1]!;
    const final = await snapshot(deps.db, applyShock(await closesOn(stack, last), shocked, o.shock?.move ?? 0), equityStart, clock.now());
    const brokerCash = dec((await stack.gateway.gateway.ctx.broker.getAccount()).cash);
    const equityEnd = dec(final.equity!);
    const orders = (
      await deps.db.query<PaperReport['orders'][number]>(
        `SELECT trade_date, client_order_id, symbol, side, qty::text AS qty, status, filled_qty::text AS filled_qty, filled_avg_price::text AS filled_avg_price
           FROM orders ORDER BY trade_date, symbol`,
      )
    ).rows;
    const runs = (await deps.db.query<RunView & { total_ms: number | null }>(
      `SELECT id, as_of_date, trade_date, status, signals_count, orders_planned, orders_submitted, orders_failed, model_version, total_ms
         FROM orchestration_runs WHERE strategy_id = $1 ORDER BY as_of_date`,
      [strategyId],
    )).rows;
    const info = stack.signals.signals.modelInfo();
    const model = info ? `${info.name} v${info.version}` : null;
    return {
      timezone: 'UTC',
      generated_at: new Date().toISOString(),
      strategy_id: strategyId,
      model,
      from: tradeDays[0]!,
      to: last,
      days: tradeDays.length,
      capital: decString(equityStart),
      equity_start: decString(equityStart),
      equity_end: final.equity!,
      realized_pnl: final.realized_pnl,
      unrealized_pnl: final.unrealized_pnl,
      total_pnl: final.total_pnl,
      reconciliation_difference: decString(dec(final.total_pnl).minus(equityEnd.minus(equityStart))),
      broker_cash_difference: decString(dec(final.cash!).minus(brokerCash)),
      daily,
      per_symbol: final.positions,
      positions: final.positions.filter((p) => p.qty !== '0'),
      orders,
      runs: runs.map((r) => ({ id: r.id, as_of_date: r.as_of_date, trade_date: r.trade_date, status: r.status, signals_count: r.signals_count, orders_planned: r.orders_planned, orders_submitted: r.orders_submitted, orders_failed: r.orders_failed, model_version: r.model_version, total_ms: r.total_ms })),
      timings_ms: { ...timings, total: Math.round(performance.now() - t0) },
    };
  } finally {
    await stack.close();
  }
}

/** Each symbol's latest raw (traded) close on or before the day, as decimal strings (a halted name keeps its last price). */
async function closesOn(stack: Stack, day: string): Promise<Record<string, string>> {
  const latest = await latestRawCloses(stack.catalog, { onOrBefore: day, withinDays: 10 });
  return Object.fromEntries([...latest].map(([s, x]) => [s, x.close]));
}

/** Sign of every open position (+1 long, −1 short). */
async function heldDirections(db: Db): Promise<Map<string, 1 | -1>> {
  const r = await db.query<{ symbol: string; long: boolean }>('SELECT symbol, qty > 0 AS long FROM positions WHERE qty <> 0');
  return new Map(r.rows.map((x) => [x.symbol, x.long ? 1 : -1]));
}

/** Moves each shocked symbol's price against its position by `move`, to the cent. */
function applyShock(closes: Record<string, string>, held: Map<string, 1 | -1>, move: number): Record<string, string> {
  if (held.size === 0 || move === 0) return closes;
  const out = { ...closes };
  for (const [sym, dir] of held) if (out[sym]) out[sym] = decString(dec(out[sym]!).times(1 - dir * move).toDecimalPlaces(2));
  return out;
}

/** What market data would do live: the latest price per symbol in the bus (`price:{symbol}`). */
async function publishMarks(bus: Bus, closes: Record<string, string>, ts: string): Promise<void> {
  await bus.mset(
    Object.entries(closes).map(([s, price]) => [`price:${s}`, JSON.stringify({ price, size: '0', ts })] as [string, string]),
    7 * 86_400,
  );
}

/** Waits until every order of the trade date is terminal and all its fills are booked. */
async function settled(db: Db, day: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    // Open orders, or filled quantity the broker reported whose fills our books have not recorded yet.
    const r = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM orders o
        WHERE o.trade_date = $1
          AND (o.status IN ('pending_new', 'accepted', 'new', 'partially_filled')
               OR o.filled_qty <> COALESCE((SELECT sum(f.qty) FROM fills f WHERE f.order_id = o.id), 0))`,
      [day],
    );
    if (r.rows[0]!.n === 0) return;
    if (Date.now() > until) throw new FailureError(`${r.rows[0]!.n} orders of ${day} still open after ${timeoutMs} ms: the broker did not fill them`, 'paper_run_stuck');
    await new Promise((res) => setTimeout(res, 10));
  }
}

/** Cash from our own fills ledger: capital − Σ buys + Σ sells. */
async function ledgerCash(db: Pick<Db, 'query'>, capital: ReturnType<typeof dec>) {
  const r = await db.query<{ side: string; notional: string }>(`SELECT side, sum(qty * price)::text AS notional FROM fills GROUP BY side`);
  const by = Object.fromEntries(r.rows.map((x) => [x.side, dec(x.notional)]));
  return capital.minus(by.buy ?? ZERO).plus(by.sell ?? ZERO);
}

async function snapshot(db: Db, closes: Record<string, string>, capital: ReturnType<typeof dec>, now: Date): Promise<PnlSnapshot> {
  // Positions and fills from one snapshot of the database, so a fill committing in between cannot split them.
  const { positions, cash } = await db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    const p = (await tx.query<{ symbol: string; qty: string; avg_entry_price: string; realized_pnl: string }>('SELECT symbol, qty::text, avg_entry_price::text, realized_pnl::text FROM positions ORDER BY symbol')).rows;
    return { positions: p, cash: await ledgerCash(tx, capital) };
  });
  return computePnl(positions, (s) => (closes[s] ? { price: closes[s]!, ts: now.toISOString() } : undefined), { now, cash });
}


async function post<T>(url: string, token: string | undefined, body: unknown): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  const json = (await res.json()) as T & { message?: string };
  if (!res.ok) throw new FailureError(`${url}: ${res.status} ${json.message ?? ''}`.trim(), 'paper_run_failed');
  return json;
}

/** A fresh embedded database for one paper run (var/paper/pg), so runs never mix books. */
export function freshPaperDir(varDir: string): string {
  const dir = join(varDir, 'paper');
  rmSync(join(dir, 'pg'), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}
