import { createHash, randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { DEFAULT_SIM_STARTING_CASH } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { Decimal, dec, decString, ZERO } from '../core/money.js';
import { decimalProblem, PRICE, QTY } from '../model/decimal.js';
import { asciiUpper, trySymbol } from '../model/symbol.js';
import type { BrokerOrder, BrokerOrderStatus, OrderSide, OrderType, TimeInForce, TradeUpdate, TradeUpdateEvent } from '../execution/broker.js';
import { AlpacaApiError, CODES, invalid, notFound } from './errors.js';
import { isSettable, type PriceSource } from './prices.js';

/**
 * The simulated broker's state machine: one account (cash, average-cost positions), orders
 * with Alpaca's fields and statuses, fills. No HTTP here; routes and the stream sit on top.
 * Everything is synchronous and single-threaded, so events come out in the order things happen.
 */

export interface BrokerSimConfig {
  /** Market orders fill at price × (1 ± bps/10 000): buys pay up, sells get less. Default 0. */
  slippageBps?: number;
  /** 0 (default) = no partials; otherwise first a partial fill of floor(ratio × qty), then the rest. */
  partialFillRatio?: number;
  /** Default DEFAULT_SIM_STARTING_CASH ("1000000"; SIM_STARTING_CASH in the CLI). */
  startingCash?: string;
  /** When both are set, REST and stream require them. */
  apiKeyId?: string;
  apiSecretKey?: string;
  /** 0 (default): orders execute while the submission is handled; otherwise after this delay (and again between a partial and the rest). */
  fillDelayMs?: number;
  /** Orders on these symbols are accepted, then rejected (a `rejected` trade update). */
  rejectSymbols?: string[];
  /** The tradable universe; when set, any other symbol answers 422 like an unknown asset. */
  symbols?: string[];
}

/** An order as Alpaca's REST API and trade_updates stream show it (a superset of BrokerOrder). */
export interface AlpacaOrderJson extends BrokerOrder {
  expired_at: string | null;
  failed_at: string | null;
  replaced_at: string | null;
  replaced_by: string | null;
  replaces: string | null;
  asset_id: string;
  asset_class: 'us_equity';
  notional: string | null;
  order_class: 'simple';
  order_type: OrderType;
  stop_price: string | null;
  extended_hours: boolean;
  legs: null;
  trail_percent: string | null;
  trail_price: string | null;
  hwm: string | null;
}

export interface AlpacaTradeUpdate extends TradeUpdate {
  order: AlpacaOrderJson;
}

export interface AlpacaPositionJson {
  asset_id: string;
  symbol: string;
  exchange: string;
  asset_class: 'us_equity';
  asset_marginable: boolean;
  qty: string;
  qty_available: string;
  avg_entry_price: string;
  side: 'long' | 'short';
  market_value: string | null;
  cost_basis: string;
  unrealized_pl: string | null;
  unrealized_plpc: string | null;
  unrealized_intraday_pl: string | null;
  unrealized_intraday_plpc: string | null;
  current_price: string | null;
  lastday_price: string | null;
  change_today: string | null;
}

export interface AlpacaAccountJson {
  id: string;
  account_number: string;
  status: 'ACTIVE';
  crypto_status: 'INACTIVE';
  currency: 'USD';
  cash: string;
  equity: string;
  last_equity: string;
  portfolio_value: string;
  buying_power: string;
  regt_buying_power: string;
  daytrading_buying_power: string;
  non_marginable_buying_power: string;
  long_market_value: string;
  short_market_value: string;
  initial_margin: string;
  maintenance_margin: string;
  last_maintenance_margin: string;
  sma: string;
  multiplier: string;
  daytrade_count: number;
  pattern_day_trader: boolean;
  trading_blocked: boolean;
  transfers_blocked: boolean;
  account_blocked: boolean;
  trade_suspended_by_user: boolean;
  shorting_enabled: boolean;
  accrued_fees: string;
  pending_transfer_in: string;
  created_at: string;
}

/** The body of POST /v2/orders after JSON-schema checks (types only; meaning is checked here). Decimals may be JSON numbers, as Alpaca accepts. */
export interface OrderInput {
  symbol: string;
  side: string;
  type: string;
  time_in_force: string;
  qty?: string | number;
  notional?: string | number;
  limit_price?: string | number;
  stop_price?: string | number;
  trail_price?: string | number;
  trail_percent?: string | number;
  client_order_id?: string;
  extended_hours?: boolean;
  order_class?: string;
  take_profit?: unknown;
  stop_loss?: unknown;
  legs?: unknown;
  position_intent?: string;
  advanced_instructions?: unknown;
}

export interface OrderQuery {
  status?: 'open' | 'closed' | 'all';
  limit?: number;
  /** Only orders submitted strictly after / before these instants. */
  after?: string;
  until?: string;
  direction?: 'asc' | 'desc';
  symbols?: string[];
  side?: OrderSide;
}

const OPEN: ReadonlySet<BrokerOrderStatus> = new Set(['new', 'partially_filled', 'accepted', 'pending_new', 'accepted_for_bidding', 'pending_cancel', 'pending_replace', 'calculated', 'stopped', 'suspended', 'done_for_day']);
const SIDES = new Set(['buy', 'sell']);
const TIFS = new Set(['day', 'gtc', 'ioc', 'fok', 'opg', 'cls']);
const UNSUPPORTED_TYPES = new Set(['stop', 'stop_limit', 'trailing_stop']);
const BPS = new Decimal(10_000);
const MAX_CLIENT_ORDER_ID = 128;
const DEFAULT_LIST_LIMIT = 50;
const MAX_LIST_LIMIT = 500;

interface SimOrder {
  seq: number;
  id: string;
  clientOrderId: string;
  symbol: string;
  side: OrderSide;
  qty: Decimal;
  type: OrderType;
  tif: TimeInForce;
  limitPrice: Decimal | null;
  extendedHours: boolean;
  status: BrokerOrderStatus;
  filledQty: Decimal;
  filledNotional: Decimal;
  createdAt: Date;
  updatedAt: Date;
  filledAt: Date | null;
  canceledAt: Date | null;
  expiredAt: Date | null;
  failedAt: Date | null;
  /** Set once the configured partial fill has happened. */
  partialDone: boolean;
  /** Accepted only to be rejected (rejectSymbols). */
  rejectPending: boolean;
  timer: NodeJS.Timeout | null;
}

interface SimPosition {
  /** Signed: negative for a short. */
  qty: Decimal;
  /** Sum of |fill qty| × fill price of the open quantity (positive for longs and shorts alike). */
  cost: Decimal;
}

export class BrokerSim {
  /**
   * A new id per account: each simulator start, and each reset, is a new account (as a new
   * Alpaca account would be), so risk keeps its start-of-day equity apart from the old one's.
   */
  private account = randomUUID();
  private readonly slippage: Decimal;
  private readonly partialRatio: Decimal;
  private readonly startingCash: Decimal;
  private readonly fillDelayMs: number;
  private readonly rejectSymbols: Set<string>;
  private readonly universe: Set<string> | null;
  private readonly overrides = new Map<string, string>();
  private readonly listeners = new Set<(u: AlpacaTradeUpdate) => void>();
  private readonly unsubscribePrices: (() => void) | null;
  /** When this account started: construction, or the last reset. */
  private createdAt: Date;

  private cash: Decimal;
  private seq = 0;
  private orders = new Map<string, SimOrder>();
  private byClientId = new Map<string, SimOrder>();
  /**
   * Orders that may still be open: the buying-power and qty-available checks scan these instead
   * of every order ever placed. Pruned lazily as they are scanned — an order never reopens.
   */
  private maybeOpen = new Set<SimOrder>();
  private positions = new Map<string, SimPosition>();
  private closed = false;

  constructor(
    private readonly deps: { clock: Clock; logger: Logger; prices: PriceSource },
    config: BrokerSimConfig = {},
  ) {
    const bps = config.slippageBps ?? 0;
    if (!Number.isFinite(bps) || bps < 0) throw new RangeError(`slippageBps must be >= 0, got ${bps}`);
    const ratio = config.partialFillRatio ?? 0;
    if (!Number.isFinite(ratio) || ratio < 0 || ratio >= 1) throw new RangeError(`partialFillRatio must be in [0, 1), got ${ratio}`);
    this.slippage = dec(bps).div(BPS);
    this.partialRatio = dec(ratio);
    this.startingCash = dec(config.startingCash ?? DEFAULT_SIM_STARTING_CASH);
    this.fillDelayMs = Math.max(0, config.fillDelayMs ?? 0);
    this.rejectSymbols = new Set((config.rejectSymbols ?? []).map(asciiUpper));
    this.universe = config.symbols ? new Set(config.symbols.map(asciiUpper)) : null;
    this.cash = this.startingCash;
    this.createdAt = deps.clock.now();
    this.unsubscribePrices = deps.prices.onChange ? deps.prices.onChange((symbols) => this.pricesChanged(symbols)) : null;
  }

  get accountId(): string {
    return this.account;
  }

  // ---- prices -------------------------------------------------------------------------

  /** The last price the simulator trades against: an admin/test override, else the price source. */
  price(symbol: string): string | null {
    const s = asciiUpper(symbol);
    return this.overrides.get(s) ?? this.deps.prices.price(s);
  }

  setPrice(symbol: string, price: string): void {
    this.setPrices({ [symbol]: price });
  }

  /**
   * Sets prices (positive decimal strings) and re-checks resting orders on those symbols. Written
   * to the price source when it can be set (StaticPrices), else kept as overrides on top of it.
   */
  setPrices(prices: Record<string, string>): void {
    const checked = Object.entries(prices).map(([s, p]) => {
      const symbol = trySymbol(s);
      if (symbol === null) throw invalid(`not a ticker: ${JSON.stringify(s)} (A-Z 0-9, optional .CLASS)`);
      const problem = decimalProblem(p, PRICE);
      if (problem) throw invalid(`price of ${symbol} ${problem}, got ${JSON.stringify(p)}`);
      return [symbol, p] as const;
    });
    const src = this.deps.prices;
    if (isSettable(src)) {
      // One source of truth: write through, so later changes on the source are not shadowed.
      src.setMany(Object.fromEntries(checked));
      if (!src.onChange) this.pricesChanged(checked.map(([s]) => s));
      return;
    }
    for (const [s, p] of checked) this.overrides.set(s, p);
    this.pricesChanged(checked.map(([s]) => s));
  }

  /** Call when an external price source moved without notifying (no onChange). */
  pricesChanged(symbols?: string[]): void {
    if (this.closed) return;
    const set = symbols ? new Set(symbols.map(asciiUpper)) : null;
    for (const o of this.sortedOrders()) {
      if (OPEN.has(o.status) && !o.timer && (!set || set.has(o.symbol))) this.schedule(o);
    }
  }

  // ---- trade updates --------------------------------------------------------------------

  onTradeUpdate(listener: (u: AlpacaTradeUpdate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- orders ---------------------------------------------------------------------------

  /** Validates like Alpaca (422 / 403 as AlpacaApiError), records the order and starts executing it. */
  submitOrder(input: OrderInput): AlpacaOrderJson {
    const o = this.validate(input);
    this.orders.set(o.id, o);
    this.maybeOpen.add(o);
    this.byClientId.set(o.clientOrderId, o);
    this.deps.logger.debug({ order_id: o.id, client_order_id: o.clientOrderId, symbol: o.symbol, side: o.side, qty: decString(o.qty) }, 'order accepted');
    if (!o.rejectPending) this.emit('new', o);
    this.schedule(o);
    // With fillDelayMs = 0 the order may already be filled: the answer shows its current state.
    return this.toJson(o);
  }

  getOrder(id: string): AlpacaOrderJson {
    return this.toJson(this.find(id));
  }

  /** null when no order has this client_order_id. */
  getOrderByClientId(clientOrderId: string): AlpacaOrderJson | null {
    const o = this.byClientId.get(clientOrderId);
    return o ? this.toJson(o) : null;
  }

  listOrders(q: OrderQuery = {}): AlpacaOrderJson[] {
    const status = q.status ?? 'open';
    const after = q.after ? parseInstant(q.after, 'after') : null;
    const until = q.until ? parseInstant(q.until, 'until') : null;
    const symbols = q.symbols?.length ? new Set(q.symbols.map(asciiUpper)) : null;
    const limit = Math.min(Math.max(1, q.limit ?? DEFAULT_LIST_LIMIT), MAX_LIST_LIMIT);
    let list = this.sortedOrders().filter(
      (o) =>
        (status === 'all' || (status === 'open') === OPEN.has(o.status)) &&
        (!after || o.createdAt.getTime() > after) &&
        (!until || o.createdAt.getTime() < until) &&
        (!symbols || symbols.has(o.symbol)) &&
        (!q.side || o.side === q.side),
    );
    if ((q.direction ?? 'desc') === 'desc') list = list.reverse();
    return list.slice(0, limit).map((o) => this.toJson(o));
  }

  /** Alpaca: 404 if unknown, 422 if the order is no longer cancelable, else canceled (here at once). */
  cancelOrder(id: string): AlpacaOrderJson {
    const o = this.find(id);
    if (!OPEN.has(o.status)) throw new AlpacaApiError(422, CODES.unprocessable, `order is already in "${o.status}" state`);
    this.finish(o, 'canceled');
    return this.toJson(o);
  }

  /** Cancels every open order; returns what was canceled. */
  cancelAllOrders(): AlpacaOrderJson[] {
    return this.sortedOrders()
      .filter((o) => OPEN.has(o.status))
      .map((o) => {
        this.finish(o, 'canceled');
        return this.toJson(o);
      });
  }

  /** End of session: open day orders expire (an `expired` trade update each). */
  expireDayOrders(): AlpacaOrderJson[] {
    return this.sortedOrders()
      .filter((o) => OPEN.has(o.status) && o.tif === 'day')
      .map((o) => {
        this.finish(o, 'expired');
        return this.toJson(o);
      });
  }

  // ---- account --------------------------------------------------------------------------

  listPositions(): AlpacaPositionJson[] {
    return [...this.positions.keys()].sort().map((s) => this.positionJson(s));
  }

  getPosition(symbol: string): AlpacaPositionJson {
    const s = asciiUpper(symbol);
    if (!this.positions.has(s)) throw notFound('position does not exist');
    return this.positionJson(s);
  }

  getAccount(): AlpacaAccountJson {
    let long = ZERO;
    let short = ZERO;
    for (const [symbol, p] of this.positions) {
      const mv = p.qty.times(this.markPrice(symbol, p));
      if (p.qty.gt(0)) long = long.plus(mv);
      else short = short.plus(mv);
    }
    const equity = this.cash.plus(long).plus(short);
    const bp = Decimal.max(ZERO, this.cash.minus(this.reservedForBuys()));
    const s = (d: Decimal) => decString(d);
    return {
      id: this.accountId,
      account_number: 'SIM000001',
      status: 'ACTIVE',
      crypto_status: 'INACTIVE',
      currency: 'USD',
      cash: s(this.cash),
      equity: s(equity),
      last_equity: s(equity),
      portfolio_value: s(equity),
      buying_power: s(bp),
      regt_buying_power: s(bp),
      daytrading_buying_power: '0',
      non_marginable_buying_power: s(bp),
      long_market_value: s(long),
      short_market_value: s(short),
      initial_margin: '0',
      maintenance_margin: '0',
      last_maintenance_margin: '0',
      sma: '0',
      multiplier: '1',
      daytrade_count: 0,
      pattern_day_trader: false,
      trading_blocked: false,
      transfers_blocked: false,
      account_blocked: false,
      trade_suspended_by_user: false,
      shorting_enabled: true,
      accrued_fees: '0',
      pending_transfer_in: '0',
      created_at: this.createdAt.toISOString(),
    };
  }

  /** Back to a fresh account: starting cash, no orders, no positions, a new id and created_at (prices are kept). */
  reset(): void {
    this.account = randomUUID();
    this.createdAt = this.deps.clock.now();
    for (const o of this.orders.values()) this.clearTimer(o);
    this.orders = new Map();
    this.byClientId = new Map();
    this.maybeOpen = new Set();
    this.positions = new Map();
    this.cash = this.startingCash;
  }

  /** Stops timers and the price subscription; the state stays readable. */
  close(): void {
    this.closed = true;
    for (const o of this.orders.values()) this.clearTimer(o);
    this.unsubscribePrices?.();
    this.listeners.clear();
  }

  // ---- internals ------------------------------------------------------------------------

  private validate(input: OrderInput): SimOrder {
    if (typeof input.symbol !== 'string' || input.symbol === '') throw invalid('symbol is required');
    // The one ticker grammar (src/model/symbol.ts): ASCII upper-casing only, no trimming.
    const symbol = trySymbol(input.symbol);
    if (!SIDES.has(input.side)) throw invalid(`invalid side: ${JSON.stringify(input.side)}`);
    if (UNSUPPORTED_TYPES.has(input.type)) throw invalid(`order type "${input.type}" is not supported by the simulator (market and limit only)`);
    if (input.type !== 'market' && input.type !== 'limit') throw invalid(`invalid order type: ${JSON.stringify(input.type)}`);
    if (!input.time_in_force) throw invalid('time_in_force is required');
    if (!TIFS.has(input.time_in_force)) throw invalid(`invalid time_in_force: ${JSON.stringify(input.time_in_force)}`);
    if (input.order_class && input.order_class !== 'simple') throw invalid(`order_class "${input.order_class}" is not supported by the simulator`);
    if (input.take_profit !== undefined || input.stop_loss !== undefined || input.legs !== undefined) throw invalid('bracket, OCO, OTO and multi-leg orders are not supported by the simulator');
    if (input.notional !== undefined) throw invalid('notional orders are not supported by the simulator; send qty');
    if (input.stop_price !== undefined || input.trail_price !== undefined || input.trail_percent !== undefined) throw invalid('stop_price, trail_price and trail_percent need stop or trailing-stop orders, which the simulator does not support');
    if (input.qty === undefined || input.qty === '') throw invalid('qty is required');
    const qtyProblem = decimalProblem(input.qty, { ...QTY, allowNumber: true });
    if (qtyProblem) throw invalid(`invalid qty ${JSON.stringify(input.qty)}: ${qtyProblem}`);
    const qty = dec(input.qty);
    if (qty.lte(0)) throw invalid('qty must be > 0');
    if (!qty.isInteger()) throw invalid('fractional qty is not supported by the simulator (whole shares only)');

    let limitPrice: Decimal | null = null;
    if (input.type === 'limit') {
      if (input.limit_price === undefined || input.limit_price === '') throw invalid('limit_price is required for limit orders');
      const priceProblem = decimalProblem(input.limit_price, { ...PRICE, allowNumber: true });
      if (priceProblem) throw invalid(`invalid limit_price ${JSON.stringify(input.limit_price)}: ${priceProblem}`);
      limitPrice = dec(input.limit_price);
      const dp = limitPrice.gte(1) ? 2 : 4;
      if (limitPrice.decimalPlaces() > dp) {
        throw new AlpacaApiError(422, CODES.unprocessable, `invalid limit_price ${input.limit_price}. sub-penny increment does not fulfill minimum pricing criteria`);
      }
    } else if (input.limit_price !== undefined) {
      throw invalid('limit_price must not be set for market orders');
    }

    if (symbol === null || (this.universe && !this.universe.has(symbol))) throw invalid(`asset ${JSON.stringify(symbol ?? input.symbol)} not found`);

    const clientOrderId = input.client_order_id ?? randomUUID();
    if (clientOrderId.length > MAX_CLIENT_ORDER_ID) throw invalid(`client_order_id must be no more than ${MAX_CLIENT_ORDER_ID} characters`);
    if (this.byClientId.has(clientOrderId)) throw invalid('client_order_id must be unique');

    const side = input.side as OrderSide;
    this.checkQtyAvailable(symbol, side, qty);
    if (side === 'buy') this.checkBuyingPower(symbol, qty, limitPrice);

    const now = this.deps.clock.now();
    const rejectPending = this.rejectSymbols.has(symbol);
    return {
      seq: ++this.seq,
      id: randomUUID(),
      clientOrderId,
      symbol,
      side,
      qty,
      type: input.type,
      tif: input.time_in_force as TimeInForce,
      limitPrice,
      extendedHours: input.extended_hours ?? false,
      status: rejectPending ? 'accepted' : 'new',
      filledQty: ZERO,
      filledNotional: ZERO,
      createdAt: now,
      updatedAt: now,
      filledAt: null,
      canceledAt: null,
      expiredAt: null,
      failedAt: null,
      partialDone: false,
      rejectPending,
      timer: null,
    };
  }

  /** Like Alpaca, one order may close a position but not flip it (long → short or short → long). */
  private checkQtyAvailable(symbol: string, side: OrderSide, qty: Decimal): void {
    const pos = this.positions.get(symbol)?.qty ?? ZERO;
    const reducing = (side === 'sell' && pos.gt(0)) || (side === 'buy' && pos.lt(0));
    if (!reducing) return;
    const held = this.openOrders(symbol, side).reduce((acc, o) => acc.plus(o.qty.minus(o.filledQty)), ZERO);
    const available = Decimal.max(ZERO, pos.abs().minus(held));
    if (qty.gt(available)) {
      throw new AlpacaApiError(403, CODES.forbidden, `insufficient qty available for order (requested: ${decString(qty)}, available: ${decString(available)})`, {
        symbol,
        requested: decString(qty),
        available: decString(available),
      });
    }
  }

  /** Cash account semantics: a buy's estimated cost must fit in cash minus what open buys reserve. */
  private checkBuyingPower(symbol: string, qty: Decimal, limitPrice: Decimal | null): void {
    const est = this.estimatedBuyPrice(symbol, limitPrice);
    if (!est) return; // market order on a symbol without a price yet: nothing to estimate with
    const cost = qty.times(est);
    const bp = Decimal.max(ZERO, this.cash.minus(this.reservedForBuys()));
    if (cost.gt(bp)) {
      throw new AlpacaApiError(403, CODES.forbidden, 'insufficient buying power', { buying_power: decString(bp), cost_basis: decString(cost) });
    }
  }

  private estimatedBuyPrice(symbol: string, limitPrice: Decimal | null): Decimal | null {
    if (limitPrice) return limitPrice;
    const p = this.price(symbol);
    return p ? this.slipped(dec(p), 'buy') : null;
  }

  private reservedForBuys(): Decimal {
    let r = ZERO;
    for (const o of this.stillOpen()) {
      if (o.side !== 'buy') continue;
      const est = this.estimatedBuyPrice(o.symbol, o.limitPrice);
      if (est) r = r.plus(o.qty.minus(o.filledQty).times(est));
    }
    return r;
  }

  private openOrders(symbol: string, side: OrderSide): SimOrder[] {
    return this.stillOpen().filter((o) => o.symbol === symbol && o.side === side);
  }

  private stillOpen(): SimOrder[] {
    const open: SimOrder[] = [];
    for (const o of this.maybeOpen) {
      if (OPEN.has(o.status)) open.push(o);
      else this.maybeOpen.delete(o);
    }
    return open;
  }

  /** Execution now (fillDelayMs = 0) or after the delay. */
  private schedule(o: SimOrder): void {
    if (this.closed) return;
    if (this.fillDelayMs === 0) {
      this.process(o);
      return;
    }
    if (o.timer) return;
    o.timer = setTimeout(() => {
      o.timer = null;
      this.process(o);
    }, this.fillDelayMs);
  }

  /** One execution step: reject, wait, fill (partially), or cancel the unfilled rest of an IOC/FOK. */
  private process(o: SimOrder): void {
    if (!OPEN.has(o.status) || this.closed) return;
    if (o.rejectPending) {
      this.finish(o, 'rejected');
      return;
    }
    const immediate = o.tif === 'ioc' || o.tif === 'fok';
    const last = this.price(o.symbol);
    if (!last) {
      if (immediate) this.finish(o, 'canceled');
      return; // stays new until a price arrives
    }
    const market = dec(last);
    let fillPrice = this.slipped(market, o.side);
    if (o.limitPrice) {
      const marketable = o.side === 'buy' ? market.lte(o.limitPrice) : market.gte(o.limitPrice);
      if (!marketable) {
        if (immediate) this.finish(o, 'canceled');
        return;
      }
      fillPrice = o.side === 'buy' ? Decimal.min(fillPrice, o.limitPrice) : Decimal.max(fillPrice, o.limitPrice);
    }
    const remaining = o.qty.minus(o.filledQty);
    if (!o.partialDone && this.partialRatio.gt(0) && o.tif !== 'fok') {
      o.partialDone = true;
      const part = o.qty.times(this.partialRatio).floor();
      if (part.gt(0) && part.lt(remaining)) {
        this.fill(o, part, fillPrice);
        if (o.tif === 'ioc') this.finish(o, 'canceled');
        else this.schedule(o);
        return;
      }
    }
    this.fill(o, remaining, fillPrice);
  }

  /** Market price moved against the taker by the slippage, on the exchange's tick. */
  private slipped(price: Decimal, side: OrderSide): Decimal {
    if (this.slippage.isZero()) return price;
    const raw = side === 'buy' ? price.times(this.slippage.plus(1)) : price.times(new Decimal(1).minus(this.slippage));
    const dp = raw.gte(1) ? 2 : 4;
    return raw.toDecimalPlaces(dp, side === 'buy' ? Decimal.ROUND_UP : Decimal.ROUND_DOWN);
  }

  private fill(o: SimOrder, qty: Decimal, price: Decimal): void {
    const now = this.deps.clock.now();
    o.filledQty = o.filledQty.plus(qty);
    o.filledNotional = o.filledNotional.plus(qty.times(price));
    o.updatedAt = now;
    const done = o.filledQty.eq(o.qty);
    o.status = done ? 'filled' : 'partially_filled';
    if (done) o.filledAt = now;
    const positionQty = this.applyFill(o.symbol, o.side, qty, price);
    this.emit(done ? 'fill' : 'partial_fill', o, { execution_id: randomUUID(), price: decString(price), qty: decString(qty), position_qty: decString(positionQty) });
  }

  /** Average-cost position update; returns the signed position after the fill. */
  private applyFill(symbol: string, side: OrderSide, qty: Decimal, price: Decimal): Decimal {
    const pos = this.positions.get(symbol) ?? { qty: ZERO, cost: ZERO };
    const delta = side === 'buy' ? qty : qty.neg();
    const next = pos.qty.plus(delta);
    let cost: Decimal;
    if (pos.qty.isZero() || pos.qty.isPositive() === delta.isPositive()) {
      cost = pos.cost.plus(qty.times(price)); // opening or adding
    } else if (qty.lte(pos.qty.abs())) {
      cost = pos.cost.times(next.abs()).div(pos.qty.abs()); // reducing: the average stays
    } else {
      cost = next.abs().times(price); // through zero: the rest opens at this price
    }
    if (next.isZero()) this.positions.delete(symbol);
    else this.positions.set(symbol, { qty: next, cost });
    this.cash = side === 'buy' ? this.cash.minus(qty.times(price)) : this.cash.plus(qty.times(price));
    return next;
  }

  private finish(o: SimOrder, status: 'canceled' | 'expired' | 'rejected'): void {
    this.clearTimer(o);
    const now = this.deps.clock.now();
    o.status = status;
    o.updatedAt = now;
    if (status === 'canceled') o.canceledAt = now;
    if (status === 'expired') o.expiredAt = now;
    if (status === 'rejected') o.failedAt = now;
    this.emit(status, o);
  }

  private clearTimer(o: SimOrder): void {
    if (o.timer) clearTimeout(o.timer);
    o.timer = null;
  }

  private emit(event: TradeUpdateEvent, o: SimOrder, extra: Partial<AlpacaTradeUpdate> = {}): void {
    const u: AlpacaTradeUpdate = { event, ...extra, order: this.toJson(o), timestamp: o.updatedAt.toISOString() };
    this.deps.logger.debug({ event, order_id: o.id, status: o.status }, 'trade update');
    for (const l of this.listeners) {
      try {
        l(u);
      } catch (err) {
        this.deps.logger.error({ err }, 'trade update listener failed');
      }
    }
  }

  private find(id: string): SimOrder {
    const m = UUID_RE.exec(id);
    if (!m) throw invalid('invalid order_id');
    const o = this.orders.get(m.slice(1).join('-').toLowerCase());
    if (!o) throw notFound(`order not found for ${id}`);
    return o;
  }

  private sortedOrders(): SimOrder[] {
    return [...this.orders.values()].sort((a, b) => a.seq - b.seq);
  }

  private markPrice(symbol: string, p: SimPosition): Decimal {
    const last = this.price(symbol);
    return last ? dec(last) : p.cost.div(p.qty.abs());
  }

  private positionJson(symbol: string): AlpacaPositionJson {
    const p = this.positions.get(symbol)!;
    const last = this.price(symbol);
    const sign = p.qty.isNegative() ? -1 : 1;
    const avg = p.cost.div(p.qty.abs());
    const costBasis = p.cost.times(sign);
    const mv = last ? p.qty.times(dec(last)) : null;
    const upl = mv ? mv.minus(costBasis) : null;
    const held = this.openOrders(symbol, p.qty.isPositive() ? 'sell' : 'buy').reduce((acc, o) => acc.plus(o.qty.minus(o.filledQty)), ZERO);
    const s = (d: Decimal | null) => (d === null ? null : decString(d));
    return {
      asset_id: assetId(symbol),
      symbol,
      exchange: 'SIM',
      asset_class: 'us_equity',
      asset_marginable: true,
      qty: decString(p.qty),
      qty_available: decString(p.qty.minus(held.times(sign))),
      avg_entry_price: decString(avg.toDecimalPlaces(10)),
      side: sign < 0 ? 'short' : 'long',
      market_value: s(mv),
      cost_basis: decString(costBasis),
      unrealized_pl: s(upl),
      unrealized_plpc: upl ? decString(upl.div(p.cost).toDecimalPlaces(10)) : null,
      unrealized_intraday_pl: s(upl),
      unrealized_intraday_plpc: upl ? decString(upl.div(p.cost).toDecimalPlaces(10)) : null,
      current_price: last,
      lastday_price: last,
      change_today: last ? '0' : null,
    };
  }

  private toJson(o: SimOrder): AlpacaOrderJson {
    const iso = (d: Date | null) => (d ? d.toISOString() : null);
    return {
      id: o.id,
      client_order_id: o.clientOrderId,
      created_at: o.createdAt.toISOString(),
      updated_at: o.updatedAt.toISOString(),
      submitted_at: o.createdAt.toISOString(),
      filled_at: iso(o.filledAt),
      expired_at: iso(o.expiredAt),
      canceled_at: iso(o.canceledAt),
      failed_at: iso(o.failedAt),
      replaced_at: null,
      replaced_by: null,
      replaces: null,
      asset_id: assetId(o.symbol),
      symbol: o.symbol,
      asset_class: 'us_equity',
      notional: null,
      qty: decString(o.qty),
      filled_qty: decString(o.filledQty),
      filled_avg_price: o.filledQty.isZero() ? null : decString(o.filledNotional.div(o.filledQty).toDecimalPlaces(10)),
      order_class: 'simple',
      order_type: o.type,
      type: o.type,
      side: o.side,
      time_in_force: o.tif,
      limit_price: o.limitPrice ? decString(o.limitPrice) : null,
      stop_price: null,
      status: o.status,
      extended_hours: o.extendedHours,
      legs: null,
      trail_percent: null,
      trail_price: null,
      hwm: null,
    };
  }
}

const UUID_RE = /^([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})$/i;

const assetIds = new Map<string, string>();

/** A stable UUID-shaped asset id per symbol (Alpaca has real asset ids; we only need them stable). Memoised: every order JSON carries one. */
export function assetId(symbol: string): string {
  let id = assetIds.get(symbol);
  if (id === undefined) {
    const h = createHash('sha1').update(`kestrel-sim:${symbol}`).digest('hex');
    id = `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
    if (assetIds.size < 100_000) assetIds.set(symbol, id);
  }
  return id;
}

function parseInstant(v: string, name: string): number {
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw invalid(`invalid ${name}: ${JSON.stringify(v)}`);
  return t;
}
