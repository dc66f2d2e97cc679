import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Logger } from '../core/logger.js';
import type { BrokerSim } from './engine.js';

/**
 * Alpaca's account stream (`wss://…/stream`) on the simulator: the client authenticates
 * (`{"action":"auth","key","secret"}` or the older `{"action":"authenticate","data":{"key_id","secret_key"}}`),
 * listens to `trade_updates`, then gets every order event in order. Frames go out binary, as
 * Alpaca sends them on this stream; the server reads text and binary alike. Events are not
 * replayed: a client that is disconnected misses them (as with Alpaca) and must reconcile over REST.
 */
export interface StreamAuth {
  keyId: string;
  secretKey: string;
}

interface ClientState {
  authed: boolean;
  listening: boolean;
  /** The connection's socket (from the upgrade): corked while this turn's frames collect. */
  socket: Duplex;
  corked: boolean;
}

export class TradeUpdateStream {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly clients = new Map<WebSocket, ClientState>();
  private readonly detachers: Array<() => void> = [];
  private readonly unsubscribe: () => void;
  private enabled = true;

  constructor(
    private readonly deps: { sim: BrokerSim; logger: Logger; auth: StreamAuth | null; onClientCount?: (n: number) => void },
  ) {
    this.unsubscribe = deps.sim.onTradeUpdate((u) => this.broadcast({ stream: 'trade_updates', data: u }));
  }

  /** Serves the stream at `path` on an HTTP server's upgrade requests. Returns a detach function. */
  attach(server: Server, path = '/stream'): () => void {
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://sim');
      if (url.pathname !== path) return refuse(socket, 404, 'Not Found');
      if (!this.enabled) return refuse(socket, 503, 'Service Unavailable');
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, socket));
    };
    server.on('upgrade', onUpgrade);
    const detach = () => server.off('upgrade', onUpgrade);
    this.detachers.push(detach);
    return detach;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Fault injection: cuts every connection now (clients see an abnormal close). */
  drop(): number {
    const n = this.clients.size;
    for (const ws of this.clients.keys()) ws.terminate();
    return n;
  }

  /** Fault injection: while disabled, new connections are refused with 503 (existing ones are dropped). */
  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
    if (!enabled) this.drop();
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  async close(): Promise<void> {
    this.unsubscribe();
    for (const d of this.detachers) d();
    for (const ws of this.clients.keys()) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private accept(ws: WebSocket, socket: Duplex): void {
    const state: ClientState = { authed: false, listening: false, socket, corked: false };
    this.clients.set(ws, state);
    this.deps.onClientCount?.(this.clients.size);
    ws.on('message', (data) => this.onMessage(ws, state, data));
    ws.on('error', (err) => this.deps.logger.debug({ err: err.message }, 'stream client error'));
    ws.on('close', () => {
      this.clients.delete(ws);
      this.deps.onClientCount?.(this.clients.size);
    });
  }

  private onMessage(ws: WebSocket, state: ClientState, data: RawData): void {
    let msg: unknown;
    try {
      msg = JSON.parse(rawText(data));
    } catch {
      return send(ws, { stream: 'error', data: { error_message: 'invalid JSON' } });
    }
    const m = (typeof msg === 'object' && msg !== null ? msg : {}) as { action?: unknown; key?: unknown; secret?: unknown; data?: Record<string, unknown> };
    if (m.action === 'auth' || m.action === 'authenticate') {
      const key = m.action === 'auth' ? m.key : m.data?.key_id;
      const secret = m.action === 'auth' ? m.secret : m.data?.secret_key;
      state.authed = this.check(key, secret);
      send(ws, { stream: 'authorization', data: { status: state.authed ? 'authorized' : 'unauthorized', action: 'authenticate' } });
      if (!state.authed) ws.close(1008, 'unauthorized');
      return;
    }
    if (m.action === 'listen') {
      if (!state.authed) return send(ws, { stream: 'authorization', data: { status: 'unauthorized', action: 'listen' } });
      const streams = Array.isArray(m.data?.streams) ? m.data.streams : [];
      state.listening = streams.includes('trade_updates');
      return send(ws, { stream: 'listening', data: { streams: state.listening ? ['trade_updates'] : [] } });
    }
    send(ws, { stream: 'error', data: { error_message: `unknown action ${JSON.stringify(m.action ?? null)}` } });
  }

  private check(key: unknown, secret: unknown): boolean {
    const auth = this.deps.auth;
    if (!auth) return true;
    return typeof key === 'string' && typeof secret === 'string' && sameSecret(key, auth.keyId) && sameSecret(secret, auth.secretKey);
  }

  /**
   * Frames are still sent one event each, as Alpaca does, but the frames of one turn of the
   * event loop leave in one write: the socket stays corked until setImmediate. Under load a
   * turn handles many submissions (each emits `new` and usually `fill`), and one socket write
   * (a system call that wakes the reader) per frame was most of the simulator's cost.
   */
  private broadcast(frame: unknown): void {
    const bytes = Buffer.from(JSON.stringify(frame));
    for (const [ws, state] of this.clients) {
      if (!state.listening || ws.readyState !== ws.OPEN) continue;
      if (!state.corked) {
        state.corked = true;
        state.socket.cork();
        setImmediate(() => {
          state.corked = false;
          state.socket.uncork();
        });
      }
      ws.send(bytes, { binary: true });
    }
  }
}

/** Constant-time comparison of two secrets (hashed first so lengths do not leak). */
export function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

function send(ws: WebSocket, frame: unknown): void {
  if (ws.readyState === ws.OPEN) ws.send(Buffer.from(JSON.stringify(frame)), { binary: true });
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
