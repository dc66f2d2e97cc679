import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { newYorkDate, type Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { sameSecret } from '../../broker-sim/stream.js';
import { encodeFrame, ErrorCode, parseClientFrame, type BarMsg, type QuoteMsg, type ServerMsg, type TradeMsg } from '../protocol/messages.js';
import { hashString, tradePath, validateBar, type PathTrade } from './path.js';
import type { ReplaySource } from './source.js';

export type { ReplaySource } from './source.js';
export { staticSource, catalogSource } from './source.js';

/**
 * A replay of daily bars as an Alpaca-style market-data stream (`/v2/iex`, `/v2/sip`).
 *
 * Speed: `speed` is a trade budget in trades per second **per subscribed symbol per
 * connection** (not a time-compression factor). Every 1000/speed ms (1 ms timer resolution)
 * each connection gets one frame with the next step of every symbol it subscribes to on any
 * channel: the trade (trades channel) and a synthetic one-cent-wide quote around it (quotes
 * channel). With `rate`, steps are instead scheduled at `rate` per second per connection in
 * total, round-robin over the symbols (the bench's 20,000 trades/s).
 * Each connection replays its own paths, from the start of the day. Each symbol's day is a
 * `tradePath` of `tradesPerDay` trades (seeded by `seed`, the symbol and a round counter);
 * when a path completes the connection gets a bar `b` summarising it (o/h/l/c/v of the day,
 * `t` = the current minute) and the path starts over with the next round's seed, so the feed
 * never runs dry. Trade timestamps `t` are `clock.now()` at emission (a live-like feed).
 *
 * Trade ids `i` increase by one per trade on each connection (across symbols), starting at 1,
 * so a client can detect gaps. The day replayed is `date`, or New York's today by `clock`.
 */
export interface ReplayServerOptions {
  clock: Clock;
  logger: Logger;
  source: ReplaySource;
  /** Trades per second per subscribed symbol per connection. */
  speed: number;
  /**
   * Total trades per second per connection, across its symbols (overrides `speed`): a 1 ms
   * timer emits the steps that are due since the subscription started (so the rate does not
   * depend on timer precision), round-robin over the symbols, ≤ 500 steps per frame.
   */
  rate?: number;
  /** Observer of every frame sent (tests, benches). */
  onSent?: (msgs: readonly ServerMsg[]) => void;
  /** Required credentials; null/undefined accepts any key. */
  keys?: { key: string; secret: string } | null;
  date?: string;
  tradesPerDay?: number;
  seed?: number;
  /** Max symbols per channel per connection (error 405 beyond). */
  maxSymbols?: number;
}

export interface ReplayServer {
  app: FastifyInstance;
  /** Listens on host:port (port 0 = any) and returns the bound port. */
  listen(port?: number, host?: string): Promise<number>;
  clientCount(): number;
  /** Test hook: sends a raw text frame to every authenticated connection. */
  injectRaw(text: string): void;
  /** Fault injection: cuts every connection. */
  drop(): void;
  close(): Promise<void>;
}

interface Channels {
  trades: Set<string>;
  quotes: Set<string>;
  bars: Set<string>;
}
interface Cursor {
  round: number;
  k: number;
  path: PathTrade[];
  bar: { open: number; high: number; low: number; close: number; volume: number };
}
interface Conn {
  authed: boolean;
  subs: Channels;
  nextId: number;
  cursors: Map<string, Cursor | null>;
  timer: NodeJS.Timeout | null;
  /** Rate mode: when the schedule started, steps emitted since, next symbol (round-robin). */
  rateStart: number;
  emitted: number;
  rr: number;
}

const PATHS = new Set(['/v2/iex', '/v2/sip', '/v2/test']);

export function buildReplayServer(opts: ReplayServerOptions): ReplayServer {
  if (!(opts.speed > 0)) throw new RangeError('speed must be > 0');
  if (opts.rate !== undefined && !(opts.rate > 0)) throw new RangeError('rate must be > 0');
  const { clock, logger, source } = opts;
  const tradesPerDay = opts.tradesPerDay ?? 390;
  const seed = opts.seed ?? 1;
  const maxSymbols = opts.maxSymbols ?? 1000;
  const app = Fastify({ logger: false });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const conns = new Map<WebSocket, Conn>();

  app.get('/health', async () => ({ status: 'up', clients: conns.size }));

  const send = (ws: WebSocket, msgs: ServerMsg[]) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(encodeFrame(msgs));
    opts.onSent?.(msgs);
  };
  const subscription = (c: Conn): ServerMsg => ({
    T: 'subscription',
    trades: [...c.subs.trades].sort(),
    quotes: [...c.subs.quotes].sort(),
    bars: [...c.subs.bars].sort(),
  });

  const cursor = (c: Conn, symbol: string): Cursor | null => {
    if (c.cursors.has(symbol)) return c.cursors.get(symbol)!;
    const date = opts.date ?? newYorkDate(clock.now());
    const bar = source.day(symbol, date);
    const cur = bar && !validateBar(bar) ? { round: 0, k: 0, bar, path: tradePath(bar, tradesPerDay, (seed ^ hashString(symbol)) >>> 0) } : null;
    c.cursors.set(symbol, cur);
    return cur;
  };

  const activeSymbols = (c: Conn) => [...new Set([...c.subs.trades, ...c.subs.quotes, ...c.subs.bars])].sort();

  const tick = (ws: WebSocket, c: Conn) => {
    const out: ServerMsg[] = [];
    const now = clock.now();
    const ts = now.toISOString();
    for (const symbol of activeSymbols(c)) step(c, symbol, out, now, ts);
    if (out.length) send(ws, out);
  };

  const tickRate = (ws: WebSocket, c: Conn, rate: number) => {
    const symbols = activeSymbols(c);
    let due = Math.floor(((performance.now() - c.rateStart) * rate) / 1000) - c.emitted;
    if (due <= 0 || symbols.length === 0) return;
    const now = clock.now();
    const ts = now.toISOString();
    while (due > 0) {
      const out: ServerMsg[] = [];
      for (let k = Math.min(due, 500); k > 0; k--, due--) {
        step(c, symbols[c.rr++ % symbols.length]!, out, now, ts);
        c.emitted++;
      }
      if (out.length) send(ws, out);
    }
  };

  /** The next step of `symbol` on this connection: quote, trade, and the bar when its path ends. */
  const step = (c: Conn, symbol: string, out: ServerMsg[], now: Date, ts: string) => {
    const cur = cursor(c, symbol);
    if (!cur) return;
    const tr = cur.path[cur.k]!;
    if (c.subs.quotes.has(symbol)) {
      // A one-cent-wide quote around the next trade (synthetic; quotes are not bounded by the bar).
      const bp = Math.max(0.01, Math.round(tr.price * 100 - 1) / 100);
      const q: QuoteMsg = { T: 'q', S: symbol, bx: 'V', bp, bs: 1 + (tr.size % 5), ax: 'V', ap: Math.round(tr.price * 100 + 1) / 100, as: 1 + (tr.size % 7), t: ts, c: ['R'], z: 'C' };
      out.push(q);
    }
    if (c.subs.trades.has(symbol)) out.push({ T: 't', S: symbol, i: c.nextId++, x: 'V', p: tr.price, s: tr.size, t: ts, c: ['@'], z: 'C' } satisfies TradeMsg);
    cur.k++;
    if (cur.k >= cur.path.length) {
      if (c.subs.bars.has(symbol)) {
        const minute = new Date(Math.floor(now.getTime() / 60_000) * 60_000).toISOString();
        const b = cur.bar;
        const bar: BarMsg = { T: 'b', S: symbol, o: cur.path[0]!.price, h: Math.round(b.high * 100) / 100, l: Math.round(b.low * 100) / 100, c: cur.path.at(-1)!.price, v: Math.round(b.volume), t: minute, n: cur.path.length };
        out.push(bar);
      }
      cur.round++;
      cur.k = 0;
      cur.path = tradePath(cur.bar, tradesPerDay, (seed ^ hashString(symbol) ^ Math.imul(cur.round, 0x9e3779b1)) >>> 0);
    }
  };

  const startTimer = (ws: WebSocket, c: Conn) => {
    if (c.timer || subCount(c) === 0) return;
    const rate = opts.rate;
    if (rate) {
      c.rateStart = performance.now();
      c.emitted = 0;
      c.timer = setInterval(() => tickRate(ws, c, rate), 1);
      return;
    }
    c.timer = setInterval(() => tick(ws, c), Math.max(1, 1000 / opts.speed));
  };
  const stopTimer = (c: Conn) => {
    if (c.timer) clearInterval(c.timer);
    c.timer = null;
  };

  const onMessage = (ws: WebSocket, c: Conn, data: RawData) => {
    const parsed = parseClientFrame(rawText(data));
    if (!parsed.ok) return send(ws, [{ T: 'error', code: parsed.code, msg: parsed.msg }]);
    const a = parsed.action;
    if (a.action === 'auth') {
      if (c.authed) return send(ws, [{ T: 'error', code: ErrorCode.alreadyAuthenticated, msg: 'already authenticated' }]);
      const k = opts.keys;
      const ok = !k || (sameSecret(a.key, k.key) && sameSecret(a.secret, k.secret));
      if (!ok) {
        send(ws, [{ T: 'error', code: ErrorCode.authFailed, msg: 'auth failed' }]);
        ws.close(1008, 'auth failed');
        return;
      }
      c.authed = true;
      return send(ws, [{ T: 'success', msg: 'authenticated' }]);
    }
    if (!c.authed) return send(ws, [{ T: 'error', code: ErrorCode.notAuthenticated, msg: 'not authenticated' }]);
    for (const ch of ['trades', 'quotes', 'bars'] as const) {
      const list = a[ch] ?? [];
      if (a.action === 'subscribe') {
        const next = new Set([...c.subs[ch], ...list]);
        if (next.size > maxSymbols) return send(ws, [{ T: 'error', code: ErrorCode.symbolLimit, msg: 'symbol limit exceeded' }]);
      }
    }
    for (const ch of ['trades', 'quotes', 'bars'] as const) {
      for (const s of a[ch] ?? []) {
        if (a.action === 'subscribe') c.subs[ch].add(s);
        else c.subs[ch].delete(s);
      }
    }
    send(ws, [subscription(c)]);
    if (subCount(c) === 0) stopTimer(c);
    else startTimer(ws, c);
  };

  const accept = (ws: WebSocket) => {
    const c: Conn = { authed: false, subs: { trades: new Set(), quotes: new Set(), bars: new Set() }, nextId: 1, cursors: new Map(), timer: null, rateStart: 0, emitted: 0, rr: 0 };
    conns.set(ws, c);
    ws.on('message', (d) => onMessage(ws, c, d));
    ws.on('error', (err) => logger.debug({ err: err.message }, 'market-data client error'));
    ws.on('close', () => {
      stopTimer(c);
      conns.delete(ws);
    });
    send(ws, [{ T: 'success', msg: 'connected' }]);
  };

  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://replay');
    if (!PATHS.has(url.pathname)) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, accept);
  });

  const drop = () => {
    for (const [ws, c] of conns) {
      stopTimer(c);
      ws.terminate();
    }
  };

  return {
    app,
    async listen(port = 0, host = '127.0.0.1') {
      await app.listen({ port, host });
      const addr = app.server.address();
      return typeof addr === 'object' && addr ? addr.port : port;
    },
    clientCount: () => conns.size,
    injectRaw(text) {
      for (const [ws, c] of conns) if (c.authed && ws.readyState === ws.OPEN) ws.send(text);
    },
    drop,
    async close() {
      drop();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await app.close();
    },
  };
}

function subCount(c: Conn): number {
  return c.subs.trades.size + c.subs.quotes.size + c.subs.bars.size;
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
