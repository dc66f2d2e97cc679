import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { EnvReader, type Env } from '../core/config.js';
import { InputError } from '../core/errors.js';
import { dec, type Decimal } from '../core/money.js';
import { decimalProblem, MONEY } from '../model/decimal.js';
import { SYMBOL_MAX_LENGTH, trySymbol } from '../model/symbol.js';

/**
 * Risk limits: a JSON file (`KESTREL_RISK_FILE`) validated with zod, then environment
 * overrides (`RISK_*`). Every key is optional (defaults below); a limit set to `null` (or
 * `off` in the environment) is disabled. Unknown keys are errors, so a typo cannot silently
 * leave a limit at its default. A bad value stops start-up with a message that names the key
 * (and the environment variable or file it came from) and the fix. See docs/concepts/risk.md.
 *
 * Position and exposure limits are FRACTIONS of equity (0.1 = 10 %), the convention of the
 * orchestrator API (`max_position_pct: "0.1"`) and of `kestrel paper-run --max-position-pct`:
 * limits.max_position_pct, limits.max_gross_exposure_pct, limits.max_net_exposure_pct and
 * correlation.max_cluster_pct. A value that can only be a percent (e.g. 10) is refused with the
 * convention spelled out, never divided by 100 silently. (Until 2026-12 these were percents.)
 * The price band, the breaker's loss thresholds and reduce_pct are still percents (5 = 5 %).
 * Money is a decimal string or number, read exactly.
 */

export const CORRELATION_MODES = ['reject', 'resize'] as const;
export type CorrelationMode = (typeof CORRELATION_MODES)[number];
export const QUIET_MODES = ['tight', 'reduce_only'] as const;
export type QuietMode = (typeof QUIET_MODES)[number];
export const DERISK_POLICIES = ['none', 'cancel_open', 'flatten', 'reduce_pct'] as const;
export type DeriskPolicy = (typeof DERISK_POLICIES)[number];

