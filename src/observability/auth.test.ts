import { describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.js';
import { accessFor, assertSafeBinding, bearerGuard, bearerToken, isLoopback } from './auth.js';
import { HttpError } from './http-error.js';

const req = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as Parameters<ReturnType<typeof bearerGuard>>[0];

describe('bearer auth shared by every service', () => {
  it('reads the scheme case-insensitively (RFC 7235) and nothing else as a token', () => {
    for (const h of ['Bearer abc', 'bearer abc', 'BEARER abc', 'Bearer   abc', 'Bearer abc ']) expect(bearerToken(h), h).toBe('abc');
    for (const h of ['Basic abc', 'Bearerabc', 'Bearer ', 'Bearer a b', 'Token abc', `Bearer ${'x'.repeat(2000)}`]) expect(bearerToken(h), h).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
    expect(bearerToken(['Bearer abc'])).toBeNull();
  });

  it('accepts any of its tokens, refuses everything else with 401; none configured = open', async () => {
    const guard = bearerGuard(['read-token-0123456789', 'write-token-0123456789'], 'READ_TOKEN');
    await expect(guard(req('bearer read-token-0123456789'))).resolves.toBeUndefined();
    await expect(guard(req('Bearer write-token-0123456789'))).resolves.toBeUndefined();
    for (const h of [undefined, 'Bearer nope', 'Bearer read-token-012345678', 'Basic cmVhZA==']) {
      const e = await guard(req(h)).catch((x: unknown) => x);
      expect(e, String(h)).toBeInstanceOf(HttpError);
      expect((e as HttpError).statusCode).toBe(401);
      expect((e as HttpError).message).toContain('READ_TOKEN');
    }
    await expect(bearerGuard(undefined)(req())).resolves.toBeUndefined();
    await expect(bearerGuard([undefined, ''])(req())).resolves.toBeUndefined();
  });

  it('reads need READ_TOKEN when set, else API_TOKEN off loopback; API_TOKEN is always good for reads', () => {
    const w = 'write-token-0123456789';
    const r = 'read-token-0123456789';
    expect(accessFor({ apiToken: w }, '127.0.0.1')).toEqual({ writeToken: w, readTokens: undefined });
    expect(accessFor({ apiToken: w }, '0.0.0.0')).toEqual({ writeToken: w, readTokens: [w] });
    expect(accessFor({ apiToken: w, readToken: r }, '127.0.0.1')).toEqual({ writeToken: w, readTokens: [r, w] });
    expect(accessFor({ readToken: r }, '::1')).toEqual({ writeToken: undefined, readTokens: [r] });
    expect(accessFor({}, 'localhost')).toEqual({ writeToken: undefined, readTokens: undefined });
  });

  it('refuses to bind off loopback without the credential', () => {
    for (const h of ['127.0.0.1', '127.8.9.10', 'localhost', '::1', '[::1]']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.5', '128.0.0.1', 'example.com']) expect(isLoopback(h), h).toBe(false);
    expect(() => assertSafeBinding('marketdata', '0.0.0.0', undefined)).toThrow(InputError);
    expect(() => assertSafeBinding('replay', '10.0.0.5', false, 'ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY')).toThrow(/refusing to serve replay on 10\.0\.0\.5 without ALPACA_API_KEY_ID/);
    expect(() => assertSafeBinding('marketdata', '127.0.0.1', undefined)).not.toThrow();
    expect(() => assertSafeBinding('marketdata', '0.0.0.0', 'token-0123456789abcdef')).not.toThrow();
  });
});
