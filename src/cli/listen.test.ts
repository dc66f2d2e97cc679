import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../bus/test-helpers.js';
import { openBus } from '../bus/index.js';
import { systemClock } from '../core/clock.js';
import { loadConfig } from '../core/config.js';
import { FailureError } from '../core/errors.js';
import { silentLogger } from '../core/logger.js';
import { CHILD_ENTRY, freshPglite } from '../execution/test-helpers.js';
import { assertPortsFree, portError } from './listen.js';
import { startStack } from './stack.js';

/** A port in use: one line naming it and its variable, exit 1, nothing left running. */
let blocker: Server;
let busy: number;
beforeAll(async () => {
  busy = await freePort();
  blocker = createServer();
  await new Promise<void>((r) => blocker.listen(busy, '127.0.0.1', r));
});
afterAll(() => new Promise<void>((r) => blocker.close(() => r())));

const line = (p: number, v: string) => `port ${p} (${v}) on 127.0.0.1 is in use — stop the other process or set ${v}`;

/** Runs the CLI in a child process; resolves with its exit code, output and how long it ran. */
function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string; ms: number }> {
  const t0 = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD_ENTRY, ...args], { env: { ...process.env, LOG_LEVEL: 'warn', API_TOKEN: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  // A command that never exits is what this guards against: kill it after 30 s and fail.
  const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(guard);
      resolve({ code, out, err, ms: Date.now() - t0 });
    }),
  );
}

describe('a port in use', () => {
  it('portError names the port and the variable; assertPortsFree finds a real busy port', async () => {
    expect(portError(Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' }), { port: 7301, host: '127.0.0.1', setting: 'GATEWAY_PORT' }).message).toBe(line(7301, 'GATEWAY_PORT'));
    expect(portError(Object.assign(new Error('x'), { code: 'EACCES' }), { port: 80, host: '0.0.0.0', setting: '--port' }).message).toBe('port 80 (--port) on 0.0.0.0: permission denied — use a port above 1023 or set --port');
    const free = await freePort();
    await expect(assertPortsFree([{ port: free, host: '127.0.0.1', setting: 'SIGNALS_PORT' }])).resolves.toBeUndefined();
    const e = await assertPortsFree([{ port: free, host: '127.0.0.1', setting: 'SIGNALS_PORT' }, { port: busy, host: '127.0.0.1', setting: 'GATEWAY_PORT' }]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FailureError);
    expect((e as Error).message).toBe(line(busy, 'GATEWAY_PORT'));
  });

  it('kestrel up exits 1 at once with one line (no reconnect warnings, nothing left running)', { timeout: 60_000 }, async () => {
    const [sim, signals, orch, md, replay] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const r = await runCli(['up'], {
      GATEWAY_PORT: String(busy),
      BROKER_SIM_PORT: String(sim),
      SIGNALS_PORT: String(signals),
      ORCHESTRATOR_PORT: String(orch),
      MARKETDATA_PORT: String(md),
      REPLAY_PORT: String(replay),
      KESTREL_DATA_DIR: '/nonexistent-kestrel-data',
    });
    expect(r.code).toBe(1);
    expect(r.err).toBe(`kestrel: ${line(busy, 'GATEWAY_PORT')}\n`);
    expect(r.out).toBe('');
    expect(r.ms).toBeLessThan(20_000);
  });

  it('kestrel serve gateway / --port: the same, naming the flag when the port came from it', { timeout: 60_000 }, async () => {
    const env = { KESTREL_DATA_DIR: '/nonexistent-kestrel-data', GATEWAY_PORT: String(busy) };
    const viaEnv = await runCli(['serve', 'gateway'], env);
    expect(viaEnv.code).toBe(1);
    expect(viaEnv.err).toBe(`kestrel: ${line(busy, 'GATEWAY_PORT')}\n`);
    const viaFlag = await runCli(['serve', 'broker-sim', '--port', String(busy)], env);
    expect(viaFlag.code).toBe(1);
    expect(viaFlag.err).toBe(`kestrel: ${line(busy, '--port')}\n`);
  });

  it('the stack closes what it started when a port is taken after the check (a race)', { timeout: 60_000 }, async () => {
    const simPort = await freePort();
    const config = loadConfig({ KESTREL_DATA_DIR: '/nonexistent-kestrel-data', BROKER_SIM_PORT: String(simPort), GATEWAY_PORT: String(busy), RISK_CORRELATION_ENABLED: 'false' });
    const db = await freshPglite();
    const bus = await openBus({ logger: silentLogger() });
    try {
      const e = await startStack({ config, clock: systemClock, logger: silentLogger(), db, bus, ports: 'configured' }).catch((x: unknown) => x);
      expect((e as Error).message).toBe(line(busy, 'GATEWAY_PORT'));
      // The simulator it had started is closed: its port is free again.
      await expect(assertPortsFree([{ port: simPort, host: '127.0.0.1', setting: 'BROKER_SIM_PORT' }])).resolves.toBeUndefined();
    } finally {
      await bus.close();
      await db.close();
    }
  });
});
