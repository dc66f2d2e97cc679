import { dayString } from '../../core/clock.js';
import type { SymbolBars } from '../bars.js';
import { isTradingDay, MAX_YEAR, MIN_YEAR, tradingDaysBetween, yearOf } from '../calendar.js';
import { ROW_RULES, type GatesConfig, type RowRule } from './rules.js';

/**
 * Row-level quality gates for one symbol's series (sorted by date). Each row gets at most
 * one verdict, the first rule that fails in the order below: structural problems first,
 * then price sanity, then the sequential rules (which only look at rows still accepted).
 */
export interface GateVerdicts {
  /** 0 = accepted, k = ROW_RULES[k - 1]. */
  rule: Uint8Array;
  detail: Map<number, string>;
  missing: { count: number; gaps: Array<[string, string]> };
}

export const ruleCode = (r: RowRule): number => ROW_RULES.indexOf(r) + 1;
const DUP = ruleCode('duplicate');
const NTD = ruleCode('non_trading_day');
const NPP = ruleCode('non_positive_price');
const OHLC = ruleCode('ohlc_invariant');
const NPV = ruleCode('non_positive_volume');
const LEVEL = ruleCode('price_level');
const STALE = ruleCode('stale_price');
const MOVE = ruleCode('large_move');

const fmt = (x: number) => {
  if (Number.isInteger(x)) return String(x);
  const s = x.toPrecision(6);
  // Trim trailing fraction zeros only: 123450.2 → '123450' must not become '12345'.
  return s.includes('.') && !s.includes('e') ? s.replace(/\.?0+$/, '') : s;
};
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** Fewest reference closes the price_level median needs; with fewer the level is not judged (only the floor is). */
export const PRICE_LEVEL_MIN_REFERENCE = 5;

/**
 * `actionDays`: ex-dates of the symbol's corporate actions from the actions file (a large move
 * on such a day is expected). `splits`: their split ratios by ex-day, so price_level compares
 * closes on one split-adjusted scale.
 */
