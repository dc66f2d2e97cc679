import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Bus } from '../bus/index.js';
import { dayNumber, fixedClock } from '../core/clock.js';
import type { Config } from '../core/config.js';
import { FailureError, InputError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { averagePrice, cents, dec, Decimal, decString, priceAtTick, ZERO } from '../core/money.js';
import { loadRiskConfig } from '../risk/config.js';
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
  /** Orders the gateway refused that day (risk checks, kill switch, …), by reason code. */
  refused: number;
  refused_by: Record<string, number>;
}

/** Orders that did not trade as planned, by reason (docs/orchestrator.md: order statuses). */
export interface PaperRefusals {
  /** Orders refused at submission (gateway 4xx: risk checks, kill switch) or rejected by the broker. */
  orders: number;
  /** Per reason code (`max_gross_exposure`, `correlated_cluster`, `broker_rejected`, …), most frequent first. */
  by_reason: Record<string, number>;
  /** Trading days with at least one refused order. */
  days: number;
  /** Runs that ended `partial` (some orders refused or failed) and `failed`. */
  days_partial: number;
  days_failed: number;
  /** Orders the sizing cut to zero before submission (risk resize mode), by reason; not refusals. */
  limited_to_zero: Record<string, number>;
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
  /** Checked exactly inside: total P&L (realized + unrealized) − (equity_end − equity_start) is 0. */
  reconciled: boolean;
  /** That difference: "0.00" when it is exactly zero, else the exact figure (never rounded away). */
  reconciliation_difference: string;
  /** Our ledger's cash (from fills) against the broker's account cash, same rule. */
  broker_cash_difference: string;
  /** How figures are rounded in this report (docs/concepts/pnl.md, "Rounding at the edges"). */
  rounding: string;
  /** Up-front warnings: options that cannot fit the risk limits (see checkRiskFit). */
  warnings: string[];
  refusals: PaperRefusals;
  daily: PaperDay[];
  per_symbol: PnlSnapshot['positions'];
  positions: PnlSnapshot['positions'];
  orders: Array<{ trade_date: string; client_order_id: string; symbol: string; side: string; qty: string; status: string; filled_qty: string; filled_avg_price: string | null }>;
  runs: Array<Pick<RunView, 'id' | 'as_of_date' | 'trade_date' | 'status' | 'signals_count' | 'orders_planned' | 'orders_submitted' | 'orders_failed' | 'model_version' | 'finished_at'> & { total_ms: number | null }>;
  timings_ms: Record<string, number>;
}

const CLOSE_UTC_HOUR = 21; // after the 16:00 New York close in both EST and EDT

/** The stored trading days a run covers: the signal day before the first traded day, then the traded days. */
export interface PaperDays {
  /** dates[0] is the signal day of the first traded day; dates.slice(1) are traded. */
  dates: string[];
  /** The last trading day in the data store. */
  lastStored: string;
}

/**
 * Picks the days before anything is written. `--as-of` past the stored data is refused rather
 * than silently clamped: a run "as of 2030-01-01" that trades 2020's data would mislabel itself.
 */
