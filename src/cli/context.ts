import { createRequire } from 'node:module';
import { userInfo } from 'node:os';
import { loadConfig, loadDotEnv, type Config } from '../core/config.js';
import { systemClock, type Clock } from '../core/clock.js';
import { createLogger, type Logger } from '../core/logger.js';

/** What every command gets: validated config, a clock, a logger and output helpers. */
export interface CliContext {
  config: Config;
  clock: Clock;
  logger: Logger;
  /** True when stdout is a terminal (colours, progress bars). */
  tty: boolean;
  /** Who is running the command (audit trails). */
  user: string;
  out(text: string): void;
  json(value: unknown): void;
  progress(label: string): Progress;
}

export interface Progress {
  update(stage: string, done: number, total: number): void;
  stop(): void;
}

export interface IO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export function createContext(component: string, io: IO, overrides: Partial<Config> = {}, opts: { quiet?: boolean } = {}): CliContext {
  loadDotEnv();
  const config = { ...loadConfig(), ...stripUndefined(overrides) };
  const tty = Boolean(io.stdout.isTTY);
  const pretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && Boolean(io.stderr.isTTY));
  const logger = createLogger(component, { level: opts.quiet ? 'warn' : config.logLevel, pretty });
  return {
    config,
    clock: systemClock,
    logger,
    tty,
    user: userName(),
    out: (text) => io.stdout.write(text.endsWith('\n') ? text : text + '\n'),
    json: (value) => io.stdout.write(JSON.stringify(value, null, 2) + '\n'),
    // Bars go to stderr and only when stdout is a terminal: quiet (fewer log lines) does not turn them off.
    progress: (label) => (tty ? barProgress(label, io) : { update: () => {}, stop: () => {} }),
  };
}

// Loaded on first use: only a terminal run draws bars, and CLI start-up time matters.
const lazyRequire = createRequire(import.meta.url);

function barProgress(label: string, io: IO): Progress {
  const { SingleBar, Presets } = lazyRequire('cli-progress') as typeof import('cli-progress');
  const bar = new SingleBar({ format: `${label} {stage} [{bar}] {percentage}% ({value}/{total})`, stream: io.stderr, clearOnComplete: true, hideCursor: true }, Presets.shades_classic);
  let started = false;
  return {
    update: (stage, done, total) => {
      if (!started) {
        bar.start(total, done, { stage });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { stage });
    },
    stop: () => started && bar.stop(),
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function userName(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