export function runGates(b: SymbolBars, cfg: GatesConfig, actionDays: ReadonlySet<number>, files: readonly string[], splits: ReadonlyMap<number, number> = new Map()): GateVerdicts {
  const n = b.day.length;
  const rule = new Uint8Array(n);
  const detail = new Map<number, string>();
  const flag = (i: number, code: number, text: string) => {
    rule[i] = code;
    detail.set(i, text);
  };
  const { open: o, high: h, low: l, close: c, volume: v, day } = b;

  for (let i = 0; i < n; i++) {
    if (cfg.duplicate.enabled && i > 0 && day[i] === day[i - 1]) {
      // Rows are sorted stably, so the first occurrence in input order is the one kept.
      let k = i - 1;
      while (k > 0 && day[k - 1] === day[i]) k--;
      const same = o[i] === o[k] && h[i] === h[k] && l[i] === l[k] && c[i] === c[k] && v[i] === v[k];
      flag(i, DUP, `${same ? 'identical' : 'conflicting'} copy of ${files[b.fileIdx[k]!]}:${b.line[k]}`);
      continue;
    }
    if (cfg.non_trading_day.enabled && !inCalendar(day[i]!)) {
      // The calendar throws outside its range; such a row cannot be judged, so it is quarantined.
      flag(i, NTD, `${safeDayString(day[i]!)} is outside the supported calendar range (${MIN_YEAR}..${MAX_YEAR})`);
      continue;
    }
    if (cfg.non_trading_day.enabled && !isTradingDay(day[i]!)) {
      flag(i, NTD, `${dayString(day[i]!)} is not an NYSE trading day`);
      continue;
    }
    if (cfg.non_positive_price.enabled && !(o[i]! > 0 && h[i]! > 0 && l[i]! > 0 && c[i]! > 0 && (!b.adjClose || b.adjClose[i]! > 0 || Number.isNaN(b.adjClose[i]!)))) {
      flag(i, NPP, `open=${fmt(o[i]!)} high=${fmt(h[i]!)} low=${fmt(l[i]!)} close=${fmt(c[i]!)}${b.adjClose ? ` adj_close=${fmt(b.adjClose[i]!)}` : ''}`);
      continue;
    }
    if (cfg.ohlc_invariant.enabled) {
      const eps = 1 + cfg.ohlc_invariant.relTolerance;
      const lo = l[i]!, hi = h[i]!;
      const broken: string[] = [];
      if (lo > o[i]! * eps) broken.push(`low ${fmt(lo)} > open ${fmt(o[i]!)}`);
      if (lo > c[i]! * eps) broken.push(`low ${fmt(lo)} > close ${fmt(c[i]!)}`);
      if (o[i]! > hi * eps) broken.push(`open ${fmt(o[i]!)} > high ${fmt(hi)}`);
      if (c[i]! > hi * eps) broken.push(`close ${fmt(c[i]!)} > high ${fmt(hi)}`);
      if (broken.length) {
        flag(i, OHLC, broken.join('; '));
        continue;
      }
    }
    if (cfg.non_positive_volume.enabled && !(v[i]! > 0)) flag(i, NPV, `volume=${fmt(v[i]!)}`);
    else if (cfg.price_level.enabled && c[i]! < cfg.price_level.minPrice) {
      flag(i, LEVEL, `close ${fmt(c[i]!)} is below the price floor ${fmt(cfg.price_level.minPrice)} (minPrice)`);
    }
  }

  if (cfg.price_level.enabled) priceLevel(b, cfg.price_level, rule, splits, flag);

  // Stale runs: the same close (and OHLC) day after day is a vendor forward-fill, not trading.
  if (cfg.stale_price.enabled) {
    const maxSame = cfg.stale_price.maxUnchangedDays;
    let runStart = -1;
    let prev = -1;
    for (let i = 0; i < n; i++) {
      if (rule[i] !== 0 && rule[i] !== NPV) continue;
      const same = prev >= 0 && c[i] === c[prev] && o[i] === o[prev] && h[i] === h[prev] && l[i] === l[prev];
      if (!same) runStart = i;
      else if (countAccepted(rule, runStart, i) > maxSame && rule[i] === 0) {
        flag(i, STALE, `price ${fmt(c[i]!)} unchanged since ${dayString(day[runStart]!)} (more than ${maxSame} days)`);
      }
      prev = i;
    }
  }

  // Large moves: judged against the last accepted close AND the previous row, so a one-day
  // vendor spike is caught without quarantining every row after a genuine level shift.
  if (cfg.large_move.enabled) {
    // Relative slack so a move of exactly the limit passes despite rounding (130 / 100 - 1 > 0.3 in doubles).
    const lim = cfg.large_move.maxAbsReturn * (1 + 1e-9);
    let lastOk = -1;
    let prevRow = -1;
    for (let i = 0; i < n; i++) {
      if (rule[i] !== 0) continue;
      if (lastOk >= 0 && !actionDays.has(day[i]!)) {
        const rAcc = c[i]! / c[lastOk]! - 1;
        const rPrev = c[i]! / c[prevRow]! - 1;
        if (Math.abs(rAcc) > lim && Math.abs(rPrev) > lim) {
          flag(i, MOVE, `close ${fmt(c[i]!)} vs ${fmt(c[lastOk]!)} on ${dayString(day[lastOk]!)}: ${rAcc > 0 ? '+' : ''}${pct(rAcc)} with no corporate action`);
          prevRow = i;
          continue;
        }
      }
      lastOk = i;
      prevRow = i;
    }
  }

  return { rule, detail, missing: cfg.missing_dates.enabled ? missingDates(b.day, rule) : { count: 0, gaps: [] } };
}

/**
 * Flags closes more than `maxFactor` away from the median of the `window` nearest reference
 * rows (rows no earlier rule flagged, this one included; centred, shifted at the ends of the
 * series). A median follows a step — a crash, a listing change, a split nobody announced — so
 * only a level that lasts fewer than about window/2 rows is flagged: a vendor glitch (decimal
 * shift, another security's prices under the same ticker). Closes are compared after
 * backward-adjusting for the actions file's splits. Flagged rows stay in the reference: the
 * median does not need them removed, and the verdict must not depend on the order of rows.
 */