export async function planPaperDays(config: Pick<Config, 'dataDir'>, asOf: string | undefined, days: number): Promise<PaperDays> {
  if (!Number.isInteger(days) || days < 1 || days > 2520) throw new InputError(`--days must be a whole number from 1 to 2520, got ${days}`, 'bad_usage');
  if (asOf !== undefined && !Number.isFinite(dayNumber(asOf))) throw new InputError(`--as-of ${JSON.stringify(asOf)} must be a date YYYY-MM-DD, e.g. 2019-12-31`, 'bad_usage');
  const { openCatalog } = await import('../data/catalog.js');
  const cat = await openCatalog(config.dataDir);
  try {
    if (!cat.views.includes('bars_raw')) throw new InputError('no bars in the data store: run `kestrel etl` first (or `kestrel start`)');
    const last = (await cat.query<{ d: string | null; first: string | null }>(`SELECT strftime(max(date), '%Y-%m-%d') AS d, strftime(min(date), '%Y-%m-%d') AS first FROM bars_raw`))[0];
    if (!last?.d) throw new InputError('no bars in the data store: run `kestrel etl` first (or `kestrel start`)');
    if (asOf !== undefined && asOf > last.d) {
      throw new InputError(`--as-of ${asOf} is after the last stored trading day ${last.d}: pass --as-of ${last.d} or earlier, or load newer bars with \`kestrel etl\``, 'bad_usage');
    }
    const rows = await cat.query<{ d: string }>(
      `SELECT DISTINCT strftime(date, '%Y-%m-%d') AS d FROM bars_raw ${asOf ? `WHERE date <= DATE '${asOf}'` : ''} ORDER BY d DESC LIMIT ${days + 1}`,
    );
    const dates = rows.map((r) => r.d).filter((d) => isTradingDay(dayNumber(d))).reverse();
    if (dates.length < days + 1) {
      throw new InputError(
        `--days ${days} needs ${days + 1} trading days of data up to ${asOf ?? last.d} (one before the first traded day, for its signals); the data store has ${dates.length} (from ${last.first})`,
        'bad_usage',
      );
    }
    return { dates, lastStored: last.d };
  } finally {
    cat.close();
  }
}

/**
 * Options that cannot fit the risk limits, found before the run: each would make the gateway
 * refuse orders on most days. Warnings, not refusals — a paper run is also how one watches the
 * risk layer work — and each names the limit and a setting that fits.
 *
 * Sizing (docs/orchestrator.md): a long is min(1/top_n, max_position_pct) of capital, a short
 * min(1/bottom_n, max_position_pct); gross = Σ longs + Σ shorts, net = |Σ longs − Σ shorts|.
 */
export function checkRiskFit(o: Pick<PaperRunOptions, 'capital' | 'maxPositionPct' | 'topN' | 'bottomN'>, limits: RiskFitLimits | null): string[] {
  if (!limits) return [];
  const out: string[] = [];
  const pct = dec(o.maxPositionPct);
  const per = (n: number) => (n > 0 ? Decimal.min(dec(1).div(n), pct) : ZERO);
  const long = per(o.topN);
  const short = per(o.bottomN);
  const gross = long.times(o.topN).plus(short.times(o.bottomN));
  const net = long.times(o.topN).minus(short.times(o.bottomN)).abs();
  const p = (d: Decimal) => `${decString(d.times(100).toDecimalPlaces(2))}%`;
  const biggest = Decimal.max(long, short);
  if (limits.max_position_pct !== null && biggest.gt(limits.max_position_pct)) {
    out.push(`each position is sized at ${p(biggest)} of capital, over the risk limit max_position_pct ${limits.max_position_pct} (${p(dec(limits.max_position_pct))}): the gateway will refuse the excess (max_position_pct); use --max-position-pct ${limits.max_position_pct} or less`);
  }
  if (limits.max_gross_exposure_pct !== null) {
    const cap = dec(limits.max_gross_exposure_pct);
    const fit = Math.floor(cap.div(Decimal.max(biggest, dec('1e-9'))).toNumber());
    const what = `--top-n ${o.topN} + --bottom-n ${o.bottomN} positions of up to ${p(biggest)} each make gross exposure ${p(gross)} of capital`;
    const limit = `the risk limit max_gross_exposure_pct ${limits.max_gross_exposure_pct} (${p(cap)})`;
    if (gross.gt(cap)) {
      out.push(`${what}, over ${limit}: orders will be refused (max_gross_exposure) on most days; keep top-n + bottom-n at ${fit} or fewer at this size, or lower --max-position-pct`);
    } else if (gross.plus(biggest.times(TURNOVER_HEADROOM)).gte(cap)) {
      const room = Math.max(0, Math.ceil(cap.div(biggest).minus(TURNOVER_HEADROOM).toNumber()) - 1);
      out.push(
        `${what}, within ${TURNOVER_HEADROOM} positions of ${limit}: on days the ranking changes, a new position is checked before the sale of the one it replaces has filled (open orders count at their worst), so orders will be refused (max_gross_exposure) on many days; top-n + bottom-n of ${room} or fewer at this size leaves that room`,
      );
    }
  }
  if (limits.max_net_exposure_pct !== null && net.gt(limits.max_net_exposure_pct)) {
    out.push(`longs and shorts leave net exposure ${p(net)} of capital, over the risk limit max_net_exposure_pct ${limits.max_net_exposure_pct} (${p(dec(limits.max_net_exposure_pct))}): orders will be refused (max_net_exposure); balance --top-n and --bottom-n`);
  }
  const orderCap = limits.max_order_notional;
  if (orderCap !== null) {
    const full = biggest.times(o.capital);
    if (full.gt(orderCap)) {
      out.push(`opening a position of ${p(biggest)} × capital ${cents(o.capital)} = ${cents(full)} is one order over the risk limit max_order_notional ${cents(orderCap)}: those orders will be refused (max_order_notional); lower --capital or --max-position-pct`);
    }
  }
  return out;
}