/** Money from a file or the environment: the one bounded parser (|x| < 1e15, 10 places), > 0. */
const MONEY_LIMIT = { ...MONEY, allowNumber: true, min: 0, minExclusive: true, example: '"250000"' };
const positiveMoney = z
  .union([z.string(), z.number()])
  .superRefine((v, ctx) => {
    const problem = decimalProblem(v, MONEY_LIMIT);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .transform((v) => dec(v));

/** Tickers in the one grammar (src/model/symbol.ts); ASCII lower case is upper-cased. */
const ticker = z
  .string()
  .max(SYMBOL_MAX_LENGTH, 'must be a ticker such as "AAPL" or "BRK.B"')
  .superRefine((s, ctx) => {
    if (trySymbol(s) === null) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not a ticker such as "AAPL" or "BRK.B" (A-Z 0-9, optional .CLASS, ASCII only, no spaces)` });
  })
  .transform((s) => trySymbol(s)!);

const pct = (max: number) => z.number().gt(0, 'must be greater than 0').lte(max, `must be at most ${max}`);
/**
 * A fraction of equity in (0, max) — or (0, max] when `inclusive`. Old percent values (10, 150)
 * are all above max, so they are refused with the convention rather than read as 1000 %.
 */
const fractionOfEquity = (max: number, example: string, inclusive = true) => {
  const msg = `must be a fraction of equity greater than 0 and ${inclusive ? 'at most' : 'below'} ${max} (${example}), not a percent`;
  const n = z.number().gt(0, msg);
  return inclusive ? n.lte(max, msg) : n.lt(max, msg);
};
const seconds = z.number().int('must be a whole number of seconds').min(0, 'must be at least 0');

const limitsSchema = z.strictObject({
  /** Largest notional of one order: qty × max(limit price, last price). */
  max_order_notional: positiveMoney.nullable().default(dec('250000')),
  /** Largest absolute position in one symbol, in shares, counting open orders on the same side. */
  max_position_shares: z.number().int('must be a whole number of shares').positive('must be greater than 0').nullable().default(100_000),
  /**
   * Largest absolute position in one symbol as a fraction of equity (marked at the last price).
   * Below 1: `1` used to mean 1 %, and a 100 % cap is no cap (use null / off).
   */
  max_position_pct: fractionOfEquity(1, '10% = 0.1', false).nullable().default(0.1),
  /** Σ |position value| (worst case with open orders) as a fraction of equity (1.5 = 150 %). */
  max_gross_exposure_pct: fractionOfEquity(5, '150% = 1.5').nullable().default(1.5),
  /** |Σ signed position value| (worst case with open orders) as a fraction of equity. */
  max_net_exposure_pct: fractionOfEquity(5, '100% = 1').nullable().default(1),
  /** Limit orders: |limit − last| ≤ this % of the last price (fat-finger band). */
  price_band_pct: pct(100).nullable().default(5),
  /** Symbols no order may be placed in (either side). */
  restricted_symbols: z.array(ticker).default([]),
  /** A last price older than this counts as missing (fail closed). null: any age. */
  max_price_age_s: seconds.positive('must be greater than 0').nullable().default(4 * 86_400),
  /** Refuse risk-increasing orders whose cost exceeds the account's buying power. */
  check_buying_power: z.boolean().default(true),
});

const correlationSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Two names are "highly correlated" when their return correlation is ≥ this. */
  threshold: z.number().gt(0, 'must be greater than 0').lte(1, 'must be at most 1').default(0.8),
  /** Daily returns (of adjusted closes) in the window. */
  lookback_days: z.number().int().min(5, 'must be at least 5').max(750, 'must be at most 750').default(60),
  /** Fewer overlapping returns than this: the pair's correlation is unknown (not clustered). */
  min_observations: z.number().int().min(3, 'must be at least 3').default(40),
  /** |Σ signed value of the cluster| as a fraction of equity (0.25 = 25 %). */
  max_cluster_pct: fractionOfEquity(5, '25% = 0.25').default(0.25),
  /** What the orchestrator's sizing does on a breach (the gateway always refuses). */
  mode: z.enum(CORRELATION_MODES).default('resize'),
});

const breakerSchema = z
  .strictObject({
    /** Trip when equity falls this % below start-of-day equity (or the equity at the last reset that day). */
    daily_loss_pct: pct(100).default(5),
    /** Cool-down after a reset before the breaker is OPEN again. 0: straight back to OPEN. */
    quiet_period_s: seconds.default(1800),
    /** tight: every order passes but the breaker re-trips at quiet_loss_pct; reduce_only: only reducing orders pass. */
    quiet_mode: z.enum(QUIET_MODES).default('tight'),
    /** Loss from the equity at reset that re-trips during the quiet period. */
    quiet_loss_pct: pct(100).default(1),
    /** Trip when a held symbol's last price is older than this (null: off). */
    stale_data_s: seconds.positive('must be greater than 0').nullable().default(null),
    /** Trip after this many broker errors within window_s (null: off). */
    error_rate: z.strictObject({ max_errors: z.number().int().positive(), window_s: seconds.positive('must be greater than 0') }).nullable().default(null),
    /** What happens when the breaker trips (run by the replica whose trip won). */
    derisk: z
      .strictObject({
        policy: z.enum(DERISK_POLICIES).default('none'),
        /** reduce_pct: cut every position by this %. */
        reduce_pct: pct(100).default(50),
      })
      .prefault({}),
  })
  .refine((b) => b.quiet_loss_pct <= b.daily_loss_pct, { message: 'must not exceed breaker.daily_loss_pct (the quiet period is the tighter threshold)', path: ['quiet_loss_pct'] });

export const riskConfigSchema = z.strictObject({
  limits: limitsSchema.prefault({}),
  correlation: correlationSchema.prefault({}),
  breaker: breakerSchema.prefault({}),
});

export type RiskConfig = z.output<typeof riskConfigSchema>;
export type RiskLimits = RiskConfig['limits'];
export type CorrelationConfig = RiskConfig['correlation'];
export type BreakerConfig = RiskConfig['breaker'];
/** The file's shape before defaults (what you may write). */
export type RiskConfigInput = z.input<typeof riskConfigSchema>;

type EnvKind = 'money' | 'int' | 'num' | 'fraction' | 'bool' | 'list' | 'mode';
interface EnvOverride {
  env: string;
  path: readonly [string, ...string[]];
  kind: EnvKind;
  /** May be set to `off` (→ null). */
  nullable?: boolean;
}

/** Every environment override, with the config key it sets. */
export const RISK_ENV_OVERRIDES: readonly EnvOverride[] = [
  { env: 'RISK_MAX_ORDER_NOTIONAL', path: ['limits', 'max_order_notional'], kind: 'money', nullable: true },
  { env: 'RISK_MAX_POSITION_SHARES', path: ['limits', 'max_position_shares'], kind: 'int', nullable: true },
  { env: 'RISK_MAX_POSITION_PCT', path: ['limits', 'max_position_pct'], kind: 'fraction', nullable: true },
  { env: 'RISK_MAX_GROSS_EXPOSURE_PCT', path: ['limits', 'max_gross_exposure_pct'], kind: 'fraction', nullable: true },
  { env: 'RISK_MAX_NET_EXPOSURE_PCT', path: ['limits', 'max_net_exposure_pct'], kind: 'fraction', nullable: true },
  { env: 'RISK_PRICE_BAND_PCT', path: ['limits', 'price_band_pct'], kind: 'num', nullable: true },
  { env: 'RISK_RESTRICTED_SYMBOLS', path: ['limits', 'restricted_symbols'], kind: 'list' },
  { env: 'RISK_MAX_PRICE_AGE_S', path: ['limits', 'max_price_age_s'], kind: 'int', nullable: true },
  { env: 'RISK_CHECK_BUYING_POWER', path: ['limits', 'check_buying_power'], kind: 'bool' },
  { env: 'RISK_CORRELATION_ENABLED', path: ['correlation', 'enabled'], kind: 'bool' },
  { env: 'RISK_CORRELATION_THRESHOLD', path: ['correlation', 'threshold'], kind: 'num' },
  { env: 'RISK_CORRELATION_LOOKBACK_DAYS', path: ['correlation', 'lookback_days'], kind: 'int' },
  { env: 'RISK_CORRELATION_MIN_OBSERVATIONS', path: ['correlation', 'min_observations'], kind: 'int' },
  { env: 'RISK_MAX_CLUSTER_PCT', path: ['correlation', 'max_cluster_pct'], kind: 'fraction' },
  { env: 'RISK_CORRELATION_MODE', path: ['correlation', 'mode'], kind: 'mode' },
  { env: 'RISK_DAILY_LOSS_PCT', path: ['breaker', 'daily_loss_pct'], kind: 'num' },
  { env: 'RISK_QUIET_PERIOD_S', path: ['breaker', 'quiet_period_s'], kind: 'int' },
  { env: 'RISK_QUIET_MODE', path: ['breaker', 'quiet_mode'], kind: 'mode' },
  { env: 'RISK_QUIET_LOSS_PCT', path: ['breaker', 'quiet_loss_pct'], kind: 'num' },
  { env: 'RISK_STALE_DATA_S', path: ['breaker', 'stale_data_s'], kind: 'int', nullable: true },
  { env: 'RISK_DERISK_POLICY', path: ['breaker', 'derisk', 'policy'], kind: 'mode' },
  { env: 'RISK_DERISK_REDUCE_PCT', path: ['breaker', 'derisk', 'reduce_pct'], kind: 'num' },
];

export const RISK_FILE_ENV = 'KESTREL_RISK_FILE';

export interface LoadRiskConfigOptions {
  /** The environment map (or a reader over it). Only RISK_* and KESTREL_RISK_FILE are read. */
  env?: Env | EnvReader;
  /** Config file; overrides KESTREL_RISK_FILE. */
  file?: string;
  /** Relative file paths resolve against this. Default the working directory. */
  cwd?: string;
}

/** Defaults only (no file, no environment). */
export function defaultRiskConfig(): RiskConfig {
  return riskConfigSchema.parse({});
}

/** Validates an object as a risk config (defaults applied); throws InputError naming the key. */
export function parseRiskConfig(raw: unknown, origin = 'risk config', sources: ReadonlyMap<string, string> = new Map()): RiskConfig {
  const r = riskConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => {
    const key = i.path.map(String).join('.') || '(root)';
    const unknown = i.code === 'unrecognized_keys' ? ` unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => (key === '(root)' ? k : `${key}.${k}`)).join(', ')}` : '';
    const from = sources.get(key);
    return unknown ? unknown.trim() + ' (check the spelling; see docs/concepts/risk.md)' : `${key}${from ? ` (from ${from})` : ''}: ${i.message}`;
  });
  throw new InputError(`invalid ${origin}: ${problems.join('; ')}`, 'bad_config');
}

/**
 * Loads the risk config: file (option, else KESTREL_RISK_FILE, else none) → environment
 * overrides → validation. Throws InputError (exit 2 / refuse to start) on any problem.
 */
export function loadRiskConfig(opts: LoadRiskConfigOptions = {}): RiskConfig {
  const reader = opts.env instanceof EnvReader ? opts.env : new EnvReader(opts.env ?? {});
  const fileArg = opts.file ?? reader.str(RISK_FILE_ENV);
  let raw: Record<string, unknown> = {};
  let origin = 'risk config';
  if (fileArg) {
    const file = resolve(opts.cwd ?? process.cwd(), fileArg);
    if (!existsSync(file)) throw new InputError(`risk config file ${file} not found (${opts.file ? '--risk-file' : RISK_FILE_ENV}); create it (see docs/concepts/risk.md) or unset it for the defaults`, 'bad_config');
    if (/\.ya?ml$/i.test(file)) throw new InputError(`risk config file ${file}: YAML is not supported, write it as JSON (see docs/concepts/risk.md)`, 'bad_config');
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new InputError(`risk config file ${file} is not valid JSON: ${(e as Error).message}`, 'bad_config');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InputError(`risk config file ${file} must hold a JSON object ({"limits": {...}, "correlation": {...}, "breaker": {...}})`, 'bad_config');
    raw = parsed as Record<string, unknown>;
    origin = `risk config ${file}`;
  }
  const sources = new Map<string, string>();
  for (const o of RISK_ENV_OVERRIDES) {
    const v = reader.str(o.env);
    if (v === undefined) continue;
    // ASCII blanks only: String.prototype.trim would also eat NBSP, BOM and the like.
    setPath(raw, o.path, envValue(o, v.replace(/^[ \t]+|[ \t]+$/g, '')));
    sources.set(o.path.join('.'), `${o.env}=${JSON.stringify(v)}`);
  }
  return parseRiskConfig(raw, origin, sources);
}

function envValue(o: EnvOverride, v: string): unknown {
  if (o.nullable && ['off', 'none', 'null'].includes(v.toLowerCase())) return null;
  const bad = (fix: string): never => {
    throw new InputError(`invalid ${o.env}=${JSON.stringify(v)}: ${fix}`, 'bad_config');
  };
  switch (o.kind) {
    case 'money':
      return decimalProblem(v, MONEY) === null ? v : bad(`use a decimal amount such as 250000 (less than 10^15)${o.nullable ? ', or off' : ''}`);
    case 'int':
      return /^-?\d+$/.test(v) ? Number(v) : bad(`use a whole number${o.nullable ? ', or off' : ''}`);
    case 'num':
      return v !== '' && Number.isFinite(Number(v)) ? Number(v) : bad(`use a number${o.nullable ? ', or off' : ''}`);
    case 'fraction':
      // "10%" is refused like 10: the value is a fraction of equity (10% = 0.1).
      return /^\d*\.?\d+$/.test(v) ? Number(v) : bad(`use a fraction of equity such as 0.1 (10% = 0.1)${o.nullable ? ', or off' : ''}`);
    case 'bool':
      if (['true', '1', 'yes'].includes(v.toLowerCase())) return true;
      if (['false', '0', 'no'].includes(v.toLowerCase())) return false;
      return bad('use true or false');
    case 'list':
      // Spaces around the commas are list syntax; the tickers themselves are checked by the schema.
      return v === '' ? [] : v.split(/[ \t]*,[ \t]*/).filter(Boolean);
    case 'mode':
      return v;
  }
}

function setPath(obj: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let o = obj;
  for (const k of path.slice(0, -1)) {
    const next = o[k];
    if (next === undefined || next === null || typeof next !== 'object' || Array.isArray(next)) o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[path[path.length - 1]!] = value;
}

/** The config as JSON (Decimals as strings): what `GET /risk/status` and the docs show. */
export function riskConfigJson(c: RiskConfig): unknown {
  return JSON.parse(JSON.stringify(c, (_k, v: unknown) => (isDecimal(v) ? v.toFixed() : v)));
}

function isDecimal(v: unknown): v is Decimal {
  return typeof v === 'object' && v !== null && typeof (v as { toFixed?: unknown }).toFixed === 'function' && typeof (v as { isFinite?: unknown }).isFinite === 'function';
}
