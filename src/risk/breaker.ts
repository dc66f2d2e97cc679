import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { DecimalLike } from '../core/money.js';
import {
  applyBreakerCommand,
  BREAKER_STATES,
  cooldownDue,
  dailyLossCheck,
  initialBreakerState,
  staleHoldings,
  type BreakerCommand,
  type BreakerGate,
  type BreakerState,
  type BreakerStateName,
  type LossCheck,
  type RefusalCode,
  type TripTrigger,
} from './breaker-state.js';
import type { BreakerConfig } from './config.js';
import type { RiskContext } from './context.js';
import type { RiskAudit } from './events.js';
import { BREAKER_STATE_VALUE, type RiskMetrics } from './metrics.js';
import type { StateStore } from './state-store.js';

/**
 * The circuit breaker shared by every gateway replica. The live state is one JSON value in the
 * state store (`breaker:state`, see breakerKey), changed only by compare-and-set on the value read, so when
 * two replicas race exactly one transition wins and the other sees its result. Each version is
 * audited once in Postgres (`risk_events`, unique on breaker id + version); a replica that
 * finds a version not yet audited (the winner crashed between the two writes) writes it.
 * When the store has no state (first start, Redis flushed) it is re-seeded from the last
 * audited transition, so losing Redis never silently re-opens a tripped breaker.
 */
export interface BreakerTransition {
  from: BreakerState;
  to: BreakerState;
}

export interface TransitionResult {
  /** True when this call made the transition (only then do onTransition listeners run here). */
  changed: boolean;
  state: BreakerState;
  refused?: { code: RefusalCode; message: string };
}

export interface CircuitBreakerDeps {
  store: StateStore;
  events: RiskAudit;
  clock: Clock;
  logger: Logger;
  config: BreakerConfig;
  /** Several independent breakers may share a store (default `default`). */
  id?: string;
  metrics?: RiskMetrics;
}

/** `breaker:state` (the name in src/bus/keys.ts) for the default breaker, `breaker:state:{id}` for others; before any key prefix. */
export const breakerKey = (id: string) => (id === 'default' ? 'breaker:state' : `breaker:state:${id}`);

export class BreakerStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BreakerStateError';
  }
}

export class CircuitBreaker {
  readonly id: string;
  private readonly key: string;
  private readonly listeners: Array<(t: BreakerTransition) => void | Promise<void>> = [];
  private auditedVersion = -1;
  private errors: number[] = [];

  constructor(private readonly deps: CircuitBreakerDeps) {
    this.id = deps.id ?? 'default';
    this.key = breakerKey(this.id);
  }

  get config(): BreakerConfig {
    return this.deps.config;
  }

  /** Runs after every transition this replica makes (e.g. de-risking after a trip). Errors are logged. */
  onTransition(fn: (t: BreakerTransition) => void | Promise<void>): void {
    this.listeners.push(fn);
  }

  /** The current state (applying a due QUIET_PERIOD → OPEN step). Throws when the store cannot be read. */
  async current(): Promise<BreakerState> {
    let s = (await this.read()).state;
    if (cooldownDue(s, this.deps.clock.now())) s = (await this.apply({ kind: 'cooldown', actor: 'system' })).state;
    return s;
  }

  /** The gate for a state already read (e.g. the one `evaluate` returns): saves a store read. */
  gateFor(state: BreakerState): BreakerGate {
    return gateOf(state, this.deps.config);
  }

  /** For the pre-trade checks: the state, or UNAVAILABLE (fail closed) when it cannot be read. */
  async gate(): Promise<BreakerGate> {
    try {
      return gateOf(await this.current(), this.deps.config);
    } catch (e) {
      this.deps.metrics?.breakerState.set({ breaker: this.id }, BREAKER_STATE_VALUE.UNAVAILABLE);
      this.deps.logger.error({ err: (e as Error).message, breaker: this.id }, 'circuit breaker state unavailable: failing closed');
      return { state: 'UNAVAILABLE', quietMode: this.deps.config.quiet_mode, detail: (e as Error).message };
    }
  }

  async trip(trigger: TripTrigger, reason: string, actor: string, detail: Record<string, unknown> = {}): Promise<TransitionResult> {
    return this.apply({ kind: 'trip', trigger, reason, actor, detail });
  }

