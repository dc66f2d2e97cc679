/**
 * NYSE trading calendar on day numbers (days since 1970-01-01, see core/clock).
 *
 * Full-day closures are computed from rules for 1990..2100 plus a short list of
 * one-off closures; anything outside that range throws a RangeError rather than
 * silently guessing (older rules and closures differ, e.g. no MLK Day before 1998).
 * Per-year results are cached, so lookups after the first touch of a year are cheap.
 */
import { dayNumber, dayString } from '../core/clock.js';

export const MIN_YEAR = 1990;
export const MAX_YEAR = 2100;

/**
 * Unscheduled full-day closures (national days of mourning, emergencies).
 * Not derivable from rules; extend this list when the exchange announces one.
 */
export const SPECIAL_CLOSURES: ReadonlyArray<{ date: string; name: string }> = [
  { date: '1994-04-27', name: 'National Day of Mourning (Nixon)' },
  { date: '2001-09-11', name: 'September 11 attacks' },
  { date: '2001-09-12', name: 'September 11 attacks' },
  { date: '2001-09-13', name: 'September 11 attacks' },
  { date: '2001-09-14', name: 'September 11 attacks' },
  { date: '2004-06-11', name: 'National Day of Mourning (Reagan)' },
  { date: '2007-01-02', name: 'National Day of Mourning (Ford)' },
  { date: '2012-10-29', name: 'Hurricane Sandy' },
  { date: '2012-10-30', name: 'Hurricane Sandy' },
  { date: '2018-12-05', name: 'National Day of Mourning (G.H.W. Bush)' },
  { date: '2025-01-09', name: 'National Day of Mourning (Carter)' },
];

const MS_PER_DAY = 86_400_000;
const SUN = 0, MON = 1, THU = 4, SAT = 6;

/** Day number of a calendar date; `d = 0` means the last day of the previous month. */
const ymd = (y: number, m: number, d: number): number => Date.UTC(y, m - 1, d) / MS_PER_DAY;

/** 0 = Sunday … 6 = Saturday. Day 0 (1970-01-01) was a Thursday. */
export function weekday(day: number): number {
  return (((day + THU) % 7) + 7) % 7;
}

const isWeekend = (day: number): boolean => {
  const w = weekday(day);
  return w === SAT || w === SUN;
};

/** Calendar year of a day number (NaN for NaN). */
export function yearOf(day: number): number {
  return new Date(day * MS_PER_DAY).getUTCFullYear();
}

/** The n-th (1-based) given weekday of a month. */
function nthWeekday(y: number, m: number, wd: number, n: number): number {
  const first = ymd(y, m, 1);
  return first + ((wd - weekday(first) + 7) % 7) + 7 * (n - 1);
}

function lastWeekday(y: number, m: number, wd: number): number {
  const last = ymd(y, m + 1, 0);
  return last - ((weekday(last) - wd + 7) % 7);
}

/** Easter Sunday, anonymous Gregorian algorithm (Meeus/Jones/Butcher). */
export function easter(y: number): number {
  const a = y % 19, b = Math.floor(y / 100), c = y % 100;
  const d = Math.floor(b / 4), e = b % 4, f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4), k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return ymd(y, month, day);
}

interface YearInfo {
  /** Closure day → name, ascending by day. */
  closed: ReadonlyMap<number, string>;
  /** 13:00 ET closes (all are trading days). */
  early: ReadonlySet<number>;
}

const specialByYear = new Map<number, Array<[number, string]>>();
for (const { date, name } of SPECIAL_CLOSURES) {
  const day = dayNumber(date);
  const y = yearOf(day);
  const list = specialByYear.get(y) ?? [];
  list.push([day, name]);
  specialByYear.set(y, list);
}

const cache = new Map<number, YearInfo>();

