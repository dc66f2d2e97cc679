import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { InputError } from './errors.js';

/**
 * The only module that reads process.env. Everything else receives a validated Config.
 * A bad value stops start-up with a message naming the key and the fix.
 */
const LogLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

const EnvSchema = z.object({
  KESTREL_DATA_DIR: z.string().min(1).default('./data'),
  KESTREL_VAR_DIR: z.string().min(1).default('./var'),
  KESTREL_GATES_FILE: z.string().min(1).optional(),
  LOG_LEVEL: LogLevel.default('info'),
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
});

const HINTS: Record<string, string> = {
  LOG_LEVEL: 'use one of fatal, error, warn, info, debug, trace, silent',
  LOG_FORMAT: 'use auto (pretty in a terminal), json or pretty',
  KESTREL_DATA_DIR: 'set it to a directory path, e.g. ./data',
  KESTREL_VAR_DIR: 'set it to a directory path, e.g. ./var',
  KESTREL_GATES_FILE: 'set it to a JSON file of quality-gate settings (see docs/data-quality.md)',
};

export interface Config {
  dataDir: string;
  varDir: string;
  gatesFile?: string;
  logLevel: z.infer<typeof LogLevel>;
  logFormat: 'auto' | 'json' | 'pretty';
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
    const got = env[key];
    throw new InputError(`invalid ${key}=${JSON.stringify(got)}: ${HINTS[key] ?? issue.message}`, 'bad_config');
  }
  const e = parsed.data;
  return {
    dataDir: resolve(e.KESTREL_DATA_DIR),
    varDir: resolve(e.KESTREL_VAR_DIR),
    gatesFile: e.KESTREL_GATES_FILE ? resolve(e.KESTREL_GATES_FILE) : undefined,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
  };
}
