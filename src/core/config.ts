import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { dayNumber } from './clock.js';
import { InputError } from './errors.js';

/**
 * The only module that reads process.env. Everything else receives a validated Config.
 * A bad value stops start-up with a message naming the key and the fix. (Hand-rolled rather
 * than zod: this runs on every CLI start, and zod's import alone costs ~45 ms there.)
 */
export type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  dataDir: string;
  varDir: string;
  gatesFile?: string;
  logLevel: LogLevel;
  logFormat: 'auto' | 'json' | 'pretty';
  databaseUrl?: string;
  redisUrl?: string;
  broker: 'sim' | 'alpaca';
  alpaca: { baseUrl?: string; streamUrl?: string; dataUrl?: string; keyId?: string; secretKey?: string };
  dryRun: boolean;
  /** Bearer token of the mutating routes (and of reads off loopback unless READ_TOKEN is set). */
  apiToken?: string;
  /** Bearer token that reads (GET) need; API_TOKEN is accepted for reads too. */
  readToken?: string;
  host: string;
  ports: { gateway: number; brokerSim: number; signals: number; orchestrator: number; marketdata: number; replay: number };
  /** Where other services are when they run as separate processes (default: HOST and their port). */
  urls: { gateway?: string; signals?: string };
  /** Live marks (`price:{symbol}`) older than this are stale: P&L and `kestrel status` fall back to the last close. */
  marksMaxAgeMs: number;
  /** RISK_ENABLED=false turns the gateway's pre-trade risk checks off (tests of other mechanics; loudly logged). */
  riskEnabled: boolean;
  /** The RISK_* and KESTREL_RISK_FILE variables, validated by src/risk/config.ts. */
  riskEnv: Env;
  /**
   * KESTREL_AS_OF: trade a stored day instead of today (`kestrel up`/`serve`, src/cli/as-of.ts):
   * a date YYYY-MM-DD or `last` (the data store's last day). Unset: `up` decides from the data.
   */
  asOf?: string;
  /** SIM_STARTING_CASH: the simulated account's starting cash everywhere (up, serve broker-sim, paper runs). */
  simStartingCash: string;
}

/** The variable that sets each service port (messages name it). */
export const PORT_VARS: Readonly<Record<keyof Config['ports'], string>> = {
  gateway: 'GATEWAY_PORT',
  brokerSim: 'BROKER_SIM_PORT',
  signals: 'SIGNALS_PORT',
  orchestrator: 'ORCHESTRATOR_PORT',
  marketdata: 'MARKETDATA_PORT',
  replay: 'REPLAY_PORT',
};

/** The simulated account's starting cash when SIM_STARTING_CASH is unset; also the default strategy's capital. */
export const DEFAULT_SIM_STARTING_CASH = '1000000';

/** Typed readers over an env map; each throws InputError naming the key and the fix. */
export class EnvReader {
  constructor(private readonly env: Env) {}

  private fail(key: string, fix: string, secret = false): never {
    const shown = secret ? '' : `=${JSON.stringify(this.env[key])}`;
    throw new InputError(`invalid ${key}${shown}: ${fix}`, 'bad_config');
  }

  private raw(key: string): string | undefined {
    const v = this.env[key];
    return v === undefined || v === '' ? undefined : v;
  }

  str(key: string, fallback: string): string;
  str(key: string): string | undefined;
  str(key: string, fallback?: string): string | undefined {
    return this.raw(key) ?? fallback;
  }

  /** A bearer token under TOKEN_POLICY; set but empty counts as unset (the value is never echoed). */
  token(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    const problem = tokenProblem(v);
    if (problem) this.fail(key, `${problem}; generate one with: openssl rand -hex 24 (or unset it to serve on 127.0.0.1 only)`, true);
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T, fix?: string): T {
    const v = this.raw(key);
    if (v === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(v)) this.fail(key, fix ?? `use one of ${allowed.join(', ')}`);
    return v as T;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw(key)?.toLowerCase();
    if (v === undefined) return fallback;
    if (['true', '1', 'yes'].includes(v)) return true;
    if (['false', '0', 'no'].includes(v)) return false;
    return this.fail(key, 'use true or false');
  }

  int(key: string, fallback: number, min: number, max: number, fix?: string): number {
    const v = this.raw(key);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!/^-?\d+$/.test(v) || n < min || n > max) this.fail(key, fix ?? `use a whole number from ${min} to ${max}`);
    return n;
  }

  num(key: string, fallback: number, min: number, max: number, fix?: string): number {
    const v = this.raw(key);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) this.fail(key, fix ?? `use a number from ${min} to ${max}`);
    return n;
  }

  /** A positive amount of dollars as decimal text (cents at most), e.g. "1000000" or "250000.50". */
  usd(key: string, fallback: string): string {
    const v = this.raw(key);
    if (v === undefined) return fallback;
    if (!/^\d{1,13}(\.\d{1,2})?$/.test(v) || !/[1-9]/.test(v)) this.fail(key, 'use a positive amount of dollars such as 1000000 (at most 2 decimals)');
    return v;
  }

  /** A trading date YYYY-MM-DD or `last`. */
  asOf(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (v !== 'last' && !Number.isFinite(dayNumber(v))) this.fail(key, 'use a date YYYY-MM-DD of the stored data or last (its last day)');
    return v;
  }

  port(key: string, fallback: number): number {
    return this.int(key, fallback, 0, 65535, 'use a TCP port number 0-65535');
  }

  /** URLs may carry credentials: the value is never echoed. */
  url(key: string, protocols: string[], fix: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    let protocol = '';
    try {
      protocol = new URL(v).protocol;
    } catch {
      // not a URL: protocol stays empty
    }
    if (!protocols.includes(protocol)) this.fail(key, fix, true);
    return v;
  }
}

