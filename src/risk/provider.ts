import { newYorkDate, type Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { dec, type Decimal } from '../core/money.js';
import { BROKER_DECIMAL, decimalProblem, PRICE } from '../model/decimal.js';
import type { Queryable } from '../db/db.js';
import type { Bus } from '../bus/types.js';
import type { Broker } from '../execution/broker.js';
import type { OrderSide } from '../execution/broker.js';
import type { CorrelationConfig } from './config.js';
import { pendingBySymbol, priceMark, riskPosition, type CorrelationLookup, type PriceMark, type RiskContext, type RiskOpenOrder, type RiskPosition } from './context.js';
import type { CorrelationSource } from './correlation.js';

/**
 * Assembles the RiskContext the checks read. The Postgres implementation reads the gateway's
 * own tables (positions, open orders) in two indexed queries, last prices from an injected
 * source (the price cache), equity and buying power from an injected source (the broker
 * account, cached briefly), the start-of-day equity from `risk_day_start`, and correlations
 * from a CorrelationSource (cached per trading date). Anything it cannot get is left null and
 * the checks that need it fail closed.
 */
export interface SnapshotOptions {
  symbol?: string;
  symbols?: readonly string[];
  tradeDate?: string;
}

export interface RiskStateProvider {
  /** A snapshot for deciding on orders in `symbol`/`symbols` (their prices and correlations are included). */
  snapshot(opts?: SnapshotOptions): Promise<RiskContext>;
}

export interface LastPriceSource {
  /** Last prices for these symbols; absent symbols have none. */
  prices(symbols: readonly string[]): Promise<Map<string, PriceMark>>;
}

export interface EquitySnapshot {
  equity: Decimal | null;
  buyingPower: Decimal | null;
  /** When the source knows it (e.g. a backtest); otherwise risk_day_start supplies it. */
  startOfDayEquity?: Decimal | null;
  /**
   * The broker account the equity is of (its id). The start-of-day equity is kept per account:
   * a new account (a restarted or reset simulator) starts its own day. Absent = ''.
   */
  account?: string;
}

export interface EquitySource {
  equity(): Promise<EquitySnapshot>;
}

/** Last prices from a map you keep up to date (tests, simulations, an in-process feed). */
export class MapPriceSource implements LastPriceSource {
  readonly marks = new Map<string, PriceMark>();
  set(symbol: string, price: string | number | Decimal, ts: number | Date): void {
    this.marks.set(symbol, priceMark(price, typeof ts === 'number' ? ts : ts.getTime()));
  }
  async prices(symbols: readonly string[]): Promise<Map<string, PriceMark>> {
    const out = new Map<string, PriceMark>();
    for (const s of symbols) {
      const m = this.marks.get(s);
      if (m) out.set(s, m);
    }
    return out;
  }
}

/**
 * Last prices from the bus's price cache: `price:{symbol}` = JSON {price, size, ts} (written by
 * the market-data service; ts ISO-8601 or epoch ms). One MGET for all symbols. Malformed
 * entries count as missing (fail closed).
 */
export function busPriceSource(bus: Pick<Bus, 'mget'>, keyOf: (symbol: string) => string = (s) => `price:${s}`): LastPriceSource {
  return {
    async prices(symbols) {
      const out = new Map<string, PriceMark>();
      if (symbols.length === 0) return out;
      const raws = await bus.mget(symbols.map(keyOf));
      raws.forEach((raw, i) => {
        if (raw === null) return;
        const m = parsePriceEntry(raw);
        if (m) out.set(symbols[i]!, m);
      });
      return out;
    },
  };
}

/**
 * Live marks from `primary`; a symbol without one is priced at its stored close, marked
 * `source: 'last_close'` so every decision made on it says so (as-of mode of a gateway that
 * has no market data of its own: `kestrel serve gateway --as-of`).
 */
export function withLastCloseFallback(primary: LastPriceSource, closes: ReadonlyMap<string, { price: string; ts: number }>): LastPriceSource {
  return {
    async prices(symbols) {
      const out = await primary.prices(symbols);
      for (const s of symbols) {
        if (out.has(s)) continue;
        const c = closes.get(s);
        if (c) out.set(s, priceMark(c.price, c.ts, 'last_close'));
      }
      return out;
    },
  };
}

export function parsePriceEntry(raw: string): PriceMark | null {
  try {
    const v = JSON.parse(raw) as { price?: unknown; ts?: unknown } | null;
    if (typeof v !== 'object' || v === null) return null;
    // A Redis value is input like any other: the one bounded price rule (0 < p < 1e9) or missing.
    if (decimalProblem(v.price, { ...PRICE, allowNumber: true }) !== null) return null;
    const price = String(v.price);
    const ts = typeof v.ts === 'number' ? v.ts : typeof v.ts === 'string' ? Date.parse(v.ts) : NaN;
    if (!Number.isFinite(ts)) return null;
    return priceMark(price, ts);
  } catch {
    return null;
  }
}

/** A fixed equity (tests, simulations); mutate the fields to move it. */
export class StaticEquitySource implements EquitySource {
  constructor(public snap: EquitySnapshot) {}
  async equity(): Promise<EquitySnapshot> {
    return this.snap;
  }
}

/**
 * Equity and buying power from the broker account (`GET /v2/account`), cached for `ttlMs`
 * (default 1 s) so a burst of orders costs one call. A failed call yields nulls (fail closed)
 * and is retried on the next snapshot.
 */
export function brokerEquitySource(broker: Pick<Broker, 'getAccount'>, opts: { clock: Clock; ttlMs?: number; logger?: Logger }): EquitySource {
  let cached: { at: number; snap: EquitySnapshot } | null = null;
  let inflight: Promise<EquitySnapshot> | null = null;
  const ttl = opts.ttlMs ?? 1000;
  return {
    async equity() {
      const now = opts.clock.now().getTime();
      if (cached && now - cached.at < ttl) return cached.snap;
      inflight ??= (async () => {
        try {
          const a = await broker.getAccount();
          const read = (x: unknown) => (decimalProblem(x, BROKER_DECIMAL) === null ? dec(String(x)) : null);
          const snap = { equity: read(a.equity), buyingPower: read(a.buying_power), account: a.id };
          cached = { at: opts.clock.now().getTime(), snap };
          return snap;
        } catch (e) {
          opts.logger?.warn({ err: (e as Error).message }, 'risk: broker account unavailable; equity unknown (risk-increasing orders refused)');
          return { equity: null, buyingPower: null };
        } finally {
          inflight = null;
        }
      })();
      return inflight;
    },
  };
}

/**
 * Start-of-day equity per trading date and broker account (`risk_day_start`): the first value
 * recorded wins. Keyed by account so a new account (a simulator restarted or reset, another
 * broker) is never measured against the previous one's start of day.
 */
export class DayStartStore {
  private readonly memo = new Map<string, Decimal>();
  constructor(
    private readonly db: Queryable,
    private readonly clock: Clock,
  ) {}

  async get(tradeDate: string, account = ''): Promise<Decimal | null> {
    const key = `${tradeDate}/${account}`;
    const hit = this.memo.get(key);
    if (hit) return hit;
    const r = await this.db.query<{ equity: string }>('SELECT equity FROM risk_day_start WHERE trade_date = $1 AND account = $2', [tradeDate, account]);
    if (!r.rows[0]) return null;
    const v = dec(r.rows[0].equity);
    this.remember(key, v);
    return v;
  }

  /** Records equity for the date and account unless one is there already; returns the value in force. */
  async recordIfAbsent(tradeDate: string, equity: Decimal, source: string, account = ''): Promise<Decimal> {
    await this.db.query('INSERT INTO risk_day_start (trade_date, account, equity, source, recorded_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (trade_date, account) DO NOTHING', [
      tradeDate,
      account,
      equity.toFixed(),
      source,
      this.clock.now().toISOString(),
    ]);
    this.memo.delete(`${tradeDate}/${account}`);
    return (await this.get(tradeDate, account))!;
  }

  private remember(key: string, v: Decimal): void {
    this.memo.set(key, v);
    if (this.memo.size > 10) this.memo.delete(this.memo.keys().next().value!);
  }
}

/** Bound on the symbols a snapshot reads ahead (a book of thousands reads its prices after). */
const MAX_GUESSED_SYMBOLS = 2_000;

export interface PgRiskStateProviderDeps {
  db: Queryable;
  clock: Clock;
  prices: LastPriceSource;
  equity: EquitySource;
  /** Start-of-day equity store; default one over `db`. */
  dayStart?: DayStartStore;
  /** Correlations for the cluster check (when enabled). */
  correlations?: CorrelationSource;
  correlation: Pick<CorrelationConfig, 'enabled'>;
  logger?: Logger;
  /** Appended to `no_price` refusals: where prices come from in this deployment and how to get them. */
  noPriceHint?: string;
}

interface OpenOrderRow {
  client_order_id: string;
  symbol: string;
  side: OrderSide;
  qty: string;
  filled_qty: string;
  limit_price: string | null;
}

/** Orders that may still fill: at the broker, or written and about to be sent (pending_new). Keep in step with the partial index orders_risk_open (migrations/0006). */
export const RISK_OPEN_STATUSES = ['pending_new', 'accepted', 'new', 'partially_filled'] as const;

export class PgRiskStateProvider implements RiskStateProvider {
  private readonly dayStart: DayStartStore;

  constructor(private readonly deps: PgRiskStateProviderDeps) {
    this.dayStart = deps.dayStart ?? new DayStartStore(deps.db, deps.clock);
  }

  /** The symbols of the last snapshot: whose prices the next one reads without waiting for its own. */
  private lastSymbols: string[] = [];

  async snapshot(opts: SnapshotOptions = {}): Promise<RiskContext> {
    const now = this.deps.clock.now();
    const tradeDate = opts.tradeDate ?? newYorkDate(now);
    // Prices are read alongside the positions and open orders, for the symbols those are likely
    // to hold (the last snapshot's) plus the ones asked for; the rare symbol that turns up new
    // is read after. One round of waiting instead of two on every batch of pre-trade checks.
    const guess = new Set(this.lastSymbols);
    if (opts.symbol) guess.add(opts.symbol);
    for (const s of opts.symbols ?? []) guess.add(s);
    const [posRows, orderRows, eq, guessed] = await Promise.all([
      this.deps.db.query<{ symbol: string; qty: string; avg_entry_price: string }>('SELECT symbol, qty, avg_entry_price FROM positions WHERE qty <> 0'),
      this.deps.db.query<OpenOrderRow>(`SELECT client_order_id, symbol, side, qty, filled_qty, limit_price FROM orders WHERE status IN (${RISK_OPEN_STATUSES.map((s) => `'${s}'`).join(', ')})`),
      this.deps.equity.equity(),
      this.deps.prices.prices([...guess]),
    ]);
    const positions = new Map<string, RiskPosition>();
    for (const r of posRows.rows) positions.set(r.symbol, riskPosition(r.qty, r.avg_entry_price));
    const openOrders: RiskOpenOrder[] = [];
    for (const r of orderRows.rows) {
      const remaining = dec(r.qty).minus(dec(r.filled_qty));
      if (remaining.gt(0)) openOrders.push({ symbol: r.symbol, side: r.side, remaining, limitPrice: r.limit_price === null ? null : dec(r.limit_price), clientOrderId: r.client_order_id });
    }
    const symbols = new Set<string>(positions.keys());
    for (const o of openOrders) symbols.add(o.symbol);
    if (opts.symbol) symbols.add(opts.symbol);
    for (const s of opts.symbols ?? []) symbols.add(s);
    const list = [...symbols];
    this.lastSymbols = list.length <= MAX_GUESSED_SYMBOLS ? list : list.slice(0, MAX_GUESSED_SYMBOLS);

    const missing = list.filter((s) => !guess.has(s));
    const [late, correlations, sod] = await Promise.all([
      missing.length ? this.deps.prices.prices(missing) : new Map<string, PriceMark>(),
      this.correlations(list, tradeDate),
      this.startOfDay(tradeDate, eq),
    ]);
    // Only the symbols this snapshot is about (a guessed one no longer held is left out).
    const prices = new Map<string, PriceMark>();
    for (const s of list) {
      const m = guessed.get(s) ?? late.get(s);
      if (m) prices.set(s, m);
    }
    return {
      now: now.getTime(),
      tradeDate,
      positions,
      openOrders,
      pending: pendingBySymbol(openOrders),
      prices,
      equity: eq.equity,
      startOfDayEquity: sod,
      buyingPower: eq.buyingPower,
      correlations,
      memo: {},
      ...(this.deps.noPriceHint ? { noPriceHint: this.deps.noPriceHint } : {}),
    };
  }

  /**
   * Records the start-of-day equity now (call at the open; the first snapshot of a day does it
   * otherwise) for a broker account: default the one of the last snapshot. (Not asked of the
   * equity source here: that would cache this moment's equity for the snapshots after it.)
   */
  async recordDayStart(tradeDate: string, equity: Decimal, source = 'manual', account: string = this.lastAccount): Promise<Decimal> {
    return this.dayStart.recordIfAbsent(tradeDate, equity, source, account);
  }

  /** The broker account of the last snapshot's equity ('' before any). */
  private lastAccount = '';

  private async startOfDay(tradeDate: string, eq: EquitySnapshot): Promise<Decimal | null> {
    if (eq.startOfDayEquity) return eq.startOfDayEquity;
    const account = eq.account ?? '';
    if (eq.account) this.lastAccount = eq.account;
    const known = await this.dayStart.get(tradeDate, account);
    if (known) return known;
    if (!eq.equity || !eq.equity.gt(0)) return null;
    return this.dayStart.recordIfAbsent(tradeDate, eq.equity, 'first_snapshot', account);
  }

  private async correlations(symbols: string[], tradeDate: string): Promise<CorrelationLookup | null> {
    if (!this.deps.correlation.enabled || !this.deps.correlations || symbols.length === 0) return null;
    try {
      return await this.deps.correlations.lookup(symbols, tradeDate);
    } catch (e) {
      this.deps.logger?.warn({ err: (e as Error).message }, 'risk: correlations unavailable (risk-increasing orders refused while the cluster limit is enabled)');
      return null;
    }
  }
}

/** A provider over fixed inputs (tests, the simulation, backtests): build the context yourself. */
export class StaticRiskStateProvider implements RiskStateProvider {
  constructor(public build: (opts: SnapshotOptions) => RiskContext | Promise<RiskContext>) {}
  async snapshot(opts: SnapshotOptions = {}): Promise<RiskContext> {
    return this.build(opts);
  }
}