/**
 * Positions' worth of gross exposure a turnover day can add before the sales fill (checkRiskFit).
 * Measured on the sample, 60 days to 2019-12-31 at 10 % per name against the 150 % gross limit:
 * orders refused for max_gross_exposure — 10 + 10: 358; 7 + 7: 90 (45 days); 6 + 6: 28 (25 days);
 * 5 + 5: 1. Three positions of room separates 6 + 6 (warned) from 5 + 5 (not).
 */
const TURNOVER_HEADROOM = 3;

/** The limits checkRiskFit reads (src/risk/config.ts: fractions of equity; money as Decimal). */
export interface RiskFitLimits {
  max_position_pct: number | null;
  max_gross_exposure_pct: number | null;
  max_net_exposure_pct: number | null;
  max_order_notional: Decimal | null;
}

export async function runPaper(o: PaperRunOptions, deps: { db: Db; registryDb?: Db; bus: Bus }): Promise<PaperReport> {
  const t0 = performance.now();
  const progress = o.progress ?? (() => {});
  const strategyId = o.strategyId ?? 'paper';
  const { dates } = await planPaperDays(o.config, o.asOf, o.days);
  const warnings = o.config.riskEnabled ? checkRiskFit(o, loadRiskConfig({ env: o.config.riskEnv }).limits) : [];
  const tradeDays = dates.slice(1);

  const clock = fixedClock(`${dates[0]}T${CLOSE_UTC_HOUR}:00:00Z`);
  progress('starting the services', 0, tradeDays.length);
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
    logLevels: { orchestrator: 'error' },
  });
  const timings: Record<string, number> = { start: Math.round(performance.now() - t0) };
  try {
    const daily: PaperDay[] = [];
    const equityStart = dec(o.capital);
    let shocked = new Map<string, 1 | -1>();
    for (let i = 0; i < tradeDays.length; i++) {
      const day = tradeDays[i]!;
      const signalDate = dates[i]!;
      progress(`trading ${day}`, i, tradeDays.length);
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
        refused: 0,
        refused_by: {},
      });
    }
    progress(`traded to ${tradeDays[tradeDays.length - 1]}`, tradeDays.length, tradeDays.length);
    timings.trading = Math.round(performance.now() - t0 - timings.start!);

    const last = tradeDays[tradeDays.length - 1]!;
    const final = await snapshot(deps.db, applyShock(await closesOn(stack, last), shocked, o.shock?.move ?? 0), equityStart, clock.now());
    const brokerCashLedger = dec((await stack.gateway.gateway.ctx.broker.getAccount()).cash);
    const equityEnd = dec(final.equity!);
    const orders = (
      await deps.db.query<PaperReport['orders'][number]>(
        `SELECT trade_date, client_order_id, symbol, side, qty::text AS qty, status, filled_qty::text AS filled_qty, filled_avg_price::text AS filled_avg_price
           FROM orders ORDER BY trade_date, symbol`,
      )
    ).rows;
    const runs = (await deps.db.query<RunView & { total_ms: number | null }>(
      `SELECT id, as_of_date, trade_date, status, signals_count, orders_planned, orders_submitted, orders_failed, model_version, total_ms, finished_at
         FROM orchestration_runs WHERE strategy_id = $1 ORDER BY as_of_date`,
      [strategyId],
    )).rows;
    const refusals = await summarizeRefusals(deps.db, strategyId, daily);
    if (refusals.orders > 0) {
      // One warning for the run; each refusal is in the report (refusals, daily[].refused_by, runs) and at debug in the orchestrator's log.
      o.logger.warn(
        { refused: refusals.orders, by_reason: refusals.by_reason, days: refusals.days, days_partial: refusals.days_partial },
        `${refusals.orders} orders refused on ${refusals.days} of ${daily.length} days (${reasonList(refusals.by_reason)}): see the report's refusals`,
      );
    }
    const reconciliation = dec(final.total_pnl).minus(equityEnd.minus(equityStart));
    const brokerCash = dec(final.cash!).minus(brokerCashLedger);
    const info = stack.signals.signals.modelInfo();
    const model = info ? `${info.name} v${info.version}` : null;
    // Rounded here, at the edge; every figure above is exact (docs/concepts/pnl.md, "Rounding at the edges").
    return {
      timezone: 'UTC',
      generated_at: new Date().toISOString(),
      strategy_id: strategyId,
      model,
      from: tradeDays[0]!,
      to: last,
      days: tradeDays.length,
      capital: cents(equityStart),
      equity_start: cents(equityStart),
      equity_end: cents(equityEnd),
      realized_pnl: cents(final.realized_pnl),
      unrealized_pnl: cents(final.unrealized_pnl),
      total_pnl: cents(final.total_pnl),
      reconciled: reconciliation.isZero() && brokerCash.isZero(),
      reconciliation_difference: exactOrZero(reconciliation),
      broker_cash_difference: exactOrZero(brokerCash),
      rounding: ROUNDING_RULE,
      warnings,
      refusals,
      daily: daily.map((d) => ({ ...d, cash: cents(d.cash), market_value: cents(d.market_value), equity: cents(d.equity), realized_pnl: cents(d.realized_pnl), unrealized_pnl: cents(d.unrealized_pnl), total_pnl: cents(d.total_pnl) })),
      per_symbol: final.positions.map(roundPosition),
      positions: final.positions.filter((p) => p.qty !== '0').map(roundPosition),
      orders: orders.map((x) => ({ ...x, filled_avg_price: x.filled_avg_price === null ? null : priceAtTick(x.filled_avg_price) })),
      runs: runs.map((r) => ({ id: r.id, as_of_date: r.as_of_date, trade_date: r.trade_date, status: r.status, signals_count: r.signals_count, orders_planned: r.orders_planned, orders_submitted: r.orders_submitted, orders_failed: r.orders_failed, model_version: r.model_version, total_ms: r.total_ms, finished_at: r.finished_at })),
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
    // cost_basis, not the derived average: unrealized = qty × mark − basis is exact (src/pnl/portfolio.ts).
    const p = (await tx.query<{ symbol: string; qty: string; avg_entry_price: string; realized_pnl: string; cost_basis: string }>('SELECT symbol, qty::text, avg_entry_price::text, realized_pnl::text, cost_basis::text FROM positions ORDER BY symbol')).rows;
    return { positions: p, cash: await ledgerCash(tx, capital) };
  });
  return computePnl(positions, (s) => (closes[s] ? { price: closes[s]!, ts: now.toISOString() } : undefined), { now, cash });
}