/**
 * What a bearer token must be: 16 to 512 visible ASCII characters (no spaces: HTTP trims header
 * values, so a token with blanks could never match), at least 8 distinct ones (refuses
 * "aaaaaaaaaaaaaaaa", "1212121212121212" and 16 spaces). `openssl rand -hex 24` passes.
 */
export const TOKEN_POLICY = { minLength: 16, maxLength: 512, minDistinct: 8 } as const;

/** Why a token is unacceptable (reads after the variable name), or null. */
export function tokenProblem(v: string): string | null {
  if (v.trim() === '') return 'is blank';
  if (!/^[\x21-\x7e]+$/.test(v)) return 'must be visible ASCII characters only (no spaces, tabs or line breaks)';
  if (v.length < TOKEN_POLICY.minLength) return `is too short: use at least ${TOKEN_POLICY.minLength} characters`;
  if (v.length > TOKEN_POLICY.maxLength) return `is too long: use at most ${TOKEN_POLICY.maxLength} characters`;
  if (new Set(v).size < TOKEN_POLICY.minDistinct) return `is too easy to guess: use at least ${TOKEN_POLICY.minDistinct} different characters`;
  return null;
}

/** Loads `.env` from the working directory (without overriding real environment variables). */
export function loadDotEnv(cwd = process.cwd()): void {
  const file = resolve(cwd, '.env');
  if (existsSync(file)) process.loadEnvFile(file);
}

export function loadConfig(env: Env = process.env): Config {
  const e = new EnvReader(env);
  const gatesFile = e.str('KESTREL_GATES_FILE');
  return {
    dataDir: resolve(e.str('KESTREL_DATA_DIR', './data')),
    varDir: resolve(e.str('KESTREL_VAR_DIR', './var')),
    gatesFile: gatesFile ? resolve(gatesFile) : undefined,
    logLevel: e.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    logFormat: e.oneOf('LOG_FORMAT', ['auto', 'json', 'pretty'] as const, 'auto', 'use auto (pretty in a terminal), json or pretty'),
    databaseUrl: e.url('DATABASE_URL', ['postgres:', 'postgresql:'], 'use postgres://user@host:5432/db, or unset it for the embedded PGlite'),
    redisUrl: e.url('REDIS_URL', ['redis:', 'rediss:'], 'use redis://host:6379, or unset it for the in-process bus'),
    broker: e.oneOf('BROKER', ['sim', 'alpaca'] as const, 'sim', 'use sim (built-in simulated broker) or alpaca'),
    alpaca: {
      baseUrl: e.url('ALPACA_BASE_URL', ['http:', 'https:'], 'use an http(s) URL such as https://paper-api.alpaca.markets'),
      streamUrl: e.url('ALPACA_STREAM_URL', ['ws:', 'wss:'], 'use a ws(s) URL for the trade_updates stream'),
      dataUrl: e.url('ALPACA_DATA_URL', ['http:', 'https:', 'ws:', 'wss:'], 'use a URL of the market-data service'),
      keyId: e.str('ALPACA_API_KEY_ID'),
      secretKey: e.str('ALPACA_API_SECRET_KEY'),
    },
    dryRun: e.bool('DRY_RUN', false),
    apiToken: e.token('API_TOKEN'),
    readToken: e.token('READ_TOKEN'),
    host: e.str('HOST', '127.0.0.1'),
    ports: {
      gateway: e.port('GATEWAY_PORT', 7301),
      brokerSim: e.port('BROKER_SIM_PORT', 7302),
      signals: e.port('SIGNALS_PORT', 7303),
      orchestrator: e.port('ORCHESTRATOR_PORT', 7304),
      marketdata: e.port('MARKETDATA_PORT', 7305),
      replay: e.port('REPLAY_PORT', 7306),
    },
    urls: {
      gateway: e.url('GATEWAY_URL', ['http:', 'https:'], 'use the gateway base URL, e.g. http://10.0.0.5:7301'),
      signals: e.url('SIGNALS_URL', ['http:', 'https:'], 'use the signal service base URL, e.g. http://10.0.0.6:7303'),
    },
    marksMaxAgeMs: e.int('MARKS_MAX_AGE_MS', 60_000, 1_000, 86_400_000, 'use milliseconds from 1000 to 86400000 (default 60000)'),
    riskEnabled: e.bool('RISK_ENABLED', true),
    asOf: e.asOf('KESTREL_AS_OF'),
    simStartingCash: e.usd('SIM_STARTING_CASH', DEFAULT_SIM_STARTING_CASH),
    riskEnv: Object.fromEntries(Object.entries(env).filter(([k]) => (k.startsWith('RISK_') && k !== 'RISK_ENABLED') || k === 'KESTREL_RISK_FILE')),
  };
}
