import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InputError } from '../../core/errors.js';

/**
 * Quality-gate settings. Every rule has a name, its own threshold(s) and a tolerance
 * (`maxRows`): when a rule flags more rows than that, the run fails and nothing is published.
 * Defaults are what a careful user wants on daily US equity bars; override any of them
 * with a JSON file (`--gates FILE` or KESTREL_GATES_FILE).
 */
const Tolerance = { maxRows: z.number().int().nonnegative().nullable().default(null) };
const Base = { enabled: z.boolean().default(true), ...Tolerance };

export const GatesSchema = z
  .object({
    malformed: z.object(Base).strict().default({ enabled: true, maxRows: null }),
    duplicate: z.object(Base).strict().default({ enabled: true, maxRows: null }),
    non_trading_day: z.object(Base).strict().default({ enabled: true, maxRows: null }),
    non_positive_price: z.object(Base).strict().default({ enabled: true, maxRows: null }),
    ohlc_invariant: z
      .object({ ...Base, relTolerance: z.number().nonnegative().default(0) })
      .strict()
      .default({ enabled: true, maxRows: null, relTolerance: 0 }),
    non_positive_volume: z.object(Base).strict().default({ enabled: true, maxRows: null }),
    /**
     * Implausible price levels: a close below `minPrice`, or more than `maxFactor` times above
     * or below the median close of the `window` nearest rows of the same symbol (on the
     * split-adjusted scale of the actions file). The median follows genuine level shifts
     * (crashes, unannounced splits) and ignores short glitches; see docs/data-quality.md.
     */
    price_level: z
      .object({ ...Base, maxFactor: z.number().gt(1).default(4), window: z.number().int().min(5).max(1001).default(21), minPrice: z.number().nonnegative().default(0.01) })
      .strict()
      .default({ enabled: true, maxRows: null, maxFactor: 4, window: 21, minPrice: 0.01 }),
    large_move: z
      .object({ ...Base, maxAbsReturn: z.number().positive().default(0.3) })
      .strict()
      .default({ enabled: true, maxRows: null, maxAbsReturn: 0.3 }),
    stale_price: z
      .object({ ...Base, maxUnchangedDays: z.number().int().min(1).default(5) })
      .strict()
      .default({ enabled: true, maxRows: null, maxUnchangedDays: 5 }),
    missing_dates: z
      .object({ ...Base, maxMissingDays: z.number().int().nonnegative().nullable().default(null) })
      .strict()
      .default({ enabled: true, maxRows: null, maxMissingDays: null }),
    freshness: z
      .object({ enabled: z.boolean().default(true), maxLagDays: z.number().int().nonnegative().default(1) })
      .strict()
      .default({ enabled: true, maxLagDays: 1 }),
    /** Whole-run tolerance: a vendor file that is mostly garbage must not be published. */
    maxQuarantineFraction: z.number().min(0).max(1).default(0.05),
  })
  .strict();

export type GatesConfig = z.infer<typeof GatesSchema>;
export { ROW_RULES, type RowRule } from './rule-names.js';

export function defaultGates(): GatesConfig {
  return GatesSchema.parse({});
}

export function parseGates(json: unknown, where: string): GatesConfig {
  const r = GatesSchema.safeParse(json ?? {});
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new InputError(`${where}: ${i.path.join('.') || '(root)'}: ${i.message}`, 'bad_config');
  }
  return r.data;
}

/**
 * Reads a gates file. `source` says where the path came from (`--gates` or
 * `KESTREL_GATES_FILE`) so every problem is one line naming it, the path and what is wrong.
 */
export function loadGates(file: string | undefined, source = '--gates'): GatesConfig {
  if (!file) return defaultGates();
  const where = `${source} ${JSON.stringify(file)}`;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, want a JSON file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new InputError(`${where}: ${why} (want a JSON file of gate settings, see docs/data-quality.md)`, 'bad_config');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${where}: not valid JSON (${(e as Error).message})`, 'bad_config');
  }
  return parseGates(json, where);
}