export const ROUNDING_RULE =
  'ledgers exact; cash, P&L, equity and market value in cents (half-even); traded prices and marks at their tick (2 dp at $1 and above, 4 dp below); average prices 4 dp; quantities exact; each total is rounded from its exact sum, so rounded parts may differ from it by a cent; reconciliation differences are exact (0.00 when exactly zero)';

/** "0.00" when exactly zero; otherwise the exact figure, so a real difference is never rounded away. */
function exactOrZero(d: Decimal): string {
  return d.isZero() ? '0.00' : decString(d);
}

function roundPosition(p: PnlSnapshot['positions'][number]): PnlSnapshot['positions'][number] {
  return {
    ...p,
    avg_entry_price: averagePrice(p.avg_entry_price),
    mark: p.mark === null ? null : priceAtTick(p.mark),
    market_value: cents(p.market_value),
    unrealized_pnl: cents(p.unrealized_pnl),
    realized_pnl: cents(p.realized_pnl),
    total_pnl: cents(p.total_pnl),
  };
}

/** `max_gross_exposure 350, correlated_cluster 22` */
export function reasonList(by: Record<string, number>): string {
  return Object.entries(by).map(([k, n]) => `${k} ${n}`).join(', ');
}

/**
 * Orders that did not trade as planned, from the orchestrator's plan rows: `failed` carries the
 * gateway's answer (`gateway POST /api/v1/orders: 422 max_gross_exposure: …`), `rejected` is the
 * broker's, `limited` is a quantity the sizing cut to zero. Fills `refused` / `refused_by` of each day.
 */
