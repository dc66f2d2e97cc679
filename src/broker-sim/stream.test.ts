import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startBrokerSim, type RunningBrokerSim } from './serve.js';

interface Frame {
  stream: string;
  data: Record<string, unknown> & { event?: string; order?: { status: string; client_order_id: string } };
}

/** A raw client that records frames (and whether they came binary). */
class Client {
  readonly frames: Array<Frame & { binary: boolean }> = [];
  readonly ws: WebSocket;
  readonly closed: Promise<number>;
  private waiters: Array<() => void> = [];

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (data, binary) => {
      this.frames.push({ ...(JSON.parse(data.toString()) as Frame), binary });
      this.waiters.forEach((w) => w());
    });
    this.ws.on('error', () => {});
    this.closed = new Promise((r) => this.ws.on('close', (code) => r(code)));
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      this.ws.once('error', reject);
    });
  }

  send(msg: unknown, binary = false): void {
    this.ws.send(binary ? Buffer.from(JSON.stringify(msg)) : JSON.stringify(msg), { binary });
  }

  async waitFor(pred: (f: Frame) => boolean, timeoutMs = 2000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.frames.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no matching frame; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => (clearTimeout(t), r()));
      });
      this.waiters = [];
    }
  }

  close(): void {
    this.ws.terminate();
  }
}

