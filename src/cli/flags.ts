import { dayNumber } from '../core/clock.js';
import { InputError } from '../core/errors.js';
import { dec, decString, isDecimalString } from '../core/money.js';

/**
 * Flag values, parsed and checked in one place so every command refuses a bad value the same
 * way: exit 2 and one line naming the flag, the value and what is expected —
 * `kestrel: --capital "abc" must be a positive amount in USD, e.g. 100000`.
 *
 * Each builder returns a parser for commander's `.option(flags, description, parser)`: commander
 * calls it while parsing argv, before any action runs, so a bad value stops the command before
 * anything is read or written. The InputError passes through commander unchanged (it only wraps
 * its own InvalidArgumentError) and main() prints it. The parsers can also be called directly.
 *
 * Conventions: amounts and fractions come back as canonical decimal strings (exact, for the
 * APIs that take them); counts as numbers. Every `*_pct` / `--*-pct` in Kestrel is a FRACTION
 * (0.1 = 10 %), never a percent — see docs/concepts/risk.md.
 */
export type FlagParser<T> = (raw: string) => T;

/** Throws the one-line error for a bad flag value. */
export function badFlag(flag: string, raw: string, expected: string): never {
  throw new InputError(`${flag} ${JSON.stringify(raw)} ${expected}`, 'bad_usage');
}

/** A whole number in [min, max] (`--days 20`). */
export function intFlag(flag: string, min: number, max: number, what = 'a whole number'): FlagParser<number> {
  return (raw) => {
    const s = raw.trim();
    const n = Number(s);
    if (!/^[-+]?\d+$/.test(s) || n < min || n > max) badFlag(flag, raw, `must be ${what} from ${min} to ${max}`);
    return n;
  };
}

/** A decimal number in [min, max] (`--slippage-bps 2.5`); returned as a number (not money). */
export function numberFlag(flag: string, min: number, max: number, what: string): FlagParser<number> {
  return (raw) => {
    const s = raw.trim();
    if (!isDecimalString(s) || /e/i.test(s)) badFlag(flag, raw, `must be ${what} from ${min} to ${max}`);
    const n = Number(s);
    if (n < min || n > max) badFlag(flag, raw, `must be ${what} from ${min} to ${max}`);
    return n;
  };
}

/** A positive amount of money (`--capital 100000`), at most `max`, at most cents; canonical decimal text. */
export function moneyFlag(flag: string, opts: { max: string; example: string; currency?: string }): FlagParser<string> {
  const expected = `must be a positive amount in ${opts.currency ?? 'USD'}, e.g. ${opts.example}`;
  return (raw) => {
    const s = raw.trim().replace(/_/g, '');
    // Plain digits only: "1e6", "0x10", "Infinity" and "$100" are refused rather than guessed at.
    if (!/^\d+(\.\d+)?$/.test(s)) badFlag(flag, raw, expected);
    const d = dec(s);
    if (!d.gt(0)) badFlag(flag, raw, expected);
    if (d.gt(opts.max)) badFlag(flag, raw, `must be at most ${opts.max} ${opts.currency ?? 'USD'}`);
    if (d.decimalPlaces() > 2) badFlag(flag, raw, `must be a whole number of cents (at most 2 decimals), e.g. ${opts.example}`);
    return decString(d);
  };
}

/**
 * A fraction in (0, max] (`--max-position-pct 0.1` = 10 %). A value above `max` that reads as a
 * percent (≤ 100) is refused with the convention spelled out, never divided by 100 behind the
 * user's back: `--max-position-pct "10" is a fraction of capital from 0 to 1 (10% = 0.1)`.
 */
export function fractionFlag(flag: string, of: string, max = 1): FlagParser<string> {
  return (raw) => {
    const s = raw.trim();
    const expected = `is a fraction of ${of} greater than 0 and at most ${max} (10% = 0.1)`;
    const percent = /^(\d*\.?\d+)\s*%$/.exec(s);
    if (percent) badFlag(flag, raw, `is a fraction of ${of} from 0 to ${max}, not a percent (${s} = ${decString(dec(percent[1]!).div(100))})`);
    if (!/^\d*\.?\d+$/.test(s)) badFlag(flag, raw, expected);
    const d = dec(s);
    if (d.gt(max) && d.lte(100) && d.decimalPlaces() <= 2) badFlag(flag, raw, `is a fraction of ${of} from 0 to ${max}, not a percent (${s}% = ${decString(d.div(100))})`);
    if (!d.gt(0) || d.gt(max)) badFlag(flag, raw, expected);
    return decString(d);
  };
}

/** A calendar date `YYYY-MM-DD` (a trading date in New York terms). */
export function dateFlag(flag: string): FlagParser<string> {
  return (raw) => {
    const s = raw.trim();
    if (!Number.isFinite(dayNumber(s))) badFlag(flag, raw, 'must be a date YYYY-MM-DD, e.g. 2019-12-31');
    return s;
  };
}

/** One of a fixed set of words. */
export function choiceFlag<T extends string>(flag: string, choices: readonly T[]): FlagParser<T> {
  return (raw) => {
    const s = raw.trim();
    if (!(choices as readonly string[]).includes(s)) badFlag(flag, raw, `must be one of ${choices.join(', ')}`);
    return s as T;
  };
}

/** Non-empty text after trimming, at most `max` characters (`--reason`). */
export function textFlag(flag: string, max: number, what: string): FlagParser<string> {
  return (raw) => {
    const s = raw.trim();
    if (!s) badFlag(flag, raw, `must not be empty: ${what}`);
    if (s.length > max) badFlag(`${flag}`, `${s.slice(0, 20)}…`, `is too long: at most ${max} characters`);
    return s;
  };
}

/** An http(s) base URL without credentials in the output. */
export function urlFlag(flag: string, example: string): FlagParser<string> {
  return (raw) => {
    let ok = false;
    try {
      const u = new URL(raw.trim());
      ok = u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      // not a URL: refused below
    }
    if (!ok) badFlag(flag, raw, `must be an http(s) base URL, e.g. ${example}`);
    return raw.trim().replace(/\/+$/, '');
  };
}
