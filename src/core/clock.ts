/**
 * The one source of "now". Services and jobs take a Clock so tests can pin time;
 * everything formats instants as UTC ISO-8601 with offset (`Z`).
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that stays where you put it; `advance` moves it forward. */
export function fixedClock(start: Date | string): Clock & { set(d: Date | string): void; advance(ms: number): void } {
  let t = new Date(start).getTime();
  return {
    now: () => new Date(t),
    set: (d) => {
      t = new Date(d).getTime();
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

/** `2025-01-17T14:30:00.000Z` */
export function isoUtc(d: Date = new Date()): string {
  return d.toISOString();
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Days since 1970-01-01 for a `YYYY-MM-DD` trading date, or NaN when it is not a real date.
 * Hand-parsed (no regex, no Date): the CSV reader calls it once per row.
 */
export function dayNumber(date: string): number {
  if (date.length !== 10 || date.charCodeAt(4) !== 45 || date.charCodeAt(7) !== 45) return NaN;
  let y = 0;
  let m = 0;
  let d = 0;
  for (let i = 0; i < 10; i++) {
    if (i === 4 || i === 7) continue;
    const c = date.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return NaN;
    if (i < 4) y = y * 10 + c;
    else if (i < 7) m = m * 10 + c;
    else d = d * 10 + c;
  }
  if (m < 1 || m > 12 || d < 1) return NaN;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  if (d > (m === 2 && leap ? 29 : MONTH_DAYS[m - 1]!)) return NaN;
  // days_from_civil (H. Hinnant): proleptic Gregorian, exact for all years.
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** `YYYY-MM-DD` for a day number. */
export function dayString(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/** Validates a `YYYY-MM-DD` argument; returns it unchanged. */
export function isTradingDateString(s: string): boolean {
  return Number.isFinite(dayNumber(s));
}

/** The calendar date in New York for an instant: what "today" means for US equities. */
export function newYorkDate(d: Date): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
}

/** Minutes New York is ahead of UTC at an instant (−300 in winter, −240 in summer). */
function newYorkOffsetMinutes(d: Date): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(d)
      .map((p) => [p.type, p.value]),
  );
  const asUtc = Date.UTC(+parts.year!, +parts.month! - 1, +parts.day!, +parts.hour!, +parts.minute!, +parts.second!);
  return Math.round((asUtc - Math.floor(d.getTime() / 1000) * 1000) / 60_000);
}

/** The instant of a New York wall-clock time on a date: `newYorkInstant('2020-01-10', 9, 30)` = 14:30Z. */
export function newYorkInstant(date: string, hour: number, minute: number): Date {
  const day = dayNumber(date);
  if (!Number.isFinite(day)) throw new RangeError(`not a YYYY-MM-DD date: ${JSON.stringify(date)}`);
  const wall = day * 86_400_000 + (hour * 60 + minute) * 60_000;
  // The offset at a guess five hours later than the wall time as UTC, then once more at the answer (DST edges).
  let t = wall - newYorkOffsetMinutes(new Date(wall + 5 * 3_600_000)) * 60_000;
  t = wall - newYorkOffsetMinutes(new Date(t)) * 60_000;
  return new Date(t);
}

/**
 * The clock of as-of mode (`kestrel up/serve --as-of`, src/cli/as-of.ts): the stored day `date`
 * as if it were today. It reads 09:30:00 New York on that date (the open, so the simulated market
 * is open) when it is created and runs in real time from there, monotonic: a session of 6.5 hours
 * of running, after which the simulator reports the market closed, as on a real day.
 */
export function asOfClock(date: string, base: Clock = systemClock): Clock & { date: string; startedAt: Date } {
  const startedAt = newYorkInstant(date, 9, 30);
  const t0 = base.now().getTime();
  const shift = startedAt.getTime() - t0;
  return { date, startedAt, now: () => new Date(base.now().getTime() + shift) };
}
