import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Pretty, coloured lines for a person at a terminal; JSON lines otherwise. */
  pretty?: boolean;
  /** Where lines go; stderr by default so stdout stays clean for --json output. */
  destination?: DestinationStream;
}

/**
 * JSON-lines logger. Every line carries `time` as UTC ISO-8601 with offset and the
 * component name; secrets are redacted by key wherever they appear.
 */
export function createLogger(component: string, opts: LoggerOptions = {}): Logger {
  const base = {
    level: opts.level ?? 'info',
    base: { component },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: {
      paths: ['apiKey', 'secret', 'token', 'password', '*.apiKey', '*.secret', '*.token', '*.password', 'headers.authorization', '*.headers.authorization'],
      censor: '[redacted]',
    },
  };
  if (opts.destination) return pino(base, opts.destination);
  if (opts.pretty) {
    return pino({
      ...base,
      transport: {
        target: 'pino-pretty',
        options: { destination: 2, colorize: true, translateTime: 'UTC:yyyy-mm-dd"T"HH:MM:ss.l"Z"', ignore: 'pid,hostname', messageKey: 'msg' },
      },
    });
  }
  return pino(base, pino.destination({ dest: 2, sync: true }));
}

/** A logger that writes nothing (tests, --json runs that want a clean stderr). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