describe('broker sim trade_updates stream', () => {
  let s: RunningBrokerSim;
  const clients: Client[] = [];
  const connect = async () => {
    const c = new Client(s.streamUrl);
    clients.push(c);
    await c.opened();
    return c;
  };
  const listen = async (auth: unknown = { action: 'auth', key: 'PKTEST', secret: 'sim-secret' }) => {
    const c = await connect();
    c.send(auth);
    await c.waitFor((f) => f.stream === 'authorization');
    c.send({ action: 'listen', data: { streams: ['trade_updates'] } });
    await c.waitFor((f) => f.stream === 'listening');
    return c;
  };
  const submit = (body: Record<string, unknown>) =>
    fetch(`${s.baseUrl}/v2/orders`, {
      method: 'POST',
      headers: { 'APCA-API-KEY-ID': 'PKTEST', 'APCA-API-SECRET-KEY': 'sim-secret', 'content-type': 'application/json' },
      body: JSON.stringify({ symbol: 'AAPL', qty: '10', side: 'buy', type: 'market', time_in_force: 'day', ...body }),
    }).then((r) => r.json() as Promise<{ id: string }>);

  beforeAll(async () => {
    s = await startBrokerSim({ config: { apiKeyId: 'PKTEST', apiSecretKey: 'sim-secret', partialFillRatio: 0.5 }, prices: { AAPL: '100' } });
  });
  afterEach(() => {
    clients.splice(0).forEach((c) => c.close());
    s.stream.setEnabled(true);
  });
  afterAll(() => s?.close());

  it('authorizes with the current auth message and acknowledges listen, all in binary frames', async () => {
    const c = await connect();
    c.send({ action: 'auth', key: 'PKTEST', secret: 'sim-secret' });
    expect(await c.waitFor((f) => f.stream === 'authorization')).toEqual({ stream: 'authorization', data: { status: 'authorized', action: 'authenticate' }, binary: true });
    c.send({ action: 'listen', data: { streams: ['trade_updates'] } });
    expect(await c.waitFor((f) => f.stream === 'listening')).toMatchObject({ data: { streams: ['trade_updates'] }, binary: true });
  });

  it('accepts the older authenticate message, sent as a binary frame', async () => {
    const c = await connect();
    c.send({ action: 'authenticate', data: { key_id: 'PKTEST', secret_key: 'sim-secret' } }, true);
    expect((await c.waitFor((f) => f.stream === 'authorization')).data.status).toBe('authorized');
  });

  it('answers unauthorized to wrong keys and closes; refuses listen before auth', async () => {
    const early = await connect();
    early.send({ action: 'listen', data: { streams: ['trade_updates'] } });
    expect((await early.waitFor((f) => f.stream === 'authorization')).data).toEqual({ status: 'unauthorized', action: 'listen' });
    const c = await connect();
    c.send({ action: 'auth', key: 'PKTEST', secret: 'guess' });
    expect((await c.waitFor((f) => f.stream === 'authorization')).data).toEqual({ status: 'unauthorized', action: 'authenticate' });
    expect(await c.closed).toBe(1008);
  });

  it('streams new → partial_fill → fill in order to every listening client, with unique execution ids', async () => {
    const a = await listen();
    const b = await listen({ action: 'authenticate', data: { key_id: 'PKTEST', secret_key: 'sim-secret' } });
    const notListening = await connect();
    notListening.send({ action: 'auth', key: 'PKTEST', secret: 'sim-secret' });
    await notListening.waitFor((f) => f.stream === 'authorization');
    const placed = await submit({ client_order_id: 'st-1' });
    for (const c of [a, b]) {
      await c.waitFor((f) => f.data.event === 'fill');
      const updates = c.frames.filter((f) => f.stream === 'trade_updates');
      expect(updates.every((f) => f.binary)).toBe(true);
      expect(updates.map((f) => [f.data.event, f.data.order!.status, f.data.qty, f.data.position_qty])).toEqual([
        ['new', 'new', undefined, undefined],
        ['partial_fill', 'partially_filled', '5', '5'],
        ['fill', 'filled', '5', '10'],
      ]);
      expect(updates[2]!.data).toMatchObject({ price: '100', order: { id: placed.id, client_order_id: 'st-1' } });
      expect(updates[1]!.data.execution_id).not.toBe(updates[2]!.data.execution_id);
      expect(typeof updates[2]!.data.timestamp).toBe('string');
    }
    expect(notListening.frames.filter((f) => f.stream === 'trade_updates')).toEqual([]);
  });

  it('emits canceled and rejected events', async () => {
    const c = await listen();
    const resting = await submit({ type: 'limit', limit_price: '50', client_order_id: 'st-2' });
    await fetch(`${s.baseUrl}/v2/orders/${resting.id}`, { method: 'DELETE', headers: { 'APCA-API-KEY-ID': 'PKTEST', 'APCA-API-SECRET-KEY': 'sim-secret' } });
    await c.waitFor((f) => f.data.event === 'canceled');
    expect(c.frames.filter((f) => f.stream === 'trade_updates').map((f) => f.data.event)).toEqual(['new', 'canceled']);
  });

  it('stops sending when the client listens to no streams', async () => {
    const c = await listen();
    c.send({ action: 'listen', data: { streams: [] } });
    await c.waitFor((f) => f.stream === 'listening' && (f.data.streams as string[]).length === 0);
    await submit({});
    await new Promise((r) => setTimeout(r, 100));
    expect(c.frames.filter((f) => f.stream === 'trade_updates')).toEqual([]);
  });

  it('fault injection: drop cuts connections; disabled refuses new ones with 503; unknown paths 404', async () => {
    const c = await listen();
    expect(s.stream.clientCount).toBe(1);
    s.stream.drop();
    expect(await c.closed).toBe(1006);
    s.stream.setEnabled(false);
    await expect(connect()).rejects.toThrow('HTTP 503');
    s.stream.setEnabled(true);
    await listen();
    const wrong = new Client(s.streamUrl.replace('/stream', '/nope'));
    clients.push(wrong);
    await expect(wrong.opened()).rejects.toThrow('HTTP 404');
  });

  it('answers invalid JSON with an error frame and keeps the connection', async () => {
    const c = await connect();
    c.ws.send('{not json');
    expect((await c.waitFor((f) => f.stream === 'error')).data).toEqual({ error_message: 'invalid JSON' });
    c.send({ action: 'auth', key: 'PKTEST', secret: 'sim-secret' });
    expect((await c.waitFor((f) => f.stream === 'authorization')).data.status).toBe('authorized');
  });
});
