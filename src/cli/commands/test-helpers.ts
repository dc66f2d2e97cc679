import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../../bus/test-helpers.js';
import { loadConfig, type Config } from '../../core/config.js';

/** For the status tests (status.test.ts, status.int.test.ts): a stand-in gateway and a config pointing at it. */

export interface FakeGateway {
  port: number;
  close(): Promise<void>;
}

/** Answers /health, /api/v1/positions and /api/v1/account like the gateway does. */
export async function fakeGateway(positions: Array<{ symbol: string; qty: string; avg_entry_price: string; realized_pnl: string }>, cash = '1000'): Promise<FakeGateway> {
  const server: Server = createServer((req, res) => {
    const body =
      req.url === '/health' ? { status: 'ok', checks: {} } : req.url?.startsWith('/api/v1/positions') ? { positions } : req.url === '/api/v1/account' ? { account: { cash } } : null;
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { error: 'not_found' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Config with the gateway at `gatewayPort` and every other service on a port nobody listens on. */
export async function statusConfig(dir: string, gatewayPort: number, env: Record<string, string> = {}): Promise<Config> {
  const closed = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  return loadConfig({
    KESTREL_DATA_DIR: join(dir, 'data'),
    KESTREL_VAR_DIR: join(dir, 'var'),
    GATEWAY_PORT: String(gatewayPort),
    BROKER_SIM_PORT: String(closed[0]),
    SIGNALS_PORT: String(closed[1]),
    ORCHESTRATOR_PORT: String(closed[2]),
    MARKETDATA_PORT: String(closed[3]),
    ...env,
  });
}
