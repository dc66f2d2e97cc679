import { FieldError } from '../core/errors.js';

/**
 * The one ticker grammar: a letter, up to 9 more letters or digits, an optional share class of
 * 1-3 after a point (`AAPL`, `BRK.B`). Input may be lower case — only ASCII a-z is upper-cased
 * — and nothing else is changed: no trimming, no Unicode case folding. String.prototype
 * .toUpperCase and .trim apply Unicode rules ('ſ' → 'S', 'ı' → 'I', 'ﬀ' → 'FF'; NBSP, BOM and
 * U+2003 trimmed), which turned "MſFT" into an order for MSFT; here it is refused, so an order
 * is never sent for a symbol the caller did not write.
 */
export const SYMBOL_PATTERN = '^[A-Z][A-Z0-9]{0,9}(\\.[A-Z0-9]{1,3})?$';
/** The grammar before ASCII upper-casing: for query-string and path schemas. */
export const SYMBOL_INPUT_PATTERN = '^[A-Za-z][A-Za-z0-9]{0,9}(\\.[A-Za-z0-9]{1,3})?$';
export const SYMBOL_MAX_LENGTH = 14;

const SYMBOL_RE = new RegExp(SYMBOL_PATTERN);
const REASON = 'must be a US equity ticker: a letter, then up to 9 letters or digits, optionally a point and a 1-3 character class (AAPL, BRK.B); ASCII only, no spaces';

/** Upper-cases ASCII a-z only; every other character is left as it is (and then refused by the grammar). */
export function asciiUpper(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 97 && c <= 122 ? String.fromCharCode(c - 32) : s[i];
  }
  return out;
}

/** True for a canonical ticker (already upper case). */
export function isSymbol(s: unknown): s is string {
  return typeof s === 'string' && s.length <= SYMBOL_MAX_LENGTH && SYMBOL_RE.test(s);
}

/** The canonical ticker, or FieldError(field, reason, 'invalid_symbol'). */
export function parseSymbol(input: unknown, field = 'symbol'): string {
  const s = trySymbol(input);
  if (s === null) throw new FieldError(field, typeof input === 'string' ? `${shown(input)} ${REASON}` : REASON, 'invalid_symbol');
  return s;
}

/** The canonical ticker, or null. */
export function trySymbol(input: unknown): string | null {
  if (typeof input !== 'string' || input.length > SYMBOL_MAX_LENGTH) return null;
  const s = asciiUpper(input);
  return SYMBOL_RE.test(s) ? s : null;
}

/**
 * Data ingest: vendors write share classes as `BRK-B` or `BRK/B`; Kestrel writes `BRK.B`. One
 * such separator is mapped to the point, then the result must parse.
 */
export function normalizeVendorSymbol(input: unknown, field = 'symbol'): string {
  return parseSymbol(vendorClass(input), field);
}

/** Like normalizeVendorSymbol, null instead of an error. */
export function tryVendorSymbol(input: unknown): string | null {
  return trySymbol(vendorClass(input));
}

const VENDOR_CLASS_RE = /^([A-Za-z][A-Za-z0-9]{0,9})[-/]([A-Za-z0-9]{1,3})$/;
const vendorClass = (input: unknown): unknown => (typeof input === 'string' ? input.replace(VENDOR_CLASS_RE, '$1.$2') : input);

/** A bad value as shown in a message: JSON-quoted (control characters escaped), clipped. */
function shown(s: string): string {
  return JSON.stringify(s.length > 20 ? `${s.slice(0, 20)}…` : s);
}