async function summarizeRefusals(db: Db, strategyId: string, daily: PaperDay[]): Promise<PaperRefusals> {
  const rows = (
    await db.query<{ date: string; order_status: string; error: string | null; limited_by: string | null }>(
      `SELECT r.trade_date::text AS date, o.order_status, o.error, o.limited_by
         FROM orchestration_orders o JOIN orchestration_runs r ON r.id = o.run_id
        WHERE r.strategy_id = $1 AND o.order_status IN ('failed', 'rejected', 'limited')`,
      [strategyId],
    )
  ).rows;
  const byDay = new Map(daily.map((d) => [d.date, d]));
  const byReason: Record<string, number> = {};
  const limited: Record<string, number> = {};
  let orders = 0;
  for (const r of rows) {
    if (r.order_status === 'limited') {
      const code = /^([a-z_]+):/.exec(r.limited_by ?? '')?.[1] ?? 'limited';
      limited[code] = (limited[code] ?? 0) + 1;
      continue;
    }
    const code = r.order_status === 'rejected' ? 'broker_rejected' : (/\b[45]\d\d ([a-z_]+)(?::|$)/.exec(r.error ?? '')?.[1] ?? 'failed');
    orders++;
    byReason[code] = (byReason[code] ?? 0) + 1;
    const d = byDay.get(r.date.slice(0, 10));
    if (d) {
      d.refused++;
      d.refused_by[code] = (d.refused_by[code] ?? 0) + 1;
    }
  }
  const sorted = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
  return {
    orders,
    by_reason: sorted(byReason),
    days: daily.filter((d) => d.refused > 0).length,
    days_partial: daily.filter((d) => d.run_status === 'partial').length,
    days_failed: daily.filter((d) => d.run_status === 'failed').length,
    limited_to_zero: sorted(limited),
  };
}

async function post<T>(url: string, token: string | undefined, body: unknown): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  const json = (await res.json()) as T & { message?: string };
  if (!res.ok) throw new FailureError(`the orchestrator refused the day's run (${res.status}): ${json.message ?? ''}`.trim(), 'paper_run_failed');
  return json;
}

/** A fresh embedded database for one paper run (var/paper/pg), so runs never mix books. */
export function freshPaperDir(varDir: string): string {
  const dir = join(varDir, 'paper');
  rmSync(join(dir, 'pg'), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}