function priceLevel(b: SymbolBars, cfg: GatesConfig['price_level'], rule: Uint8Array, splits: ReadonlyMap<number, number>, flag: (i: number, code: number, text: string) => void): void {
  const ref: number[] = [];
  for (let i = 0; i < rule.length; i++) if (rule[i] === 0) ref.push(i);
  if (ref.length < PRICE_LEVEL_MIN_REFERENCE) return;
  const scale = splitScale(b.day, splits);
  const lv = Float64Array.from(ref, (i) => b.close[i]! * scale[i]!);
  const w = Math.min(cfg.window, ref.length);
  const half = (w - 1) >> 1;
  const k = cfg.maxFactor * (1 + 1e-9); // a close exactly maxFactor away passes despite rounding
  const off = (x: number, m: number) => (x > m ? x / m : m / x);
  // The window's levels, kept sorted as it slides one row at a time (no sort per row).
  const win = lv.slice(0, w).sort();
  let at = 0;
  for (let r = 0; r < ref.length; r++) {
    const lo = Math.min(Math.max(0, r - half), ref.length - w);
    for (; at < lo; at++) slide(win, lv[at]!, lv[at + w]!);
    // An even window has two middle values: the row passes if it is near either (benefit of the doubt).
    const m1 = win[(w - 1) >> 1]!;
    const m2 = win[w >> 1]!;
    const i = ref[r]!;
    const x = lv[r]!;
    if (off(x, m1) > k && off(x, m2) > k) {
      const med = off(x, m1) < off(x, m2) ? m1 : m2;
      const from = dayString(b.day[ref[lo]!]!);
      const to = dayString(b.day[ref[lo + w - 1]!]!);
      const adj = scale[i] === 1 ? '' : ' (split-adjusted)';
      flag(i, LEVEL, `close ${fmt(b.close[i]!)} is ${fmt(Number(off(x, med).toPrecision(3)))}x ${x > med ? 'above' : 'below'} the median ${fmt(med / scale[i]!)}${adj} of ${w} closes ${from} → ${to}; limit ${fmt(cfg.maxFactor)}x`);
    }
  }
}

/** Replaces `out` by `inc` in the sorted window `a`, keeping it sorted. */
function slide(a: Float64Array, out: number, inc: number): void {
  let j = a.indexOf(out);
  if (inc > out) {
    for (; j + 1 < a.length && a[j + 1]! < inc; j++) a[j] = a[j + 1]!;
  } else {
    for (; j > 0 && a[j - 1]! > inc; j--) a[j] = a[j - 1]!;
  }
  a[j] = inc;
}

/** Backward split factor per row: the product of 1/ratio over the splits after the row's day. */
function splitScale(day: Int32Array, splits: ReadonlyMap<number, number>): Float64Array {
  const s = new Float64Array(day.length).fill(1);
  if (splits.size === 0) return s;
  const list = [...splits].sort((a, b) => a[0] - b[0]);
  let f = 1;
  let k = list.length - 1;
  for (let i = day.length - 1; i >= 0; i--) {
    while (k >= 0 && list[k]![0] > day[i]!) f /= list[k--]![1];
    s[i] = f;
  }
  return s;
}

function inCalendar(day: number): boolean {
  const y = yearOf(day);
  return y >= MIN_YEAR && y <= MAX_YEAR;
}

const safeDayString = (day: number): string => (Number.isFinite(yearOf(day)) ? dayString(day) : `day ${day}`);

function countAccepted(rule: Uint8Array, from: number, to: number): number {
  let k = 0;
  for (let i = from; i <= to; i++) if (rule[i] === 0) k++;
  return k;
}

/** Trading days between the first and last accepted row that have no accepted row. */
export function missingDates(day: Int32Array, rule: Uint8Array): { count: number; gaps: Array<[string, string]> } {
  let first = -1;
  let last = -1;
  for (let i = 0; i < day.length; i++) {
    // Rows outside the calendar's range (accepted only when non_trading_day is off) cannot be checked.
    if (rule[i] !== 0 || !inCalendar(day[i]!)) continue;
    if (first < 0) first = i;
    last = i;
  }
  if (first < 0) return { count: 0, gaps: [] };
  const expected = tradingDaysBetween(day[first]!, day[last]!);
  const gaps: Array<[string, string]> = [];
  let count = 0;
  let j = first;
  let gapStart = -1;
  let gapEnd = -1;
  for (let e = 0; e < expected.length; e++) {
    const d = expected[e]!;
    while (j <= last && (rule[j] !== 0 || day[j]! < d)) j++;
    if (j <= last && day[j] === d) {
      if (gapStart >= 0) gaps.push([dayString(gapStart), dayString(gapEnd)]);
      gapStart = -1;
    } else {
      count++;
      if (gapStart < 0) gapStart = d;
      gapEnd = d;
    }
  }
  if (gapStart >= 0) gaps.push([dayString(gapStart), dayString(gapEnd)]);
  return { count, gaps };
}
