import { FieldError } from '../core/errors.js';
import { Decimal, decimalShape, type DecimalLike } from '../core/money.js';

/**
 * The one way a decimal enters Kestrel from outside (HTTP bodies and query strings, config
 * files, CSV, broker answers, Redis values): the TEXT is checked first — length, digits before
 * and after the point with the exponent applied — and only then is a Decimal built, so
 * `"1e1000000000"` is refused in microseconds instead of being expanded to a billion digits.
 * Out-of-range or malformed input throws FieldError (field + reason; 422 over HTTP, exit 2 in
 * the CLI). The bounds are documented in docs/concepts/input.md:
 *
 *   money (cash, capital, notional, P&L)  |x| < 10^15, at most 10 places
 *   price                                 0 < p < 10^9, at most 10 places
 *   quantity (shares)                     |q| < 10^9, at most 9 places
 *   broker answer                         |x| < 10^15, at most 16 places (what a broker may send)
 */
export interface DecimalRule {
  /** Digits before the point of the value (leading zeros and the exponent accounted for). */
  maxIntDigits: number;
  /** Places after the point of the value (trailing zeros do not count). */
  maxScale: number;
  /** Lowest value accepted (inclusive unless minExclusive). */
  min?: DecimalLike;
  minExclusive?: boolean;
  /** Highest value accepted (inclusive). */
  max?: DecimalLike;
  /** Accept JSON numbers (read through their shortest round-trip text, never float math). Default false. */
  allowNumber?: boolean;
  /** Accept an exponent (`1.5e3`) when the value stays in bounds. Default true. */
  allowExponent?: boolean;
  /** Longest text accepted. Default 64. */
  maxLength?: number;
  /** How to write a good value, for the message (e.g. `"187.25"`). */
  example?: string;
}

export const MONEY: DecimalRule = { maxIntDigits: 15, maxScale: 10, example: '"100000"' };
export const PRICE: DecimalRule = { maxIntDigits: 9, maxScale: 10, min: 0, minExclusive: true, example: '"187.25"' };
export const QTY: DecimalRule = { maxIntDigits: 9, maxScale: 9, example: '"10"' };
/** What a broker's answer may hold (fractional quantities, long average prices), still bounded. */
export const BROKER_DECIMAL: DecimalRule = { maxIntDigits: 15, maxScale: 16, allowNumber: true, maxLength: 64 };

/** The reason a value breaks the rule (reads after the field name), or null when it is fine. */
export function decimalProblem(input: unknown, rule: DecimalRule): string | null {
  const r = check(input, rule);
  return typeof r === 'string' ? r : null;
}

/** Parses input under the rule; throws FieldError(field, reason). */
export function parseDecimal(input: unknown, field: string, rule: DecimalRule): Decimal {
  const r = check(input, rule);
  if (typeof r === 'string') throw new FieldError(field, r);
  return r;
}

export const parseMoney = (input: unknown, field: string, over: Partial<DecimalRule> = {}): Decimal => parseDecimal(input, field, { ...MONEY, ...over });
export const parsePrice = (input: unknown, field: string, over: Partial<DecimalRule> = {}): Decimal => parseDecimal(input, field, { ...PRICE, ...over });
export const parseQty = (input: unknown, field: string, over: Partial<DecimalRule> = {}): Decimal => parseDecimal(input, field, { ...QTY, ...over });

/** A broker's decimal as canonical-enough text (the broker's own spelling when it was text). */
export function brokerDecimalText(input: unknown, field: string): string {
  const d = parseDecimal(input, field, BROKER_DECIMAL);
  return typeof input === 'string' ? input : d.toFixed();
}

function check(input: unknown, rule: DecimalRule): Decimal | string {
  const example = rule.example ?? '"12.5"';
  let text: string;
  if (typeof input === 'string') text = input;
  else if (typeof input === 'number' && rule.allowNumber) {
    if (!Number.isFinite(input)) return 'must be a finite number';
    text = String(input);
  } else return `must be a decimal string such as ${example}${rule.allowNumber ? ' (or a JSON number)' : ''}`;

  if (text.length > (rule.maxLength ?? 64)) return `must be at most ${rule.maxLength ?? 64} characters`;
  const shape = decimalShape(text);
  if (!shape) return `must be a decimal number such as ${example} (digits, an optional point; no spaces, commas or units)`;
  if (rule.allowExponent === false && /[eE]/.test(text)) return `must be written without an exponent, e.g. ${example}`;
  if (shape.intDigits > rule.maxIntDigits) return `is out of range (at most ${rule.maxIntDigits} digits before the point)`;
  if (shape.scale > rule.maxScale) return `has too many decimal places (at most ${rule.maxScale})`;
  const d = new Decimal(text);
  if (rule.min !== undefined) {
    const min = new Decimal(rule.min);
    if (rule.minExclusive ? d.lte(min) : d.lt(min)) return `must be ${rule.minExclusive ? 'greater than' : 'at least'} ${min.toFixed()}`;
  }
  if (rule.max !== undefined) {
    const max = new Decimal(rule.max);
    if (d.gt(max)) return `must be at most ${max.toFixed()}`;
  }
  return d;
}
