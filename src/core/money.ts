import { Decimal as DecimalJs } from 'decimal.js';

/**
 * Exact decimal arithmetic for cash, prices, quantities and P&L. A private Decimal class
 * (not the library's global one) so nothing else can change its precision or rounding.
 * 40 significant digits cover any price × quantity a US equity account can see.
 */
export const Decimal = DecimalJs.clone({ precision: 40, rounding: DecimalJs.ROUND_HALF_EVEN, toExpNeg: -30, toExpPos: 40 });
export type Decimal = InstanceType<typeof Decimal>;
export type DecimalLike = Decimal | string | number;

const DECIMAL_RE = /^([-+]?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/;

/**
 * What the text of a decimal says about its value, read without building it: digits before the
 * point and places after it once the exponent is applied (leading and trailing zeros do not
 * count: `"00120.500"` → 3 and 1, `"1.5e3"` → 4 and 0, `"1e-3"` → 0 and 3). null when the text
 * is not a decimal. Linear in the text; the exponent is arithmetic, never an expansion.
 */
export interface DecimalShape {
  negative: boolean;
  zero: boolean;
  intDigits: number;
  scale: number;
}

export function decimalShape(text: string): DecimalShape | null {
  const m = DECIMAL_RE.exec(text);
  if (!m) return null;
  const int = m[2]!;
  const frac = m[3] ?? '';
  if (int.length + frac.length === 0) return null;
  // A long exponent is out of every range we accept: Number() of it is still a number.
  const exp = m[4] === undefined ? 0 : Number(m[4]);
  const digits = int + frac;
  let lead = 0;
  while (lead < digits.length && digits.charCodeAt(lead) === 48) lead++;
  if (lead === digits.length) return { negative: m[1] === '-', zero: true, intDigits: 0, scale: 0 };
  let trail = digits.length;
  while (digits.charCodeAt(trail - 1) === 48) trail--;
  const point = int.length + exp;
  return { negative: m[1] === '-', zero: false, intDigits: Math.max(0, point - lead), scale: Math.max(0, trail - point) };
}

/**
 * The most any decimal may spell out, wherever it comes from (a broker answer, a Redis value, a
 * database column): as many digits as a finite double prints (1.8e308, 5e-324) with room,
 * 800 characters of text — so decString(dec(x)) always reads back — and nothing like the
 * billion digits `1e1000000000` would expand to in toFixed. Inputs get much tighter bounds from
 * src/model/decimal.ts.
 */
export const DEC_LIMITS = { maxText: 800, maxIntDigits: 320, maxScale: 360 } as const;

/** Parses a decimal from a string (preferred) or a finite number; throws RangeError on anything else and on text out of DEC_LIMITS. */
export function dec(v: DecimalLike): Decimal {
  if (v instanceof Decimal) return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RangeError(`not a finite number: ${v}`);
    // String(v) is the shortest round-trip form, so 0.1 stays 0.1 rather than 0.1000000000000000055…
    return checked(String(v), v);
  }
  return checked(asciiTrim(v), v);
}

/** ASCII blanks only: String.prototype.trim would also remove NBSP, BOM, U+2003 and the like. */
const asciiTrim = (s: string) => s.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');

function checked(s: string, original: unknown): Decimal {
  const shape = s.length <= DEC_LIMITS.maxText ? decimalShape(s) : null;
  if (!shape) throw new RangeError(`not a decimal: ${clipJson(original)}`);
  if (shape.intDigits > DEC_LIMITS.maxIntDigits || shape.scale > DEC_LIMITS.maxScale) {
    throw new RangeError(`decimal out of range (at most ${DEC_LIMITS.maxIntDigits} digits before the point and ${DEC_LIMITS.maxScale} after): ${clipJson(original)}`);
  }
  return new Decimal(s);
}

function clipJson(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
}

/** True when dec() accepts the string (a decimal within DEC_LIMITS). */
export function isDecimalString(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  const t = asciiTrim(s);
  const shape = t.length <= DEC_LIMITS.maxText ? decimalShape(t) : null;
  return shape !== null && shape.intDigits <= DEC_LIMITS.maxIntDigits && shape.scale <= DEC_LIMITS.maxScale;
}

export const ZERO = new Decimal(0);

export function sum(values: Iterable<DecimalLike>): Decimal {
  let acc = ZERO;
  for (const v of values) acc = acc.plus(dec(v));
  return acc;
}

/** Canonical text: no exponent, no trailing zeros (`"1.5"`, `"-0.01"`, `"100"`). */
export function decString(v: DecimalLike): string {
  const d = dec(v);
  return d.isZero() ? '0' : d.toFixed();
}

/** Cash text with exactly `dp` places, banker's rounding (`"1234.57"`). */
export function money(v: DecimalLike, dp = 2): string {
  return dec(v).toFixed(dp, Decimal.ROUND_HALF_EVEN);
}

/**
 * Money at the edges (docs/concepts/pnl.md, "Rounding at the edges"): ledgers stay exact; what
 * people and JSON consumers see is rounded once, here.
 *
 * Cash, P&L, equity, market value, fees: cents, half-even, and never "-0.00".
 */
export function cents(v: DecimalLike): string {
  const s = money(v, 2);
  return s === '-0.00' ? '0.00' : s;
}

/** A traded price (fill, mark, close) at its tick: 2 dp at $1 and above, 4 dp below (Reg NMS Rule 612). */
export function priceAtTick(v: DecimalLike): string {
  const d = dec(v);
  return money(d, d.abs().gte(1) ? 2 : 4);
}

/** An average price (average entry): not a traded price, so 4 dp at any size. */
export function averagePrice(v: DecimalLike): string {
  const s = money(v, 4);
  return /^-0\.0000$/.test(s) ? '0.0000' : s;
}
