import { Writable } from 'node:stream';
import { createServer, type AddressInfo } from 'node:net';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBrokerSim } from '../broker-sim/index.js';
import { registerRisk } from '../cli/commands/risk.js';
import type { IO } from '../cli/context.js';
import { main } from '../cli/main.js';
import { systemClock } from '../core/clock.js';
import { KestrelError, oneLine } from '../core/errors.js';
import { silentLogger } from '../core/logger.js';
import { dec } from '../core/money.js';
import type { Db } from '../db/db.js';
import { buildGatewayApp, type GatewayApp } from '../execution/app.js';
import { bearerGuard } from '../observability/auth.js';
import { freshPglite, simBroker, startSim } from '../execution/test-helpers.js';
import { parseRiskConfig } from './config.js';
import { MapPriceSource, StaticEquitySource } from './provider.js';
import { riskRoutes } from './routes.js';
import { MemoryStateStore } from './state-store.js';
import { createRisk, type RiskWiring } from './wire.js';

/**
 * `kestrel risk …` and `kestrel kill-switch …` against a listening gateway (real HTTP), as an
 * operator runs them. The commands are registered on a program here the way main.ts will.
 */
const TOKEN = 'cli-test-token-0123456789';
let sim: RunningBrokerSim;
let db: Db;
let app: GatewayApp;
let risk: RiskWiring;
let url: string;

