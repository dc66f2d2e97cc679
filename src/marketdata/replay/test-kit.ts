import { WebSocket } from 'ws';
import { fixedClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { buildReplayServer, type ReplayServer, type ReplayServerOptions } from './server.js';
import { staticSource } from './source.js';

export const DATE = '2025-01-17';
export const KEYS = { key: 'k1', secret: 's1' };

export function testServer(over: Partial<ReplayServerOptions> = {}): ReplayServer {
  return buildReplayServer({
    clock: fixedClock(`${DATE}T15:00:00Z`),
    logger: silentLogger(),
    source: staticSource({
      AAPL: { [DATE]: { open: 100, high: 105, low: 95, close: 102, volume: 100_000 } },
      MSFT: { [DATE]: { open: 400, high: 404, low: 396, close: 398.5, volume: 50_000 } },
    }),
    speed: 200,
    keys: KEYS,
    date: DATE,
    tradesPerDay: 20,
    ...over,
  });
}

/** Polls `cond` every 5 ms; rejects after `ms`. */
export async function waitFor(cond: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A raw WebSocket that queues parsed frames (each an array of messages). */
export class RawClient {
  readonly frames: unknown[] = [];
  closed = false;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => this.frames.push(JSON.parse(String(d))));
    ws.on('close', () => (this.closed = true));
    ws.on('error', () => {});
  }
  static async open(url: string): Promise<RawClient> {
    const ws = new WebSocket(url);
    const c = new RawClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return c;
  }
  send(x: unknown): void {
    this.ws.send(typeof x === 'string' ? x : JSON.stringify(x));
  }
  async next(ms = 2000): Promise<unknown> {
    await waitFor(() => this.frames.length > 0, ms, 'a frame');
    return this.frames.shift();
  }
  /** Next frame whose first element has this `T`, skipping others (e.g. trades). */
  async nextOf(T: string, ms = 2000): Promise<Array<Record<string, unknown>>> {
    const end = Date.now() + ms;
    for (;;) {
      const f = (await this.next(Math.max(1, end - Date.now()))) as Array<Record<string, unknown>>;
      if (f.some((m) => m.T === T)) return f.filter((m) => m.T === T);
    }
  }
  close(): void {
    this.ws.terminate();
  }
}