  /** Manual reset: TRIPPED → QUIET_PERIOD (or OPEN when quiet_period_s is 0). The equity now becomes the day's loss reference. */
  async reset(reason: string, actor: string, equity: DecimalLike | null, tradeDate: string, detail: Record<string, unknown> = {}): Promise<TransitionResult> {
    return this.apply({ kind: 'reset', reason, actor, equity, tradeDate, detail });
  }

  /** Counts a broker error for the error-rate trigger (checked by `evaluate`). */
  noteError(at: Date = this.deps.clock.now()): void {
    const rate = this.deps.config.error_rate;
    if (!rate) return;
    const t = at.getTime();
    this.errors = this.errors.filter((x) => x > t - rate.window_s * 1000);
    this.errors.push(t);
  }

  /**
   * The automatic triggers against a snapshot: daily loss (from start-of-day equity, or from the
   * equity at a reset earlier that day; the tighter quiet_loss_pct in a `tight` quiet period),
   * stale market data and broker error rate (when configured). Trips at most once.
   */
  async evaluate(ctx: RiskContext, current?: Promise<BreakerState>): Promise<{ state: BreakerState; loss: LossCheck; tripped: TransitionResult | null }> {
    const cfg = this.deps.config;
    // `current`: the state read by the caller while it took the snapshot (one wait less).
    const s = await (current ?? this.current());
    const loss = dailyLossCheck(s, { equity: ctx.equity, startOfDayEquity: ctx.startOfDayEquity, tradeDate: ctx.tradeDate }, cfg);
    if (s.state === 'TRIPPED') return { state: s, loss, tripped: null };
    let trip: { trigger: TripTrigger; reason: string; detail: Record<string, unknown> } | null = null;
    if (loss.breached) {
      const ref = loss.basis === 'reset' ? 'the equity at the last reset' : 'start-of-day equity';
      trip = { trigger: 'daily_loss', reason: `equity ${loss.equity} is ${loss.loss_pct}% below ${ref} ${loss.reference} (limit ${loss.threshold_pct}%)`, detail: { loss, trade_date: ctx.tradeDate } };
    } else if (cfg.stale_data_s !== null) {
      const stale = staleHoldings(ctx, cfg.stale_data_s);
      if (stale.length) trip = { trigger: 'stale_data', reason: `no last price within ${cfg.stale_data_s} s for held ${stale.slice(0, 10).join(', ')}${stale.length > 10 ? ` and ${stale.length - 10} more` : ''}`, detail: { stale } };
    }
    if (!trip && cfg.error_rate) {
      const since = ctx.now - cfg.error_rate.window_s * 1000;
      this.errors = this.errors.filter((t) => t > since);
      if (this.errors.length >= cfg.error_rate.max_errors) trip = { trigger: 'error_rate', reason: `${this.errors.length} broker errors within ${cfg.error_rate.window_s} s (limit ${cfg.error_rate.max_errors})`, detail: { errors: this.errors.length } };
    }
    if (!trip) return { state: s, loss, tripped: null };
    const r = await this.trip(trip.trigger, trip.reason, 'system', trip.detail);
    if (r.changed && trip.trigger === 'error_rate') this.errors = [];
    return { state: r.state, loss, tripped: r };
  }

  // ---- internals ----