function yearInfo(y: number): YearInfo {
  const hit = cache.get(y);
  if (hit) return hit;
  if (!Number.isInteger(y) || y < MIN_YEAR || y > MAX_YEAR) {
    throw new RangeError(`NYSE calendar covers ${MIN_YEAR}..${MAX_YEAR}, got year ${y}`);
  }
  const list: Array<[number, string]> = [];
  // Fixed-date holidays: Saturday → Friday before, Sunday → Monday after.
  const fixed = (m: number, d: number, name: string): void => {
    const day = ymd(y, m, d);
    const w = weekday(day);
    if (w === SAT) list.push([day - 1, `${name} (observed)`]);
    else if (w === SUN) list.push([day + 1, `${name} (observed)`]);
    else list.push([day, name]);
  };
  // NYSE Rule 7.2: a Saturday New Year's Day is not made up on Dec 31 (e.g. 2021-12-31 traded),
  // and because Dec 31 is never a closure, each year's set depends only on that year.
  if (weekday(ymd(y, 1, 1)) !== SAT) fixed(1, 1, "New Year's Day");
  if (y >= 1998) list.push([nthWeekday(y, 1, MON, 3), 'Martin Luther King Jr. Day']);
  list.push([nthWeekday(y, 2, MON, 3), "Washington's Birthday"]);
  list.push([easter(y) - 2, 'Good Friday']);
  list.push([lastWeekday(y, 5, MON), 'Memorial Day']);
  if (y >= 2022) fixed(6, 19, 'Juneteenth National Independence Day');
  fixed(7, 4, 'Independence Day');
  list.push([nthWeekday(y, 9, MON, 1), 'Labor Day']);
  const thanksgiving = nthWeekday(y, 11, THU, 4);
  list.push([thanksgiving, 'Thanksgiving Day']);
  fixed(12, 25, 'Christmas Day');
  list.push(...(specialByYear.get(y) ?? []));
  list.sort((a, b) => a[0] - b[0]);
  const closed = new Map(list);

  // Early closes (approximate; the exchange announces them yearly): July 3 and
  // Dec 24 when they are weekday trading days, and the day after Thanksgiving.
  const early = new Set<number>();
  for (const day of [ymd(y, 7, 3), thanksgiving + 1, ymd(y, 12, 24)]) {
    if (!isWeekend(day) && !closed.has(day)) early.add(day);
  }
  const info: YearInfo = { closed, early };
  cache.set(y, info);
  return info;
}

function checkDay(day: number): void {
  if (!Number.isInteger(day)) throw new RangeError(`not a day number: ${day}`);
}

export function isTradingDay(day: number): boolean {
  checkDay(day);
  const info = yearInfo(yearOf(day));
  return !isWeekend(day) && !info.closed.has(day);
}

/** Name of the closure on `day`, or null for trading days and plain weekends. */
export function holidayName(day: number): string | null {
  checkDay(day);
  return yearInfo(yearOf(day)).closed.get(day) ?? null;
}

/** Trading days in [fromDay, toDay], ascending; empty when fromDay > toDay. */
export function tradingDaysBetween(fromDay: number, toDay: number): Int32Array {
  checkDay(fromDay);
  checkDay(toDay);
  if (fromDay > toDay) return new Int32Array(0);
  const out = new Int32Array(toDay - fromDay + 1);
  let n = 0;
  // Walk a year at a time so the per-day work is a weekday test and one Map lookup.
  for (let start = fromDay; start <= toDay; ) {
    const y = yearOf(start);
    const { closed } = yearInfo(y);
    const end = Math.min(toDay, ymd(y + 1, 1, 1) - 1);
    for (let d = start, w = weekday(start); d <= end; d++, w = w === SAT ? SUN : w + 1) {
      if (w !== SAT && w !== SUN && !closed.has(d)) out[n++] = d;
    }
    start = end + 1;
  }
  return out.slice(0, n);
}

export function countTradingDays(fromDay: number, toDay: number): number {
  return tradingDaysBetween(fromDay, toDay).length;
}

/** First trading day strictly after `day`. */
export function nextTradingDay(day: number): number {
  checkDay(day);
  let d = day + 1;
  while (!isTradingDay(d)) d++;
  return d;
}

/** Last trading day strictly before `day`. */
export function previousTradingDay(day: number): number {
  checkDay(day);
  let d = day - 1;
  while (!isTradingDay(d)) d--;
  return d;
}

/** True for trading days on which the market closes at 13:00 ET. */
export function isEarlyClose(day: number): boolean {
  checkDay(day);
  return yearInfo(yearOf(day)).early.has(day);
}

/** Full-day closures falling in `year` (observed dates), ascending. */
export function holidaysInYear(year: number): Array<{ date: string; name: string }> {
  return [...yearInfo(year).closed].map(([day, name]) => ({ date: dayString(day), name }));
}
