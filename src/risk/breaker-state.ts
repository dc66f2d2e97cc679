import { dec, Decimal, type DecimalLike } from '../core/money.js';
import type { BreakerConfig } from './config.js';
import type { RiskContext } from './context.js';

/**
 * The circuit breaker as an explicit state machine (pure: no I/O, no clock of its own).
 *
 *        trip (daily_loss | manual | stale_data | error_rate)
 *   OPEN ─────────────────────────────────────────────▶ TRIPPED
 *    ▲                                                    │ reset (manual, with reason)
 *    │ cooldown (quiet_until passed)                      ▼
 *    └──────────────────────────────────────────── QUIET_PERIOD ──trip──▶ TRIPPED
 *
 * TRIPPED: risk-increasing orders are refused, reducing orders pass.
 * QUIET_PERIOD (quiet_mode `tight`, the default): every order passes, but the daily-loss
 * trigger is measured from the equity at the reset with the tighter quiet_loss_pct, so a market
 * that keeps falling re-trips quickly. (`reduce_only`: only reducing orders pass.)
 * A reset with quiet_period_s = 0 goes straight to OPEN.
 * Every state carries a version; stores change it only by compare-and-set on the previous
 * state, so replicas agree on one history and each version is audited exactly once.
 */
export const BREAKER_STATES = ['OPEN', 'TRIPPED', 'QUIET_PERIOD'] as const;
export type BreakerStateName = (typeof BREAKER_STATES)[number];

export const TRIP_TRIGGERS = ['manual', 'daily_loss', 'stale_data', 'error_rate'] as const;
export type TripTrigger = (typeof TRIP_TRIGGERS)[number];
export type BreakerTrigger = TripTrigger | 'reset' | 'cooldown' | 'init';

export interface BreakerState {
  state: BreakerStateName;
  /** 0 for the initial OPEN state; +1 per transition. */
  version: number;
  /** When this state was entered (UTC ISO-8601). */
  since: string;
  trigger: BreakerTrigger;
  reason: string;
  actor: string;
  /** QUIET_PERIOD only: when the breaker may return to OPEN. */
  quiet_until: string | null;
  /** Equity at the last reset and its trading date: the daily-loss reference for the rest of that day. */
  reset_equity: string | null;
  reset_date: string | null;
  /** The state this one was entered from (null for the initial state). */
  from: BreakerStateName | null;
  /** What the transition saw (loss figures, stale symbols, …): copied into the audit row. */
  detail: Record<string, unknown>;
}

export type BreakerCommand =
  | { kind: 'trip'; trigger: TripTrigger; reason: string; actor: string; detail?: Record<string, unknown> }
  | { kind: 'reset'; reason: string; actor: string; equity: DecimalLike | null; tradeDate: string; detail?: Record<string, unknown> }
  | { kind: 'cooldown'; actor: string; detail?: Record<string, unknown> };

/** Which command moves which state where; anything not listed is refused. */
export const BREAKER_TRANSITIONS: Readonly<Record<BreakerStateName, Partial<Record<BreakerCommand['kind'], BreakerStateName>>>> = {
  OPEN: { trip: 'TRIPPED' },
  TRIPPED: { reset: 'QUIET_PERIOD' },
  QUIET_PERIOD: { trip: 'TRIPPED', cooldown: 'OPEN' },
};

export type RefusalCode = 'already_tripped' | 'not_tripped' | 'quiet_period_running' | 'no_equity';
export type TransitionOutcome = { ok: true; next: BreakerState } | { ok: false; code: RefusalCode; message: string };

export function initialBreakerState(at: Date): BreakerState {
  return { state: 'OPEN', version: 0, since: at.toISOString(), trigger: 'init', reason: 'initial state', actor: 'system', quiet_until: null, reset_equity: null, reset_date: null, from: null, detail: {} };
}

