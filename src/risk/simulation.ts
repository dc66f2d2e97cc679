import { fixedClock, type Clock } from '../core/clock.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { dec, Decimal, ZERO } from '../core/money.js';
import type { Queryable } from '../db/db.js';
import type { OrderSide } from '../execution/broker.js';
import type { BreakerStateName } from './breaker-state.js';
import { CircuitBreaker } from './breaker.js';
import type { RiskCode } from './checks.js';
import { parseRiskConfig, type RiskConfig, type RiskConfigInput } from './config.js';
import { makeRiskContext, markToMarket, priceMark, riskPosition, type PriceMark, type RiskPosition } from './context.js';
import { RiskEngine } from './engine.js';
import { nullRiskAudit, RiskEventLog } from './events.js';
import { StaticRiskStateProvider } from './provider.js';
import { MemoryStateStore, type StateStore } from './state-store.js';

/**
 * A scripted price shock, reusable by the paper-run end-to-end test: a few trading days of
 * intraday marks where one name falls far enough that the day's loss crosses the breaker's
 * threshold. At every step the "strategy" tries one risk-increasing order and one reducing
 * order; approved orders fill at the mark. The run records, per step, the equity, the loss
 * against start-of-day equity, the breaker state and every decision, so a test can assert:
 * the breaker trips within the day the loss crosses the limit, and from then on no
 * risk-increasing order is approved while reducing orders are.
 *
 * To drive a real gateway instead, pass `submit` (e.g. POST /api/v1/orders) and `onMarks`
 * (push the marks to the price cache / simulated broker); the scenario data stays the same.
 */
export interface ShockScenario {
  cash: string;
  /** Signed shares held at the start. */
  positions: Record<string, string>;
  days: Array<{ date: string; steps: Array<Record<string, string>> }>;
  /** Tried at every step: adds to a position (risk-increasing). */
  increase: { symbol: string; side: OrderSide; qty: string };
  /** Tried at every step: cuts a held position (reducing). */
  reduce: { symbol: string; side: OrderSide; qty: string };
  /** Minutes between steps (from 14:30Z, i.e. the 09:30 New York open in winter). */
  stepMinutes: number;
}

/**
 * Three days. AAA (400 sh) is flat on day 1, falls 2 a step on day 2 from 101 to 85 (≈ −16 %,
 * about −6.7 % of equity with the position grown by the day's buys), drifts back up on day 3.
 * BBB (100 sh) is steady. Start equity 100 000 (cash 50 000).
 */
export const SHOCK_SCENARIO: ShockScenario = {
  cash: '50000',
  positions: { AAA: '400', BBB: '100' },
  days: [
    { date: '2025-03-03', steps: ['100', '101', '100.5', '101'].map((p) => ({ AAA: p, BBB: '100' })) },
    { date: '2025-03-04', steps: ['101', '99', '97', '95', '93', '91', '89', '87', '85'].map((p) => ({ AAA: p, BBB: '100' })) },
    { date: '2025-03-05', steps: ['86', '88', '90', '91'].map((p) => ({ AAA: p, BBB: '100.5' })) },
  ],
  increase: { symbol: 'AAA', side: 'buy', qty: '10' },
  reduce: { symbol: 'BBB', side: 'sell', qty: '5' },
  stepMinutes: 30,
};

/** Limits loose enough that only the breaker decides in the scenario. */
export const SHOCK_LIMITS: RiskConfigInput = {
  limits: { max_position_pct: null, max_gross_exposure_pct: 3, max_net_exposure_pct: 3, max_position_shares: 1_000_000, max_order_notional: '1000000' },
  correlation: { enabled: false },
  breaker: { daily_loss_pct: 5 },
};

export interface StepRecord {
  date: string;
  step: number;
  at: string;
  marks: Record<string, string>;
  equity: string;
  start_of_day_equity: string;
  /** Loss from start-of-day equity, % (negative = gain). */
  loss_pct: string;
  breaker_before: BreakerStateName | 'UNAVAILABLE';
  breaker_after: BreakerStateName | 'UNAVAILABLE';
  attempts: Array<{ kind: 'increase' | 'reduce'; symbol: string; side: OrderSide; qty: string; ok: boolean; code?: RiskCode | string }>;
}

export interface ShockRun {
  steps: StepRecord[];
  /** The first step at which the breaker was TRIPPED, or null. */
  trippedAt: { date: string; step: number; equity: string; loss_pct: string } | null;
  /** The first step at which the day's loss was ≥ the threshold. */
  crossedAt: { date: string; step: number; loss_pct: string } | null;
  final: { cash: string; positions: Record<string, string>; equity: string };
}

export interface ShockOptions {
  config?: RiskConfig;
  /** Default: in memory. Pass RedisStateStore + a real audit db to run it on the servers. */
  store?: StateStore;
  /** Where the breaker and refusals are audited (a migrated Postgres/PGlite); default: nowhere. */
  db?: Queryable;
  logger?: Logger;
  /** Replace the built-in engine + instant fill (e.g. POST to a gateway). */
  submit?: (o: { symbol: string; side: OrderSide; qty: string; mark: Decimal; at: Date }) => Promise<{ ok: boolean; code?: string }>;
  /** Called with each step's marks before the orders (push them to a price cache). */
  onMarks?: (marks: Record<string, string>, at: Date) => Promise<void> | void;
}

