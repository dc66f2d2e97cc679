import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../bus/test-helpers.js';
import { HttpSignalsClient, SignalsRequestError, SignalsUnavailableError } from './client.js';
import { LAST_DATE, MODEL, signalsFixture, testApp, type SignalsFixture, type TestApp } from './test-helpers.js';

describe('HttpSignalsClient against a listening signal service', () => {
  let fx: SignalsFixture;
  let t: TestApp;
  let noModel: TestApp;
  let url: string;
  let noModelUrl: string;
  const TOKEN = 'client-test-token-42';

  beforeAll(async () => {
    fx = await signalsFixture();
    await fx.promote(await fx.trainModel(3));
    t = await testApp(fx, { apiToken: TOKEN });
    noModel = await testApp(fx, { modelName: 'nothing-promoted' });
    url = await t.app.listen({ port: 0, host: '127.0.0.1' });
    noModelUrl = await noModel.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await t?.close();
    await noModel?.close();
    await fx?.cleanup();
  });

  it('returns the same answer as the in-process runtime', async () => {
    const client = new HttpSignalsClient({ baseUrl: `${url}/`, apiToken: TOKEN });
    const req = { as_of_date: LAST_DATE, symbols: ['AAPL', 'MSFT', 'KO', 'XOM'], top_n: 1, bottom_n: 1 };
    const viaHttp = await client.generate(req);
    const direct = await t.app.signals.generate(req);
    // The label and the tie count survive the HTTP schema (what the orchestrator checks).
    expect(viaHttp.model).toEqual({ name: MODEL, version: 1, label: 'return' });
    expect(viaHttp.ties).toEqual(direct.ties);
    expect(viaHttp.signals).toEqual(direct.signals);
    await expect(client.ping()).resolves.toBeUndefined();
  });

  it('4xx → SignalsRequestError with the code, reason and details (not retryable)', async () => {
    const client = new HttpSignalsClient({ baseUrl: url, apiToken: TOKEN });
    const e = await client.generate({ as_of_date: LAST_DATE, symbols: ['AAPL', 'NOPE'], top_n: 0, bottom_n: 0 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SignalsRequestError);
    expect(e).toMatchObject({ code: 'unknown_symbols', status: 422, retryable: false, exitCode: 2, details: [{ field: 'symbols', reason: 'NOPE: not in the data store' }] });
    expect((e as Error).message).toMatch(/unknown symbol.*NOPE/);
    const noAuth = await new HttpSignalsClient({ baseUrl: url }).generate({ as_of_date: LAST_DATE, top_n: 0, bottom_n: 0 }).catch((x: unknown) => x);
    expect(noAuth).toMatchObject({ code: 'unauthorized', status: 401 });
    const bad = await client.generate({ as_of_date: LAST_DATE, top_n: -1, bottom_n: 0 }).catch((x: unknown) => x);
    expect(bad).toMatchObject({ code: 'validation_failed', status: 400 });
  });

  it('503 and network failures → SignalsUnavailableError (retryable)', async () => {
    const e = await new HttpSignalsClient({ baseUrl: noModelUrl }).generate({ as_of_date: LAST_DATE, top_n: 1, bottom_n: 1 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SignalsUnavailableError);
    expect(e).toMatchObject({ code: 'no_model', status: 503, retryable: true });
    expect((e as Error).message).toMatch(/kestrel train/);
    await expect(new HttpSignalsClient({ baseUrl: noModelUrl }).ping()).rejects.toMatchObject({ code: 'unhealthy', status: 503 });

    const closed = `http://127.0.0.1:${await freePort()}`;
    const n = await new HttpSignalsClient({ baseUrl: closed, timeoutMs: 2000 }).generate({ as_of_date: LAST_DATE, top_n: 1, bottom_n: 1 }).catch((x: unknown) => x);
    expect(n).toBeInstanceOf(SignalsUnavailableError);
    expect(n).toMatchObject({ code: 'network', status: null, retryable: true });
    expect((n as Error).message).toMatch(/unreachable: ECONNREFUSED/);
  });

  it('a timeout and a non-JSON 502 from a proxy are retryable too', async () => {
    const slow = new HttpSignalsClient({ baseUrl: 'http://x.invalid', timeoutMs: 50, fetch: (_u, init) => new Promise((_r, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason as Error))) });
    await expect(slow.generate({ as_of_date: LAST_DATE, top_n: 1, bottom_n: 1 })).rejects.toMatchObject({ code: 'timeout', retryable: true });
    const proxy = new HttpSignalsClient({ baseUrl: 'http://x.invalid', fetch: async () => new Response('<html>bad gateway</html>', { status: 502 }) });
    await expect(proxy.generate({ as_of_date: LAST_DATE, top_n: 1, bottom_n: 1 })).rejects.toMatchObject({ code: 'http_502', status: 502, retryable: true });
  });
});
