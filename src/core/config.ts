import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { InputError } from './errors.js';

/**
 * The only module that reads process.env. Everything else receives a validated Config.
 * A bad value stops start-up with a message naming the key and the fix.
 */
const LogLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

const Bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .default('false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const Port = z.coerce.number().int().min(0).max(65535);
const Url = (protocols: string[]) =>
  z
    .string()
    .refine((v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    })
    .optional();

const EnvSchema = z.object({
  KESTREL_DATA_DIR: z.string().min(1).default('./data'),
  KESTREL_VAR_DIR: z.string().min(1).default('./var'),
  KESTREL_GATES_FILE: z.string().min(1).optional(),
  LOG_LEVEL: LogLevel.default('info'),
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  DATABASE_URL: Url(['postgres:', 'postgresql:']),
  REDIS_URL: Url(['redis:', 'rediss:']),
  BROKER: z.enum(['sim', 'alpaca']).default('sim'),
  ALPACA_BASE_URL: Url(['http:', 'https:']),
  ALPACA_STREAM_URL: Url(['ws:', 'wss:']),
  ALPACA_DATA_URL: Url(['http:', 'https:', 'ws:', 'wss:']),
  ALPACA_API_KEY_ID: z.string().optional(),
  ALPACA_API_SECRET_KEY: z.string().optional(),
  DRY_RUN: Bool,
  API_TOKEN: z.string().min(16).optional(),
  HOST: z.string().min(1).default('127.0.0.1'),
  GATEWAY_PORT: Port.default(7301),
  BROKER_SIM_PORT: Port.default(7302),
  SIGNALS_PORT: Port.default(7303),
  ORCHESTRATOR_PORT: Port.default(7304),
  MARKETDATA_PORT: Port.default(7305),
  REPLAY_PORT: Port.default(7306),
});

const HINTS: Record<string, string> = {
  LOG_LEVEL: 'use one of fatal, error, warn, info, debug, trace, silent',
  LOG_FORMAT: 'use auto (pretty in a terminal), json or pretty',
  KESTREL_DATA_DIR: 'set it to a directory path, e.g. ./data',
  KESTREL_VAR_DIR: 'set it to a directory path, e.g. ./var',
  KESTREL_GATES_FILE: 'set it to a JSON file of quality-gate settings (see docs/data-quality.md)',
  DATABASE_URL: 'use postgres://user@host:5432/db, or unset it for the embedded PGlite',
  REDIS_URL: 'use redis://host:6379, or unset it for the in-process bus',
  BROKER: 'use sim (built-in simulated broker) or alpaca',
  ALPACA_BASE_URL: 'use an http(s) URL such as https://paper-api.alpaca.markets',
  ALPACA_STREAM_URL: 'use a ws(s) URL for the trade_updates stream',
  ALPACA_DATA_URL: 'use a URL of the market-data service',
  DRY_RUN: 'use true or false',
  API_TOKEN: 'use at least 16 characters (e.g. openssl rand -hex 24), or unset it on 127.0.0.1',
  HOST: 'use an interface address such as 127.0.0.1',
};
for (const k of ['GATEWAY_PORT', 'BROKER_SIM_PORT', 'SIGNALS_PORT', 'ORCHESTRATOR_PORT', 'MARKETDATA_PORT', 'REPLAY_PORT']) HINTS[k] = 'use a TCP port number 0-65535';

export interface Config {
  dataDir: string;
  varDir: string;
  gatesFile?: string;
  logLevel: z.infer<typeof LogLevel>;
  logFormat: 'auto' | 'json' | 'pretty';
  databaseUrl?: string;
  redisUrl?: string;
  broker: 'sim' | 'alpaca';
  alpaca: { baseUrl?: string; streamUrl?: string; dataUrl?: string; keyId?: string; secretKey?: string };
  dryRun: boolean;
  apiToken?: string;
  host: string;
  ports: { gateway: number; brokerSim: number; signals: number; orchestrator: number; marketdata: number; replay: number };
}

export type Env = Record<string, string | undefined>;

/** Loads `.env` from the working directory (without overriding real environment variables). */
export function loadDotEnv(cwd = process.cwd()): void {
  const file = resolve(cwd, '.env');
  if (existsSync(file)) process.loadEnvFile(file);
}

export function loadConfig(env: Env = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? 'environment');
    // Secrets are named, never echoed.
    const shown = /TOKEN|SECRET|KEY_ID|PASSWORD|_URL/.test(key) ? '' : `=${JSON.stringify(env[key])}`;
    throw new InputError(`invalid ${key}${shown}: ${HINTS[key] ?? issue.message}`, 'bad_config');
  }
  const e = parsed.data;
  return {
    dataDir: resolve(e.KESTREL_DATA_DIR),
    varDir: resolve(e.KESTREL_VAR_DIR),
    gatesFile: e.KESTREL_GATES_FILE ? resolve(e.KESTREL_GATES_FILE) : undefined,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    broker: e.BROKER,
    alpaca: { baseUrl: e.ALPACA_BASE_URL, streamUrl: e.ALPACA_STREAM_URL, dataUrl: e.ALPACA_DATA_URL, keyId: e.ALPACA_API_KEY_ID, secretKey: e.ALPACA_API_SECRET_KEY },
    dryRun: e.DRY_RUN,
    apiToken: e.API_TOKEN,
    host: e.HOST,
    ports: { gateway: e.GATEWAY_PORT, brokerSim: e.BROKER_SIM_PORT, signals: e.SIGNALS_PORT, orchestrator: e.ORCHESTRATOR_PORT, marketdata: e.MARKETDATA_PORT, replay: e.REPLAY_PORT },
  };
}
