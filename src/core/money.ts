import { Decimal as DecimalJs } from 'decimal.js';

/**
 * Exact decimal arithmetic for cash, prices, quantities and P&L. A private Decimal class
 * (not the library's global one) so nothing else can change its precision or rounding.
 * 40 significant digits cover any price × quantity a US equity account can see.
 */
export const Decimal = DecimalJs.clone({ precision: 40, rounding: DecimalJs.ROUND_HALF_EVEN, toExpNeg: -30, toExpPos: 40 });
export type Decimal = InstanceType<typeof Decimal>;
export type DecimalLike = Decimal | string | number;

const DECIMAL_RE = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

/** Parses a decimal from a string (preferred) or a finite number; throws on anything else. */
export function dec(v: DecimalLike): Decimal {
  if (v instanceof Decimal) return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RangeError(`not a finite number: ${v}`);
    // String(v) is the shortest round-trip form, so 0.1 stays 0.1 rather than 0.1000000000000000055…
    return new Decimal(String(v));
  }
  const s = v.trim();
  if (!DECIMAL_RE.test(s)) throw new RangeError(`not a decimal: ${JSON.stringify(v)}`);
  return new Decimal(s);
}

export function isDecimalString(s: unknown): s is string {
  return typeof s === 'string' && DECIMAL_RE.test(s.trim());
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
