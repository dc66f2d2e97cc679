import { busKeys } from '../bus/keys.js';
import type { Bus } from '../bus/types.js';
import { dayNumber, newYorkDate } from '../core/clock.js';
import { dec, decString, type DecimalLike } from '../core/money.js';
import { decimalProblem, PRICE } from '../model/decimal.js';
import { computePnl, type PnlSnapshot, type PositionInput, type SymbolPnl } from './portfolio.js';

/**
 * Marks for P&L (docs/concepts/pnl.md#marks): the live price the market-data service keeps in
 * `price:{symbol}`, or the last daily close when the live one is missing or stale.
 *
 *  - live mark age ≤ maxAgeMs → `fresh`, used;
 *  - older → `stale`: the close is used instead, unless the stale mark is from a later New York
 *    session than that close (after the bell, before the nightly ETL: the last trade of today
 *    beats yesterday's close) or there is no close — then it is used and labelled stale;
 *  - neither → no mark: the position is valued at its entry price (unrealized 0) and listed in
 *    `missing_marks`, as computePnl does.
 */

export const DEFAULT_MARKS_MAX_AGE_MS = 60_000;

export type LiveMarkState = 'fresh' | 'stale' | 'missing';
export type MarkSource = 'live' | 'close';

export interface LiveMark {
  symbol: string;
  state: LiveMarkState;
  /** Canonical decimal text; null when missing. */
  price: string | null;
  /** UTC ISO-8601 time of the trade; null when missing. */
  ts: string | null;
  age_ms: number | null;
}

/** A daily close: decimal text and its trading date (`YYYY-MM-DD`). */
export interface CloseMark {
  price: DecimalLike;
  date: string;
}

export interface ChosenMark {
  price: string;
  /** UTC ISO-8601: the trade's time, or 16:00 New York on the close's date. */
  ts: string;
  source: MarkSource;
  /** Set when source is live and the mark is older than maxAgeMs. */
  stale: boolean;
}

export interface MarkOptions {
  now: Date;
  maxAgeMs: number;
}

/** Reads `price:{symbol}` for each symbol in one MGET. A bus that is down reads as all missing. */
export async function readLiveMarks(bus: Pick<Bus, 'mget'>, symbols: readonly string[], opts: MarkOptions): Promise<Map<string, LiveMark>> {
  const uniq = [...new Set(symbols)];
  const out = new Map<string, LiveMark>();
  if (uniq.length === 0) return out;
  const raws = await bus.mget(uniq.map((s) => busKeys.price(s)));
  uniq.forEach((s, i) => out.set(s, liveMarkOf(s, raws[i] ?? null, opts)));
  return out;
}

/** One cache value as a LiveMark. A value that does not parse counts as missing: garbage must not price a book. */
export function liveMarkOf(symbol: string, raw: string | null, opts: MarkOptions): LiveMark {
  const tick = parseTick(raw);
  if (!tick) return { symbol, state: 'missing', price: null, ts: null, age_ms: null };
  // A trade stamped slightly ahead of this host's clock (skew) is fresh, not negative-aged.
  const age = Math.max(0, opts.now.getTime() - tick.ms);
  return { symbol, state: age <= opts.maxAgeMs ? 'fresh' : 'stale', price: tick.price, ts: new Date(tick.ms).toISOString(), age_ms: age };
}

function parseTick(raw: string | null): { price: string; ms: number } | null {
  if (raw === null) return null;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const { price, ts } = v as { price?: unknown; ts?: unknown };
  // A Redis value is input like any other: the one bounded price rule (0 < p < 1e9, text only).
  if (typeof price !== 'string' || decimalProblem(price, PRICE) !== null || typeof ts !== 'string' || ts.length > 40) return null;
  const p = dec(price);
  const ms = Date.parse(ts);
  if (Number.isNaN(ms)) return null;
  return { price: decString(p), ms };
}

const NY_HOUR = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hour: 'numeric', hourCycle: 'h23' });

/** 16:00 America/New_York (the regular session's close) on `date`, as UTC ISO-8601. */
export function sessionCloseInstant(date: string): string {
  if (!Number.isFinite(dayNumber(date))) throw new RangeError(`not a YYYY-MM-DD date: ${JSON.stringify(date)}`);
  for (const utcHour of [20, 21]) {
    // 20:00Z in daylight time (UTC−4), 21:00Z in standard time (UTC−5).
    const d = new Date(`${date}T${utcHour}:00:00.000Z`);
    if (NY_HOUR.format(d) === '16') return d.toISOString();
  }
  throw new RangeError(`no 16:00 New York on ${date}`);
}

