import { dayNumber, newYorkDate } from '../core/clock.js';
import { isEarlyClose, isTradingDay, nextTradingDay } from '../data/calendar.js';

/** Alpaca's `GET /v2/clock`: regular session 09:30–16:00 New York (13:00 on early-close days), NYSE holidays. */
export interface MarketClockJson {
  timestamp: string;
  is_open: boolean;
  next_open: string;
  next_close: string;
}

export function marketClock(now: Date): MarketClockJson {
  const today = dayNumber(newYorkDate(now));
  const session = (day: number) => ({ open: nyInstant(day, 9, 30), close: nyInstant(day, isEarlyClose(day) ? 13 : 16, 0) });
  let day = isTradingDay(today) ? today : nextTradingDay(today);
  let s = session(day);
  const t = now.getTime();
  if (t >= s.close.getTime()) {
    day = nextTradingDay(day);
    s = session(day);
  }
  const isOpen = t >= s.open.getTime() && t < s.close.getTime();
  const nextOpen = isOpen ? session(nextTradingDay(day)).open : s.open;
  return { timestamp: nyIso(now), is_open: isOpen, next_open: nyIso(nextOpen), next_close: nyIso(s.close) };
}

/** Minutes New York is ahead of UTC at an instant (−300 in winter, −240 in summer). */
function nyOffsetMinutes(d: Date): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(d)
      .map((p) => [p.type, p.value]),
  );
  const asUtc = Date.UTC(+parts.year!, +parts.month! - 1, +parts.day!, +parts.hour!, +parts.minute!, +parts.second!);
  return Math.round((asUtc - Math.floor(d.getTime() / 1000) * 1000) / 60_000);
}

/** The instant of a New York wall-clock time on a trading day. */
function nyInstant(day: number, hour: number, minute: number): Date {
  const wall = day * 86_400_000 + (hour * 60 + minute) * 60_000;
  let t = wall + 5 * 3_600_000;
  t = wall - nyOffsetMinutes(new Date(t)) * 60_000;
  return new Date(t);
}

/** `2025-01-17T09:30:00.000-05:00`, as Alpaca writes clock times. */
function nyIso(d: Date): string {
  const off = nyOffsetMinutes(d);
  const local = new Date(d.getTime() + off * 60_000).toISOString().slice(0, -1);
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