  private async read(): Promise<{ raw: string; state: BreakerState }> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const raw = await this.deps.store.get(this.key);
      if (raw !== null) {
        const state = parseBreakerState(raw);
        await this.ensureAudited(state);
        this.deps.metrics?.breakerState.set({ breaker: this.id }, BREAKER_STATE_VALUE[state.state]);
        return { raw, state };
      }
      const seed = await this.seed();
      const seedRaw = JSON.stringify(seed);
      if (await this.deps.store.compareAndSet(this.key, null, seedRaw)) {
        if (seed.version > 0) this.deps.logger.warn({ breaker: this.id, state: seed.state, version: seed.version }, 'circuit breaker state re-seeded from the audit trail');
        return { raw: seedRaw, state: seed };
      }
    }
    throw new BreakerStateError(`circuit breaker ${this.id}: the state store keeps changing under us`);
  }

  /** The last audited state, or the initial OPEN state when there is none. */
  private async seed(): Promise<BreakerState> {
    const last = await this.deps.events.lastBreakerEvent(this.id);
    const stored = last?.detail?.state;
    if (last && stored && typeof stored === 'object') {
      try {
        return parseBreakerState(JSON.stringify(stored));
      } catch {
        // fall through to the columns
      }
    }
    if (last && last.to_state && last.breaker_version !== null) {
      // Without a usable snapshot, keep the state and version; a reset will re-arm the rest.
      return { ...initialBreakerState(new Date(last.created_at)), state: last.to_state, version: last.breaker_version, trigger: 'init', reason: last.reason, actor: last.actor };
    }
    return initialBreakerState(this.deps.clock.now());
  }

  private async apply(cmd: BreakerCommand): Promise<TransitionResult> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const { raw, state } = await this.read();
      const out = applyBreakerCommand(state, cmd, this.deps.clock.now(), this.deps.config);
      if (!out.ok) return { changed: false, state, refused: { code: out.code, message: out.message } };
      const next = out.next;
      if (!(await this.deps.store.compareAndSet(this.key, raw, JSON.stringify(next)))) continue; // another replica moved first: re-read and decide again
      this.deps.metrics?.breakerTransitions.inc({ breaker: this.id, to: next.state, trigger: next.trigger });
      this.deps.metrics?.breakerState.set({ breaker: this.id }, BREAKER_STATE_VALUE[next.state]);
      this.deps.logger.warn({ breaker: this.id, from: state.state, to: next.state, trigger: next.trigger, actor: next.actor, reason: next.reason, version: next.version }, `circuit breaker ${state.state} → ${next.state}`);
      await this.ensureAudited(next);
      for (const fn of this.listeners) {
        try {
          await fn({ from: state, to: next });
        } catch (e) {
          this.deps.logger.error({ err: (e as Error).message, breaker: this.id }, 'circuit breaker transition listener failed');
        }
      }
      return { changed: true, state: next };
    }
    throw new BreakerStateError(`circuit breaker ${this.id}: could not apply ${cmd.kind} after 10 attempts (heavy contention)`);
  }

  /** Writes the audit row of this version if this replica has not seen it written (idempotent). */
  private async ensureAudited(s: BreakerState): Promise<void> {
    if (s.version === 0 || s.version <= this.auditedVersion) return;
    try {
      await this.deps.events.record({
        kind: 'breaker',
        code: s.trigger,
        actor: s.actor,
        reason: s.reason,
        at: new Date(s.since),
        breaker_id: this.id,
        breaker_version: s.version,
        from_state: s.from,
        to_state: s.state,
        detail: { ...s.detail, state: s },
      });
      this.auditedVersion = s.version;
    } catch (e) {
      // The transition stands (a trip must not wait for Postgres); the next read retries the audit.
      this.deps.logger.error({ err: (e as Error).message, breaker: this.id, version: s.version }, 'circuit breaker transition not audited yet (will retry)');
    }
  }
}

export function gateOf(s: BreakerState, cfg: Pick<BreakerConfig, 'quiet_mode'>): BreakerGate {
  const detail = s.state === 'OPEN' ? undefined : s.state === 'TRIPPED' ? `${s.trigger} at ${s.since}: ${s.reason}` : `until ${s.quiet_until ?? '?'}`;
  return { state: s.state, quietMode: cfg.quiet_mode, ...(detail ? { detail } : {}) };
}

/** Parses and checks a stored state; throws BreakerStateError on anything malformed (fail closed). */
export function parseBreakerState(raw: string): BreakerState {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new BreakerStateError('stored circuit breaker state is not JSON');
  }
  const o = v as Partial<BreakerState> | null;
  if (!o || typeof o !== 'object' || !BREAKER_STATES.includes(o.state as BreakerStateName) || typeof o.version !== 'number' || !Number.isInteger(o.version) || typeof o.since !== 'string') {
    throw new BreakerStateError('stored circuit breaker state is malformed');
  }
  return {
    state: o.state as BreakerStateName,
    version: o.version,
    since: o.since,
    trigger: o.trigger ?? 'init',
    reason: o.reason ?? '',
    actor: o.actor ?? 'system',
    quiet_until: o.quiet_until ?? null,
    reset_equity: o.reset_equity ?? null,
    reset_date: o.reset_date ?? null,
    from: o.from ?? null,
    detail: o.detail && typeof o.detail === 'object' ? o.detail : {},
  };
}
