import { createHash } from 'node:crypto';
import { decString } from '../core/money.js';
import type { OrderSide, OrderType } from './broker.js';
import { asciiUpper } from '../model/symbol.js';

/**
 * Deterministic client_order_id: the identity of an order intent. The same intent submitted
 * again (a retry, a second replica, a restarted process) gets the same id, so the database's
 * unique constraint and the broker's own duplicate check both turn it into a no-op.
 *
 * Format (docs/concepts/idempotency.md):  ks-<strategy>-<yyyymmdd>-<hash>
 *   strategy  the strategy_id lower-cased with everything but [a-z0-9] removed, at most 16 chars
 *             (readability only: the full strategy_id is inside the hash)
 *   yyyymmdd  the trade date (America/New_York)
 *   hash      the first 26 characters (130 bits) of the lower-case RFC 4648 base32 of
 *             sha256(JSON ["kestrel/v1", strategy_id, SYMBOL, side, qty, order_type, limit_price|"", trade_date])
 *             with decimals canonical (no exponent, no trailing zeros: "10.00" → "10").
 * At most 3 + 16 + 1 + 8 + 1 + 26 = 55 characters; Alpaca allows 128.
 */
export interface OrderIntent {
  strategy_id: string;
  symbol: string;
  side: OrderSide;
  qty: string;
  order_type: OrderType;
  limit_price?: string | null;
  /** YYYY-MM-DD */
  trade_date: string;
}

export const DERIVED_PREFIX = 'ks-';
/** What a caller may pass as its own id: Alpaca's limit (128) and a conservative charset. */
export const CLIENT_ORDER_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';
const CLIENT_ORDER_ID_RE = new RegExp(CLIENT_ORDER_ID_PATTERN);

const HASH_CHARS = 26;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** Lower-case RFC 4648 base32 without padding. */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/** The canonical text hashed for an intent (exported for the docs and tests). */
export function canonicalIntent(o: OrderIntent): string {
  return JSON.stringify([
    'kestrel/v1',
    o.strategy_id,
    // ASCII only (the symbol is canonical already; Unicode case rules would map 'ſ' to 'S').
    asciiUpper(o.symbol),
    o.side,
    decString(o.qty),
    o.order_type,
    o.limit_price === undefined || o.limit_price === null ? '' : decString(o.limit_price),
    o.trade_date,
  ]);
}

export function deriveClientOrderId(o: OrderIntent): string {
  const digest = createHash('sha256').update(canonicalIntent(o)).digest();
  const strategy = o.strategy_id.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 16) || 'x';
  return `${DERIVED_PREFIX}${strategy}-${o.trade_date.replace(/-/g, '')}-${base32(digest).slice(0, HASH_CHARS)}`;
}

/**
 * Why a caller-supplied id is unacceptable, or null when it is fine. The `ks-` prefix is
 * reserved for derived ids, so a caller's own id can never collide with another intent's.
 */
export function clientOrderIdProblem(id: string, intent: OrderIntent): string | null {
  if (!CLIENT_ORDER_ID_RE.test(id)) return 'must be 1-128 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit';
  if (id.startsWith(DERIVED_PREFIX) && id !== deriveClientOrderId(intent)) return `the prefix "${DERIVED_PREFIX}" is reserved for derived ids; omit client_order_id to get one`;
  return null;
}
