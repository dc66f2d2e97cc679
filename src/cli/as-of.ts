import { asOfClock, dayNumber, dayString, newYorkDate, newYorkInstant, type Clock } from '../core/clock.js';
import type { Config } from '../core/config.js';
import { InputError } from '../core/errors.js';
import { isTradingDay, previousTradingDay } from '../data/calendar.js';

/**
 * As-of mode: the live services (`kestrel up`, `kestrel serve <svc>`) trade a stored day as if it
 * were today, so the live examples work on stored data such as the bundled sample (which ends
 * 2020-01-10). In that mode:
 *  - the clock reads the as-of date from its 09:30 New York open on, in real time (asOfClock):
 *    trade dates, the orchestrator's "today", the breaker's day are the as-of date;
 *  - `up` replays that day's intraday path (src/marketdata/replay) into the market-data service,
 *    so `price:{symbol}` marks are fresh, and the simulator fills at them;
 *  - a gateway without marks (`serve gateway` in its own process) prices at the as-of day's
 *    stored close, labelled `price_source: "last_close"`.
 * Without it (live data, BROKER=alpaca) the services run on the real clock as before.
 */
export interface AsOf {
  /** The traded day, YYYY-MM-DD (a trading day with stored bars). */
  date: string;
  /** Why: the --as-of flag / KESTREL_AS_OF, or chosen by `up` because the data is old. */
  origin: 'flag' | 'env' | 'auto';
  /** The data store's last day. */
  last: string;
  clock: Clock;
}

export interface StoredRange {
  first: string;
  last: string;
  /** Whether `date` has bars (checked for an explicit --as-of). */
  has(date: string): Promise<boolean>;
}

/** The data store's first and last day of `bars_raw`, or null when there is no data. */
export async function storedRange(dataDir: string): Promise<(StoredRange & { close(): void }) | null> {
  const { openCatalog } = await import('../data/catalog.js');
  let cat;
  try {
    cat = await openCatalog(dataDir);
  } catch (e) {
    if (e instanceof InputError) return null;
    throw e;
  }
  if (!cat.views.includes('bars_raw')) {
    cat.close();
    return null;
  }
  const c = cat;
  const r = (await c.query<{ first: string | null; last: string | null }>("SELECT strftime(min(date), '%Y-%m-%d') AS first, strftime(max(date), '%Y-%m-%d') AS last FROM bars_raw"))[0];
  if (!r?.first || !r.last) {
    c.close();
    return null;
  }
  return {
    first: r.first,
    last: r.last,
    has: async (date) => ((await c.query<{ n: number }>(`SELECT count(*)::INT AS n FROM bars_raw WHERE date = DATE '${date}'`))[0]?.n ?? 0) > 0,
    close: () => c.close(),
  };
}

/**
 * Stored data is "current" when it reaches the last session before New York's today (the ETL
 * runs after each close). Older data cannot be traded live: `up` then trades its last day.
 */
export function isCurrent(last: string, now: Date): boolean {
  return last >= dayString(previousTradingDay(dayNumber(newYorkDate(now))));
}

/**
 * Resolves as-of mode from `--as-of` (or KESTREL_AS_OF): a date with stored bars or `last`.
 * With `auto` (kestrel up) and nothing requested, old stored data (not isCurrent) and the
 * simulated broker mean `last`. Returns null for live mode.
 */
/** Checks the form of an --as-of value (before anything starts): a date YYYY-MM-DD or `last`. */
export function checkAsOfFlag(v: string | undefined, name = '--as-of'): void {
  if (v !== undefined && v !== 'last' && !Number.isFinite(dayNumber(v))) {
    throw new InputError(`${name} ${JSON.stringify(v)}: use a date YYYY-MM-DD of the stored data or last (its last day)`, 'bad_usage');
  }
}

export async function resolveAsOf(o: { flag?: string; config: Config; now: Date; auto: boolean }): Promise<AsOf | null> {
  const requested = o.flag ?? o.config.asOf;
  const name = o.flag !== undefined ? '--as-of' : 'KESTREL_AS_OF';
  checkAsOfFlag(requested, name);
  if (requested !== undefined && o.config.broker === 'alpaca') {
    throw new InputError(`${name} trades a stored day on the simulated broker; with BROKER=alpaca the services trade today: drop ${name} or set BROKER=sim`, 'bad_usage');
  }
  if (requested === undefined && (!o.auto || o.config.broker === 'alpaca')) return null;
  const range = await storedRange(o.config.dataDir);
  if (!range) {
    if (requested === undefined) return null;
    throw new InputError(`${name} ${requested}: no bars in ${o.config.dataDir}: run \`kestrel etl --input data/sample/bars.csv.gz\` first (or pass --data-dir)`, 'no_data');
  }
  try {
    let date: string;
    let origin: AsOf['origin'];
    if (requested === undefined) {
      if (isCurrent(range.last, o.now)) return null;
      date = range.last;
      origin = 'auto';
    } else {
      date = requested === 'last' ? range.last : requested;
      origin = o.flag !== undefined ? 'flag' : 'env';
      if (!isTradingDay(dayNumber(date)) || !(await range.has(date))) {
        throw new InputError(`${name} ${date} is not a trading day with stored bars (stored: ${range.first} → ${range.last}); use one of those days or last`, 'bad_usage');
      }
    }
    return { date, origin, last: range.last, clock: asOfClock(date) };
  } finally {
    range.close();
  }
}

/** The one line `up`/`serve` print in as-of mode. */
export function asOfBanner(a: AsOf): string {
  const what = a.date === a.last ? `${a.date} (last stored day)` : a.date;
  const why = a.origin === 'auto' ? ' — pass --as-of or load current data for live trading' : ` (${a.origin === 'flag' ? '--as-of' : 'KESTREL_AS_OF'})`;
  return `clock: trading ${what} from its 09:30 New York open${why}`;
}

/** The as-of day's close instant (16:00 New York): when its stored close was printed. */
export function closeInstant(date: string): Date {
  return newYorkInstant(date, 16, 0);
}