export async function runShockSimulation(scenario: ShockScenario = SHOCK_SCENARIO, opts: ShockOptions = {}): Promise<ShockRun> {
  const config = opts.config ?? parseRiskConfig(SHOCK_LIMITS);
  const logger = opts.logger ?? silentLogger();
  const clock: Clock & { set(d: Date | string): void } = fixedClock(`${scenario.days[0]!.date}T14:30:00Z`);
  const events = opts.db ? new RiskEventLog(opts.db) : nullRiskAudit;
  const breaker = new CircuitBreaker({ store: opts.store ?? new MemoryStateStore(), events, clock, logger, config: config.breaker });

  let cash = dec(scenario.cash);
  const positions = new Map<string, RiskPosition>(Object.entries(scenario.positions).map(([s, q]) => [s, riskPosition(q)]));
  const marks = new Map<string, PriceMark>();
  let sod = ZERO;
  let tradeDate = scenario.days[0]!.date;

  const equityNow = () => markToMarket(cash, positions, marks).equity;
  const provider = new StaticRiskStateProvider(() =>
    makeRiskContext({
      now: clock.now(),
      tradeDate,
      positions: [...positions].map(([s, p]) => [s, { qty: p.qty, avgPrice: p.avgPrice }] as const),
      prices: [...marks].map(([s, m]) => [s, { price: m.price, ts: m.ts }] as const),
      equity: equityNow(),
      startOfDayEquity: sod,
      // A cash account: buying power is the cash.
      buyingPower: cash,
    }),
  );
  const engine = new RiskEngine({ config, provider, breaker, events, logger });

  const fill = (symbol: string, side: OrderSide, qty: Decimal, price: Decimal) => {
    const signed = side === 'buy' ? qty : qty.neg();
    const p = positions.get(symbol) ?? riskPosition(ZERO);
    positions.set(symbol, riskPosition(p.qty.plus(signed), p.avgPrice));
    cash = cash.minus(signed.times(price));
  };
  const submit =
    opts.submit ??
    (async (o: { symbol: string; side: OrderSide; qty: string; mark: Decimal }) => {
      const { decision } = await engine.evaluate({ symbol: o.symbol, side: o.side, qty: o.qty, order_type: 'market', limit_price: null, trade_date: tradeDate, strategy_id: 'shock-sim' });
      if (decision.ok) fill(o.symbol, o.side, dec(o.qty), o.mark);
      return decision.ok ? { ok: true } : { ok: false, code: decision.code };
    });

  const steps: StepRecord[] = [];
  let trippedAt: ShockRun['trippedAt'] = null;
  let crossedAt: ShockRun['crossedAt'] = null;
  for (const day of scenario.days) {
    tradeDate = day.date;
    const open = new Date(`${day.date}T14:30:00Z`).getTime();
    // Start-of-day equity: yesterday's closing marks (the first day: its opening marks).
    if (marks.size === 0) for (const [s, p] of Object.entries(day.steps[0]!)) marks.set(s, priceMark(p, open));
    sod = equityNow();
    for (let i = 0; i < day.steps.length; i++) {
      const at = new Date(open + i * scenario.stepMinutes * 60_000);
      clock.set(at);
      for (const [s, p] of Object.entries(day.steps[i]!)) marks.set(s, priceMark(p, at.getTime()));
      await opts.onMarks?.(day.steps[i]!, at);
      const before = (await breaker.gate()).state;
      // The monitor tick: the breaker's triggers look at every new set of marks, orders or not.
      await engine.prepare(scenario.increase.symbol, tradeDate);
      const attempts: StepRecord['attempts'] = [];
      for (const [kind, o] of [
        ['increase', scenario.increase],
        ['reduce', scenario.reduce],
      ] as const) {
        const mark = marks.get(o.symbol)!.price;
        const r = await submit({ ...o, mark, at });
        attempts.push({ kind, ...o, ok: r.ok, ...(r.code ? { code: r.code } : {}) });
      }
      const after = (await breaker.gate()).state;
      const equity = equityNow();
      const loss = sod.minus(equity).times(100).div(sod);
      const rec: StepRecord = {
        date: day.date,
        step: i,
        at: at.toISOString(),
        marks: { ...day.steps[i]! },
        equity: equity.toFixed(2),
        start_of_day_equity: sod.toFixed(2),
        loss_pct: loss.toDecimalPlaces(4, Decimal.ROUND_HALF_EVEN).toFixed(),
        breaker_before: before,
        breaker_after: after,
        attempts,
      };
      steps.push(rec);
      if (!trippedAt && after === 'TRIPPED') trippedAt = { date: day.date, step: i, equity: rec.equity, loss_pct: rec.loss_pct };
      if (!crossedAt && loss.gte(config.breaker.daily_loss_pct)) crossedAt = { date: day.date, step: i, loss_pct: rec.loss_pct };
    }
  }
  return {
    steps,
    trippedAt,
    crossedAt,
    final: { cash: cash.toFixed(2), positions: Object.fromEntries([...positions].map(([s, p]) => [s, p.qty.toFixed()])), equity: equityNow().toFixed(2) },
  };
}