/** The rule in the module comment, for one symbol. undefined = no mark at all. */
export function chooseMark(live: LiveMark | undefined, close: CloseMark | undefined): ChosenMark | undefined {
  if (live?.state === 'fresh') return { price: live.price!, ts: live.ts!, source: 'live', stale: false };
  const staleLive = live?.state === 'stale' ? live : undefined;
  // The official close beats any trade of the same session; only a later session's trade beats it.
  if (staleLive && (!close || newYorkDate(new Date(staleLive.ts!)) > close.date)) return { price: staleLive.price!, ts: staleLive.ts!, source: 'live', stale: true };
  if (close) return { price: decString(close.price), ts: sessionCloseInstant(close.date), source: 'close', stale: false };
  return undefined;
}

export interface MarkedSymbolPnl extends SymbolPnl {
  /** Where `mark` came from; null for a flat position or when there is no mark. */
  mark_source: MarkSource | null;
  /** The live mark as read (null for flat positions, which are not looked up). */
  live_mark: LiveMarkState | null;
  /** now − mark_ts (ms), for the mark used. */
  mark_age_ms: number | null;
}

/** How the open positions were marked; live + stale + close + none = open positions. */
export interface MarksSummary {
  max_age_ms: number;
  /** Fresh live marks used. */
  live: number;
  /** Stale live marks used (newer than any close; labelled). */
  stale: number;
  /** Marked at the last close (live mark missing or stale). */
  close: number;
  /** No mark at all: valued at the entry price. */
  none: number;
  /** The oldest stale live mark used (UTC ISO-8601). */
  oldest_stale_ts: string | null;
  /** The dates of the closes used, ascending. */
  close_dates: string[];
}

export interface MarkedPnl extends Omit<PnlSnapshot, 'positions'> {
  positions: MarkedSymbolPnl[];
  marks: MarksSummary;
}

export interface MarkedPnlOptions extends MarkOptions {
  cash?: DecimalLike;
}

/**
 * computePnl over chosen marks. `stale` / `stale_marks` mean "valued at a stale live mark";
 * a position valued at a close is not stale (it says so in mark_source).
 */
export function pnlWithMarks(positions: readonly PositionInput[], live: ReadonlyMap<string, LiveMark>, closes: ReadonlyMap<string, CloseMark>, opts: MarkedPnlOptions): MarkedPnl {
  const chosen = new Map<string, ChosenMark>();
  const closeDates = new Set<string>();
  for (const p of positions) {
    if (dec(p.qty).isZero()) continue; // flat: realized P&L only, no mark needed
    const c = chooseMark(live.get(p.symbol), closes.get(p.symbol));
    if (c) chosen.set(p.symbol, c);
    if (c?.source === 'close') closeDates.add(closes.get(p.symbol)!.date);
  }
  const snap = computePnl(positions, (s) => chosen.get(s), { now: opts.now, cash: opts.cash });
  const nowMs = opts.now.getTime();
  const summary: MarksSummary = { max_age_ms: opts.maxAgeMs, live: 0, stale: 0, close: 0, none: 0, oldest_stale_ts: null, close_dates: [...closeDates].sort() };
  const staleSymbols: string[] = [];
  const out = snap.positions.map((p): MarkedSymbolPnl => {
    if (dec(p.qty).isZero()) return { ...p, stale: false, mark_source: null, live_mark: null, mark_age_ms: null };
    const c = p.mark === null ? undefined : chosen.get(p.symbol);
    const liveState = live.get(p.symbol)?.state ?? 'missing';
    if (!c) {
      summary.none++;
      return { ...p, stale: false, mark_source: null, live_mark: liveState, mark_age_ms: null };
    }
    if (c.source === 'close') summary.close++;
    else if (c.stale) {
      summary.stale++;
      staleSymbols.push(p.symbol);
      if (summary.oldest_stale_ts === null || c.ts < summary.oldest_stale_ts) summary.oldest_stale_ts = c.ts;
    } else summary.live++;
    return { ...p, stale: c.stale, mark_source: c.source, live_mark: liveState, mark_age_ms: Math.max(0, nowMs - Date.parse(c.ts)) };
  });
  return { ...snap, positions: out, stale_marks: staleSymbols, marks: summary };
}

export interface MarkSources {
  /** The price cache; null when it cannot be reached (every position falls back to its close). */
  bus: Pick<Bus, 'mget'> | null;
  /** Latest closes; asked only for the open symbols without a fresh live mark. */
  closes?: (symbols: string[]) => Promise<ReadonlyMap<string, CloseMark>>;
}

/** P&L of `positions` marked live where fresh, at the last close otherwise (the rule above). */
export async function markedPnl(positions: readonly PositionInput[], sources: MarkSources, opts: MarkedPnlOptions): Promise<MarkedPnl> {
  const open = [...new Set(positions.filter((p) => !dec(p.qty).isZero()).map((p) => p.symbol))];
  const live = sources.bus ? await readLiveMarks(sources.bus, open, opts) : new Map<string, LiveMark>();
  const need = open.filter((s) => live.get(s)?.state !== 'fresh');
  const closes = need.length > 0 && sources.closes ? await sources.closes(need) : new Map<string, CloseMark>();
  return pnlWithMarks(positions, live, closes, opts);
}
