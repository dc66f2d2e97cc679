import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CHILD_ENTRY } from '../../execution/test-helpers.js';
import { main } from '../main.js';

async function run(...argv: string[]) {
  const chunks = { out: '', err: '' };
  const sink = (k: 'out' | 'err') =>
    new Writable({
      write(c, _e, cb) {
        chunks[k] += String(c);
        cb();
      },
    });
  const code = await main(argv, { stdout: sink('out'), stderr: sink('err') });
  return { code, ...chunks };
}

describe('kestrel serve', () => {
  it('--help explains the services with examples', async () => {
    const r = await run('serve', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('gateway | broker-sim');
    expect(r.out).toContain('Examples:');
    expect(r.out).not.toContain('--test-fault');
  });

  it('refuses an unknown service and a public bind without API_TOKEN (exit 2, one line)', async () => {
    expect((await run('serve', 'nope')).code).toBe(2);
    const saved = process.env.API_TOKEN;
    delete process.env.API_TOKEN;
    try {
      const r = await run('serve', 'gateway', '--host', '0.0.0.0', '--port', '0');
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/^kestrel: refusing to serve the gateway on 0\.0\.0\.0 without API_TOKEN/);
    } finally {
      if (saved !== undefined) process.env.API_TOKEN = saved;
    }
    expect((await run('serve', 'gateway', '--port', 'x')).code).toBe(2);
    const rate = await run('serve', 'replay', '--rate', 'fast', '--port', '0');
    expect(rate.code).toBe(2);
    expect(rate.err).toMatch(/^kestrel: --rate "fast" must be a number of trades per second/);
  });

  it('every service refuses to listen off loopback without its credential; a blank token is refused at config load (issue #14)', async () => {
    const keys = ['API_TOKEN', 'READ_TOKEN', 'ALPACA_API_KEY_ID', 'ALPACA_API_SECRET_KEY'] as const;
    const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
    for (const k of keys) delete process.env[k];
    try {
      for (const [service, what] of [
        ['signals', 'API_TOKEN'],
        ['orchestrator', 'API_TOKEN'],
        ['marketdata', 'API_TOKEN'],
        ['broker-sim', 'ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY'],
        ['replay', 'ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY'],
      ] as const) {
        const r = await run('serve', service, '--host', '0.0.0.0', '--port', '0');
        expect(r.code, service).toBe(2);
        expect(r.err, service).toMatch(new RegExp(`^kestrel: refusing to serve .*${service.replace('-', '.')}.* on 0\\.0\\.0\\.0 without ${what}`));
        expect(r.err.trim().split('\n'), service).toHaveLength(1);
      }
      process.env.API_TOKEN = ' '.repeat(16);
      const blank = await run('serve', 'gateway', '--port', '0');
      expect(blank.code).toBe(2);
      expect(blank.err).toMatch(/^kestrel: invalid API_TOKEN: is blank; generate one with: openssl rand -hex 24/);
      process.env.API_TOKEN = 'aaaaaaaaaaaaaaaaaaaa';
      expect((await run('serve', 'gateway', '--port', '0')).err).toMatch(/invalid API_TOKEN: is too easy to guess/);
    } finally {
      for (const k of keys) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });

  it('serve broker-sim: listens, answers Alpaca requests, exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD_ENTRY, 'serve', 'broker-sim', '--port', '0', '--data-dir', '/nonexistent-kestrel-data'], {
      env: { ...process.env, LOG_LEVEL: 'warn', ALPACA_API_KEY_ID: '', ALPACA_API_SECRET_KEY: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no start: ${out}`)), 30_000);
        child.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /broker-sim listening on (http:\/\/\S+)/.exec(out);
          if (m) {
            clearTimeout(t);
            resolve(m[1]!);
          }
        });
        child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
      });
      expect(out).toContain('no prices yet');
      const acct = await fetch(`${url}/v2/account`, { headers: { 'APCA-API-KEY-ID': 'k', 'APCA-API-SECRET-KEY': 's' } });
      expect(acct.status).toBe(200);
      expect(((await acct.json()) as { currency: string }).currency).toBe('USD');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
