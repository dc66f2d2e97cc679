/**
 * What a configured strategy is: the shape of one entry of the strategies file
 * (`KESTREL_STRATEGIES_FILE`), shared by the composition root (src/app/), the orchestrator and
 * the backtester. The file loader and the per-kind parameter checks live beside this module;
 * this one is types and the default only, so every layer above can import it.
 */
export const STRATEGY_KINDS = ['ml', 'momentum', 'mean-reversion', 'ensemble', 'sma-cross'] as const;
export type StrategyKind = (typeof STRATEGY_KINDS)[number];

/** When the strategy trades: `on_signals` = on every `signals.generated` event (today's behaviour). */
export const STRATEGY_SCHEDULES = ['on_signals'] as const;
export type StrategySchedule = (typeof STRATEGY_SCHEDULES)[number];

export interface StrategySpec {
  /** The `strategy_id` on its orders and runs: ASCII letters, digits, `-`, `_`. */
  id: string;
  kind: StrategyKind;
  /** Kind-specific parameters (validated by the kind); for `ml`: `top_n`, `bottom_n`. */
  params: Readonly<Record<string, unknown>>;
  /** Capital as a decimal string; absent = the account's starting cash (`SIM_STARTING_CASH` or `--capital`). */
  capital?: string;
  /** Largest weight of one position, a fraction (0.09 = 9 %). */
  max_position_pct: string;
  schedule: StrategySchedule;
  /** The strategy's universe; absent = every symbol the signal service scores. */
  symbols?: string[];
}

/** The strategies Kestrel runs when no file is configured: today's Alpha158 long/short book. */
export const DEFAULT_STRATEGIES: readonly StrategySpec[] = Object.freeze([
  Object.freeze({ id: 'alpha158-ls', kind: 'ml', params: Object.freeze({ top_n: 5, bottom_n: 5 }), max_position_pct: '0.09', schedule: 'on_signals' }) as StrategySpec,
]);
