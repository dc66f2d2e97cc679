import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base32, canonicalIntent, clientOrderIdProblem, deriveClientOrderId, type OrderIntent } from './client-order-id.js';

const base: OrderIntent = { strategy_id: 'momentum-v2', symbol: 'AAPL', side: 'buy', qty: '10', order_type: 'limit', limit_price: '187.5', trade_date: '2025-01-17' };

const intentArb = fc.record({
  strategy_id: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/),
  symbol: fc.stringMatching(/^[A-Z][A-Z0-9]{0,5}$/),
  side: fc.constantFrom('buy' as const, 'sell' as const),
  qty: fc.integer({ min: 1, max: 10_000_000 }).map(String),
  order_type: fc.constantFrom('market' as const, 'limit' as const),
  limit_price: fc.option(fc.integer({ min: 1, max: 10_000_000 }).map((c) => (c / 100).toFixed(2)), { nil: undefined }),
  trade_date: fc.date({ min: new Date('2000-01-01'), max: new Date('2099-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
});

describe('client_order_id', () => {
  it('has the documented format', () => {
    const id = deriveClientOrderId(base);
    expect(id).toMatch(/^ks-momentumv2-20250117-[a-z2-7]{26}$/);
    expect(canonicalIntent(base)).toBe('["kestrel/v1","momentum-v2","AAPL","buy","10","limit","187.5","2025-01-17"]');
    // Pinned: changing the format silently would break idempotency across versions.
    expect(id).toBe('ks-momentumv2-20250117-dla3hvy5ggrgk7b2o3zx7xdjdr');
  });

  it('canonicalises decimals and symbol case before hashing', () => {
    const id = deriveClientOrderId(base);
    expect(deriveClientOrderId({ ...base, qty: '10.00' })).toBe(id);
    expect(deriveClientOrderId({ ...base, qty: '1e1' })).toBe(id);
    expect(deriveClientOrderId({ ...base, limit_price: '187.500' })).toBe(id);
    expect(deriveClientOrderId({ ...base, symbol: 'aapl' })).toBe(id);
  });

  it('every field of the intent changes the id', () => {
    const id = deriveClientOrderId(base);
    for (const change of [{ strategy_id: 'momentum-v3' }, { symbol: 'MSFT' }, { side: 'sell' as const }, { qty: '11' }, { limit_price: '187.51' }, { order_type: 'market' as const, limit_price: undefined }, { trade_date: '2025-01-18' }]) {
      expect(deriveClientOrderId({ ...base, ...change })).not.toBe(id);
    }
    // Strategy ids that sanitise to the same prefix still differ by hash.
    expect(deriveClientOrderId({ ...base, strategy_id: 'momentum_v2' })).not.toBe(id);
  });

  it('property: deterministic, ≤ 128 chars, valid as a caller id, insensitive to decimal spelling', () => {
    fc.assert(
      fc.property(intentArb, fc.integer({ min: 0, max: 4 }), (intent, zeros) => {
        const id = deriveClientOrderId(intent);
        expect(id.length).toBeLessThanOrEqual(128);
        expect(id).toBe(deriveClientOrderId({ ...intent }));
        expect(clientOrderIdProblem(id, intent)).toBeNull();
        const padded = { ...intent, qty: intent.qty + (zeros ? '.' + '0'.repeat(zeros) : ''), limit_price: intent.limit_price ? intent.limit_price + '0'.repeat(zeros) : intent.limit_price };
        expect(deriveClientOrderId(padded)).toBe(id);
      }),
    );
  });

  it('property: different intents get different ids', () => {
    fc.assert(
      fc.property(intentArb, intentArb, (a, b) => {
        if (canonicalIntent(a) !== canonicalIntent(b)) expect(deriveClientOrderId(a)).not.toBe(deriveClientOrderId(b));
      }),
    );
  });

  it('validates caller ids: charset, length, reserved prefix', () => {
    expect(clientOrderIdProblem('my-order-1', base)).toBeNull();
    expect(clientOrderIdProblem('a'.repeat(128), base)).toBeNull();
    expect(clientOrderIdProblem('a'.repeat(129), base)).toMatch(/1-128/);
    expect(clientOrderIdProblem('', base)).toMatch(/1-128/);
    expect(clientOrderIdProblem('has space', base)).toMatch(/characters/);
    expect(clientOrderIdProblem('-lead', base)).toMatch(/starting/);
    expect(clientOrderIdProblem('ks-mine-1', base)).toMatch(/reserved/);
    expect(clientOrderIdProblem(deriveClientOrderId(base), base)).toBeNull();
  });

  it('base32 matches RFC 4648 test vectors (lower case, unpadded)', () => {
    const enc = (s: string) => base32(new TextEncoder().encode(s));
    expect(enc('')).toBe('');
    expect(enc('f')).toBe('my');
    expect(enc('fo')).toBe('mzxq');
    expect(enc('foo')).toBe('mzxw6');
    expect(enc('foob')).toBe('mzxw6yq');
    expect(enc('fooba')).toBe('mzxw6ytb');
    expect(enc('foobar')).toBe('mzxw6ytboi');
  });
});