beforeAll(async () => {
  sim = await startSim();
  db = await freshPglite();
  const config = parseRiskConfig({ correlation: { enabled: false } });
  risk = createRisk({ db, clock: systemClock, logger: silentLogger(), config, store: new MemoryStateStore(), prices: new MapPriceSource(), equity: new StaticEquitySource({ equity: dec('100000'), buyingPower: dec('100000') }) });
  app = await buildGatewayApp({ db, broker: simBroker(sim), clock: systemClock, logger: silentLogger(), apiToken: TOKEN, preTradeCheck: risk.engine.preTradeCheck, background: { reconcileOnStart: false, tradeUpdates: false, retrier: false } });
  await app.register(riskRoutes, { service: risk.service, auth: bearerGuard(TOKEN) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await app?.close();
  await risk?.close();
  await sim?.close();
  await db?.close();
});

function capture(): IO & { out: () => string; err: () => string } {
  let o = '';
  let e = '';
  const sink = (fn: (s: string) => void) => new Writable({ write: (c, _enc, cb) => (fn(String(c)), cb()) });
  return { stdout: sink((s) => (o += s)), stderr: sink((s) => (e += s)), out: () => o, err: () => e };
}

/** Runs `kestrel <args>` with the risk commands registered; returns exit code and output. */
async function kestrel(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; out: string; err: string }> {
  const io = capture();
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    const program = new Command('kestrel').exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
    registerRisk(program, io);
    for (const c of program.commands) c.exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
    let code = 0;
    try {
      await program.parseAsync(args, { from: 'user' });
    } catch (e) {
      if (e instanceof KestrelError) {
        io.stderr.write(`kestrel: ${oneLine(e)}\n`);
        code = e.exitCode;
      } else if ((e as { code?: string }).code?.startsWith('commander.')) code = (e as { code: string }).code === 'commander.helpDisplayed' ? 0 : 2;
      else throw e;
    }
    return { code, out: io.out(), err: io.err() };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('kestrel risk / kill-switch (HTTP to a running gateway)', () => {
  it('status: one screen for people, JSON for machines', async () => {
    const human = await kestrel(['risk', 'status', '--url', url]);
    expect(human.code).toBe(0);
    expect(human.out).toMatch(/^breaker {6}OPEN/m);
    expect(human.out).toMatch(/daily loss {3}0% of start-of-day equity 100000\.00 \(trips at 5%\)/);
    // Money in cents; position and exposure limits are fractions, shown as percents.
    expect(human.out).toMatch(/equity {7}100000\.00 {3}start of day 100000\.00/);
    expect(human.out).toMatch(/position 100000 sh \/ 10% · gross 150% · net 100%/);
    expect(human.out).toMatch(/kill switch {2}disengaged/);
    const json = await kestrel(['risk', 'status', '--url', url, '--json']);
    expect(JSON.parse(json.out)).toMatchObject({ breaker: { state: 'OPEN', version: 0 }, limits: { breaker: { daily_loss_pct: 5 } } });
  });

  it('trip and reset need the token and a reason, and are audited with the actor', async () => {
    expect(await kestrel(['risk', 'trip', '--url', url, '--reason', 'x'], { API_TOKEN: undefined })).toMatchObject({ code: 2, err: expect.stringMatching(/gateway answered 401 unauthorized.*set API_TOKEN/) });
    expect((await kestrel(['risk', 'trip', '--url', url], { API_TOKEN: TOKEN })).code).toBe(2); // --reason missing
    const trip = await kestrel(['risk', 'trip', '--url', url, '--reason', 'cli halt', '--actor', 'alice'], { API_TOKEN: TOKEN });
    expect(trip).toMatchObject({ code: 0, out: expect.stringMatching(/^tripped: TRIPPED {2}\(v1, since .*, manual by alice: cli halt\)/) });
    const reset = await kestrel(['risk', 'reset', '--url', url, '--reason', 'cli resume', '--json'], { API_TOKEN: TOKEN });
    expect(JSON.parse(reset.out)).toMatchObject({ changed: true, breaker: { state: 'QUIET_PERIOD', actor: expect.any(String), reason: 'cli resume' } });
    const again = await kestrel(['risk', 'reset', '--url', url, '--reason', 'twice'], { API_TOKEN: TOKEN });
    expect(again).toMatchObject({ code: 2, err: expect.stringMatching(/gateway answered 409 not_tripped: the breaker was already reset/) });
    const events = await kestrel(['risk', 'events', '--url', url, '--kind', 'breaker']);
    expect(events.out).toMatch(/TRIPPED→QUIET_PERIOD/);
    expect(events.out).toMatch(/OPEN→TRIPPED .*alice .*cli halt/);
  });

  it('kill-switch engage / status / disengage through the gateway API', async () => {
    const on = await kestrel(['kill-switch', 'engage', '--url', url, '--reason', 'incident 42', '--actor', 'bob'], { API_TOKEN: TOKEN });
    expect(on).toMatchObject({ code: 0, out: expect.stringMatching(/kill switch ENGAGED; 0 open order\(s\) cancelled/) });
    const st = await kestrel(['kill-switch', 'status', '--url', url]);
    expect(st.out).toMatch(/kill switch ENGAGED \(bob at .*: incident 42\)/);
    expect((await kestrel(['risk', 'status', '--url', url])).out).toMatch(/kill switch {2}ENGAGED \(bob/);
    const off = await kestrel(['kill-switch', 'disengage', '--url', url, '--reason', 'resolved', '--json'], { API_TOKEN: TOKEN });
    expect(JSON.parse(off.out)).toMatchObject({ engaged: false, reason: 'resolved' });
  });

  it('a gateway that is not running: exit 1 with a one-line cause; a bad --url: exit 2', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const down = await kestrel(['risk', 'status', '--url', `http://127.0.0.1:${closedPort}`]);
    expect(down.code).toBe(1);
    expect(down.err).toBe(`kestrel: gateway not reachable at http://127.0.0.1:${closedPort} (ECONNREFUSED): start it with \`kestrel serve gateway\` or pass --url\n`);
    const badUrl = await kestrel(['risk', 'status', '--url', 'ftp://x']);
    expect(badUrl).toMatchObject({ code: 2, err: 'kestrel: --url "ftp://x" must be an http(s) base URL, e.g. http://127.0.0.1:7301\n' });
  });

  it('bad flag values: exit 2, one line naming the flag, nothing sent', async () => {
    const cases: Array<[string[], string]> = [
      [['risk', 'events', '--limit', 'lots'], 'kestrel: --limit "lots" must be a whole number of rows from 1 to 500\n'],
      [['risk', 'events', '--limit', '0'], 'kestrel: --limit "0" must be a whole number of rows from 1 to 500\n'],
      [['risk', 'events', '--kind', 'oops'], 'kestrel: --kind "oops" must be one of pretrade_rejected, breaker, derisk\n'],
      [['risk', 'events', '--symbol', 'not a ticker'], 'kestrel: --symbol "not a ticker" must be a ticker such as AAPL or BRK.B\n'],
      [['risk', 'trip', '--reason', '   '], 'kestrel: --reason "   " must not be empty: say why (it is recorded in the audit trail)\n'],
      [['kill-switch', 'engage', '--reason', 'x', '--actor', 'a'.repeat(101)], expect.stringMatching(/^kestrel: --actor ".*" is too long: at most 100 characters\n$/) as unknown as string],
    ];
    for (const [argv, err] of cases) expect(await kestrel([...argv, '--url', url], { API_TOKEN: TOKEN })).toMatchObject({ code: 2, err, out: '' });
    // None of them reached the gateway: the breaker is where the previous tests left it, the kill switch off.
    expect(JSON.parse((await kestrel(['kill-switch', 'status', '--url', url, '--json'])).out)).toMatchObject({ engaged: false });
  });

  it('the default URL is http://$HOST:$GATEWAY_PORT', async () => {
    const port = new URL(url).port;
    const r = await kestrel(['risk', 'status', '--json'], { HOST: '0.0.0.0', GATEWAY_PORT: port });
    expect(JSON.parse(r.out).breaker.state).toBe('QUIET_PERIOD');
  });

  it('main() still runs without the risk commands registered (the integrator adds them)', async () => {
    const io = capture();
    expect(await main(['--version'], io)).toBe(0);
  });
});