/** The next state for a command, or why it is refused. */
export function applyBreakerCommand(s: BreakerState, cmd: BreakerCommand, now: Date, cfg: Pick<BreakerConfig, 'quiet_period_s'>): TransitionOutcome {
  let to = BREAKER_TRANSITIONS[s.state][cmd.kind];
  if (!to) return { ok: false, ...refusal(s, cmd) };
  const base = { version: s.version + 1, since: now.toISOString(), actor: cmd.actor, quiet_until: null, reset_equity: s.reset_equity, reset_date: s.reset_date, from: s.state, detail: cmd.detail ?? {} };
  switch (cmd.kind) {
    case 'trip':
      return { ok: true, next: { ...base, state: to, trigger: cmd.trigger, reason: cmd.reason } };
    case 'reset': {
      if (cmd.equity === null) return { ok: false, code: 'no_equity', message: 'cannot reset without the current equity: it becomes the daily-loss reference for the rest of the day' };
      const equity = dec(cmd.equity);
      if (!equity.gt(0)) return { ok: false, code: 'no_equity', message: `cannot reset with equity ${equity.toFixed()}: it must be positive` };
      if (cfg.quiet_period_s === 0) to = 'OPEN';
      const quietUntil = to === 'QUIET_PERIOD' ? new Date(now.getTime() + cfg.quiet_period_s * 1000).toISOString() : null;
      return { ok: true, next: { ...base, state: to, trigger: 'reset', reason: cmd.reason, quiet_until: quietUntil, reset_equity: equity.toFixed(), reset_date: cmd.tradeDate } };
    }
    case 'cooldown':
      if (s.quiet_until !== null && now.getTime() < Date.parse(s.quiet_until)) return { ok: false, code: 'quiet_period_running', message: `the quiet period runs until ${s.quiet_until}` };
      return { ok: true, next: { ...base, state: to, trigger: 'cooldown', reason: 'quiet period elapsed' } };
  }
}

function refusal(s: BreakerState, cmd: BreakerCommand): { code: RefusalCode; message: string } {
  if (cmd.kind === 'trip') return { code: 'already_tripped', message: `the breaker is already TRIPPED (since ${s.since}: ${s.reason})` };
  if (cmd.kind === 'reset' && s.state === 'QUIET_PERIOD') return { code: 'not_tripped', message: `the breaker was already reset; it is in QUIET_PERIOD until ${s.quiet_until ?? '?'}` };
  if (cmd.kind === 'reset') return { code: 'not_tripped', message: 'the breaker is OPEN: nothing to reset' };
  return { code: 'not_tripped', message: `no quiet period to end (state ${s.state})` };
}

/** The QUIET_PERIOD → OPEN step is due. */
export function cooldownDue(s: BreakerState, now: Date): boolean {
  return s.state === 'QUIET_PERIOD' && (s.quiet_until === null || now.getTime() >= Date.parse(s.quiet_until));
}

export interface LossCheck {
  /** start_of_day, or reset when the breaker was reset earlier the same trading day. */
  basis: 'start_of_day' | 'reset';
  reference: string | null;
  equity: string | null;
  /** (reference − equity) / reference × 100; negative for a gain; null when unknown. */
  loss_pct: string | null;
  threshold_pct: number;
  breached: boolean;
}

/**
 * The daily-loss trigger: loss from the reference equity against the threshold that applies
 * in this state. Unknown equity → not breached here (the pre-trade checks fail closed on it).
 */
export function dailyLossCheck(s: BreakerState, snap: { equity: Decimal | null; startOfDayEquity: Decimal | null; tradeDate: string }, cfg: Pick<BreakerConfig, 'daily_loss_pct' | 'quiet_loss_pct' | 'quiet_mode'>): LossCheck {
  const afterReset = s.reset_date === snap.tradeDate && s.reset_equity !== null;
  const reference = afterReset ? dec(s.reset_equity!) : snap.startOfDayEquity;
  const threshold = s.state === 'QUIET_PERIOD' && cfg.quiet_mode === 'tight' ? cfg.quiet_loss_pct : cfg.daily_loss_pct;
  const base = { basis: afterReset ? ('reset' as const) : ('start_of_day' as const), reference: reference?.toFixed() ?? null, equity: snap.equity?.toFixed() ?? null, threshold_pct: threshold };
  if (!reference || !reference.gt(0) || !snap.equity) return { ...base, loss_pct: null, breached: false };
  const loss = reference.minus(snap.equity).times(100).div(reference);
  return { ...base, loss_pct: loss.toDecimalPlaces(6, Decimal.ROUND_DOWN).toFixed(), breached: loss.gte(threshold) };
}

/** Held symbols whose last price is missing or older than staleS seconds. */
export function staleHoldings(ctx: RiskContext, staleS: number): string[] {
  const out: string[] = [];
  for (const symbol of ctx.positions.keys()) {
    const m = ctx.prices.get(symbol);
    if (!m || ctx.now - m.ts > staleS * 1000) out.push(symbol);
  }
  return out;
}

/** What the pre-trade checks need to know of the breaker. UNAVAILABLE: the state could not be read (fail closed). */
export interface BreakerGate {
  state: BreakerStateName | 'UNAVAILABLE';
  quietMode: BreakerConfig['quiet_mode'];
  /** For the refusal message. */
  detail?: string;
}

export const OPEN_GATE: BreakerGate = Object.freeze({ state: 'OPEN', quietMode: 'tight' });
