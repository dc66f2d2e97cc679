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

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Days since 1970-01-01 for a `YYYY-MM-DD` trading date, or NaN when it is not a real date. */
export function dayNumber(date: string): number {
  const m = DATE_RE.exec(date);
  if (!m) return NaN;
  const y = +m[1]!, mo = +m[2]!, d = +m[3]!;
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return NaN;
  return ms / 86_400_000;
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
