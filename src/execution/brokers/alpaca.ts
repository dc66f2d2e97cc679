import { Agent, type Dispatcher } from 'undici';
import WebSocket, { type RawData } from 'ws';
import { z } from 'zod';
import type { Config } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { Decimal } from '../../core/money.js';
import { BROKER_DECIMAL, decimalProblem } from '../../model/decimal.js';
import {
  BrokerDuplicateOrderError,
  BrokerRejectedError,
  BrokerUnavailableError,
  type Broker,
  type BrokerAccount,
  type BrokerOrder,
  type BrokerOrderRequest,
  type BrokerPosition,
  type TradeUpdate,
  type TradeUpdateSubscription,
} from '../broker.js';

/**
 * Alpaca Trading API v2 over undici (kept-alive connections; its `request` costs a fraction of
 * `fetch`'s CPU per call, which matters at thousands of orders per second) + the
 * `trade_updates` WebSocket. Points at Alpaca's
 * paper or live hosts, or at Kestrel's broker simulator (same protocol, other base URL).
 * Error mapping follows the Broker contract: no answer / timeout / 5xx / 429 → unavailable
 * (retry with the same client_order_id), 422 "client_order_id must be unique" → duplicate,
 * other 4xx → rejected. Keys go in headers and auth frames only, never in logs or errors.
 */
export const ALPACA_PAPER_URL = 'https://paper-api.alpaca.markets';

export interface AlpacaBrokerOptions {
  keyId: string;
  secretKey: string;
  /** Default https://paper-api.alpaca.markets (without /v2). */
  baseUrl?: string;
  /** Default: the base URL with ws(s):// and /stream. */
  streamUrl?: string;
  /** Per REST request, and for the stream's connect + auth + listen handshake. Default 10 s. */
  timeoutMs?: number;
  /** Stream reconnect backoff: doubles from initial up to max, each delay jittered to 50–100 %. */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  /** Stream liveness: a ping this often; no pong by the next one → reconnect. Default 20 s; 0 = off. */
  pingIntervalMs?: number;
  logger?: Logger;
}

export class AlpacaBroker implements Broker {
  readonly name = 'alpaca';
  private readonly baseUrl: string;
  private readonly streamUrl: string;
  private readonly timeoutMs: number;
  /** The base URL split once: requests go to the kept-alive pool by origin and path. */
  private readonly origin: string;
  private readonly pathPrefix: string;
  /**
   * Redirects are not followed (undici's request never does): a 3xx is an unexpected answer.
   * Timeouts are the pool's (connect) and each request's (headers, body idle), not an
   * AbortSignal and a timer per request.
   */
  private readonly http: Agent;

  constructor(private readonly opts: AlpacaBrokerOptions) {
    this.baseUrl = (opts.baseUrl ?? ALPACA_PAPER_URL).replace(/\/+$/, '').replace(/\/v2$/, '');
    this.streamUrl = opts.streamUrl ?? streamUrlFor(this.baseUrl);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    const base = new URL(this.baseUrl);
    this.origin = base.origin;
    this.pathPrefix = base.pathname.replace(/\/+$/, '');
    this.http = new Agent({ keepAliveTimeout: 30_000, connections: 64, connect: { timeout: this.timeoutMs } });
  }

  static fromConfig(config: Config, logger?: Logger): AlpacaBroker {
    const { keyId, secretKey, baseUrl, streamUrl } = config.alpaca;
    if (!keyId || !secretKey) throw new Error('ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY are required for BROKER=alpaca');
    return new AlpacaBroker({ keyId, secretKey, baseUrl, streamUrl, logger });
  }

  async submitOrder(req: BrokerOrderRequest): Promise<BrokerOrder> {
    const res = await this.request('POST', '/v2/orders', { body: req });
    if (res.status === 422 && /client_order_id must be unique/i.test(res.message)) throw new BrokerDuplicateOrderError(req.client_order_id);
    return parseOrder(this.ok(res));
  }

  async cancelOrder(brokerOrderId: string): Promise<void> {
    this.ok(await this.request('DELETE', `/v2/orders/${encodeURIComponent(brokerOrderId)}`));
  }

  async getOrderByClientId(clientOrderId: string): Promise<BrokerOrder | null> {
    const res = await this.request('GET', '/v2/orders:by_client_order_id', { query: { client_order_id: clientOrderId } });
    // Only Alpaca's own "not found" ({code, message}) means no such order; a proxy's or a wrong
    // base URL's 404 must not read as "never placed" (the gateway would resubmit).
    if (res.status === 404 && isRecord(res.json) && typeof res.json.code === 'number') return null;
    return parseOrder(this.ok(res));
  }

  /** Oldest first, so `after` works as a cursor. Alpaca caps `limit` at 500. Orders of other types (stop, trailing) are skipped with a warning. */
  async listOrders(q: { status: 'open' | 'closed' | 'all'; after?: string; limit?: number }): Promise<BrokerOrder[]> {
    const query: Record<string, string> = { status: q.status, direction: 'asc', limit: String(Math.min(q.limit ?? 500, 500)) };
    if (q.after) query.after = q.after;
    const res = await this.request('GET', '/v2/orders', { query });
    const items = parse(z.array(z.unknown()), this.ok(res), 'orders');
    const orders: BrokerOrder[] = [];
    for (const item of items) {
      const o = OrderSchema.safeParse(item);
      // e.g. a stop order placed by hand in Alpaca's dashboard: not one of ours, not a Broker order type
      if (o.success) orders.push(o.data);
      else this.opts.logger?.warn({ order_id: isRecord(item) ? item.id : undefined, issue: o.error.issues[0]?.message }, 'alpaca: skipping an order Kestrel cannot represent');
    }
    return orders;
  }

  async listPositions(): Promise<BrokerPosition[]> {
    return parse(z.array(PositionSchema), this.ok(await this.request('GET', '/v2/positions')), 'positions');
  }

  async getAccount(): Promise<BrokerAccount> {
    return parse(AccountSchema, this.ok(await this.request('GET', '/v2/account')), 'account');
  }

  async streamTradeUpdates(onUpdate: (u: TradeUpdate) => void, onState?: (s: 'connected' | 'disconnected') => void): Promise<TradeUpdateSubscription> {
    const s = new TradeUpdateConnection(this.streamUrl, this.opts, this.timeoutMs, onUpdate, onState);
    await s.start();
    return s;
  }

  // ---- REST plumbing --------------------------------------------------------------------

  private async request(method: string, path: string, opts: { query?: Record<string, string>; body?: unknown } = {}): Promise<ApiResponse> {
    const query = opts.query ? `?${new URLSearchParams(opts.query).toString()}` : '';
    const headers: Record<string, string> = { 'APCA-API-KEY-ID': this.opts.keyId, 'APCA-API-SECRET-KEY': this.opts.secretKey, accept: 'application/json' };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const what = `${method} ${path}`;
    let status: number;
    let text: string;
    try {
      const res = await this.http.request({
        origin: this.origin,
        path: this.pathPrefix + path + query,
        method: method as Dispatcher.HttpMethod,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      const timedOut = err instanceof Error && TIMEOUT_CODES.has((err as Error & { code?: string }).code ?? '');
      this.opts.logger?.warn({ request: what, err: errMessage(err) }, 'alpaca: no answer');
      throw new BrokerUnavailableError(`alpaca ${what}: ${timedOut ? `no answer within ${this.timeoutMs} ms` : errMessage(err)}`, { cause: err });
    }
    let json: unknown = undefined;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    const message = (isRecord(json) && typeof json.message === 'string' ? json.message : text.slice(0, 200)) || `HTTP ${status}`;
    return { status, json, message, what };
  }

  /** The JSON of a 2xx answer; otherwise the Broker error for the status. */
  private ok(res: ApiResponse): unknown {
    if (res.status >= 200 && res.status < 300) return res.json;
    if (res.status >= 500 || res.status === 429 || res.status === 408) {
      this.opts.logger?.warn({ request: res.what, status: res.status }, 'alpaca: unavailable');
      throw new BrokerUnavailableError(`alpaca ${res.what}: HTTP ${res.status}: ${res.message}`);
    }
    throw new BrokerRejectedError(res.status, `alpaca ${res.what}: HTTP ${res.status}: ${res.message}`);
  }
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

interface ApiResponse {
  status: number;
  json: unknown;
  message: string;
  what: string;
}

/** `https://host[/prefix]` → `wss://host[/prefix]/stream` (and http → ws). */
export function streamUrlFor(baseUrl: string): string {
  const u = new URL(baseUrl.replace(/\/+$/, '').replace(/\/v2$/, ''));
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/stream`;
  return u.toString();
}

// ---- response shapes ------------------------------------------------------------------------

/**
 * Decimal fields arrive as strings; numbers are tolerated (read through their shortest text,
 * never float math). Either way the one bounded parser checks them (|x| < 1e15, ≤ 16 places):
 * an answer we cannot hold exactly is a bad answer, not something to store or compute with.
 */
const boundedDecimal = (v: string | number, ctx: z.RefinementCtx) => {
  const problem = decimalProblem(v, BROKER_DECIMAL);
  if (problem) ctx.addIssue({ code: 'custom', message: `decimal ${problem}` });
};
const decText = (v: string | number) => (typeof v === 'string' ? v : new Decimal(String(v)).toFixed());
const Dec = z.union([z.string(), z.number()]).superRefine(boundedDecimal).transform(decText);
const DecOrNull = z
  .union([z.string(), z.number(), z.null()])
  .optional()
  .superRefine((v, ctx) => (v === null || v === undefined ? undefined : boundedDecimal(v, ctx)))
  .transform((v) => (v === null || v === undefined ? null : decText(v)));
const Str = z.string().max(1024);
const StrOrNull = z.string().nullable().optional().transform((v) => v ?? null);

const OrderSchema = z.object({
  id: Str,
  client_order_id: Str,
  symbol: Str,
  side: z.enum(['buy', 'sell']),
  qty: Dec,
  type: z.enum(['market', 'limit']),
  time_in_force: z.enum(['day', 'gtc', 'ioc', 'fok', 'opg', 'cls']),
  limit_price: DecOrNull,
  status: z.enum(['new', 'partially_filled', 'filled', 'done_for_day', 'canceled', 'expired', 'replaced', 'pending_cancel', 'pending_replace', 'accepted', 'pending_new', 'accepted_for_bidding', 'stopped', 'rejected', 'suspended', 'calculated']),
  filled_qty: Dec,
  filled_avg_price: DecOrNull,
  created_at: Str,
  updated_at: Str,
  submitted_at: StrOrNull,
  filled_at: StrOrNull,
  canceled_at: StrOrNull,
});

const PositionSchema = z
  .object({
    symbol: Str,
    qty: Dec,
    avg_entry_price: Dec,
    side: z.enum(['long', 'short']),
    market_value: DecOrNull,
    current_price: DecOrNull,
    unrealized_pl: DecOrNull,
  })
  .transform((p): BrokerPosition => p);

const AccountSchema = z.object({
  id: Str,
  status: Str,
  currency: Str,
  cash: Dec,
  equity: Dec,
  buying_power: Dec,
  portfolio_value: Dec,
  long_market_value: Dec,
  short_market_value: Dec,
});

const TradeUpdateSchema = z.object({
  event: z.enum(['new', 'fill', 'partial_fill', 'canceled', 'rejected', 'expired', 'pending_new', 'pending_cancel', 'replaced', 'done_for_day', 'accepted']),
  order: OrderSchema,
  timestamp: Str,
  execution_id: Str.optional(),
  price: Dec.optional(),
  qty: Dec.optional(),
  position_qty: Dec.optional(),
});

function parseOrder(json: unknown): BrokerOrder {
  return parse(OrderSchema, json, 'order');
}

/** A 2xx answer we cannot read: the request may have worked, so "unavailable" (retry, then reconcile) is the honest answer. */
function parse<T>(schema: z.ZodType<T>, json: unknown, what: string): T {
  const r = schema.safeParse(json);
  if (!r.success) throw new BrokerUnavailableError(`alpaca: unexpected ${what} response: ${r.error.issues[0]?.path.join('.')} ${r.error.issues[0]?.message}`);
  return r.data;
}

// ---- trade_updates stream ------------------------------------------------------------------

type State = 'connected' | 'disconnected';

class TradeUpdateConnection implements TradeUpdateSubscription {
  private ws: WebSocket | null = null;
  private closed = false;
  private attempt = 0;
  private state: State = 'disconnected';
  private retryTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private readonly initialDelay: number;
  private readonly maxDelay: number;

  constructor(
    private readonly url: string,
    private readonly opts: AlpacaBrokerOptions,
    private readonly timeoutMs: number,
    private readonly onUpdate: (u: TradeUpdate) => void,
    private readonly onState?: (s: State) => void,
  ) {
    this.initialDelay = opts.reconnect?.initialDelayMs ?? 500;
    this.maxDelay = opts.reconnect?.maxDelayMs ?? 30_000;
  }

  /**
   * Resolves after the first attempt: listening, or failed for a transient reason (it keeps
   * reconnecting in the background). Rejects only when the keys are refused on that first try.
   */
  async start(): Promise<void> {
    const outcome = await this.connect();
    if (outcome === 'unauthorized') {
      await this.close();
      throw new BrokerRejectedError(401, 'alpaca stream: authentication refused (check ALPACA_API_KEY_ID / ALPACA_API_SECRET_KEY)');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.stopPing();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.terminate();
      });
    }
    this.setState('disconnected');
  }

  private connect(): Promise<'listening' | 'unauthorized' | 'failed'> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (outcome: 'listening' | 'unauthorized' | 'failed') => {
        if (settled) return;
        settled = true;
        clearTimeout(handshakeTimer);
        resolve(outcome);
      };
      const ws = new WebSocket(this.url, { handshakeTimeout: this.timeoutMs });
      this.ws = ws;
      const handshakeTimer = setTimeout(() => {
        this.opts.logger?.warn({ url: this.url }, 'alpaca stream: handshake timed out');
        ws.terminate();
      }, this.timeoutMs);

      ws.on('open', () => ws.send(JSON.stringify({ action: 'auth', key: this.opts.keyId, secret: this.opts.secretKey })));
      ws.on('message', (data) => {
        const frame = readFrame(data);
        if (!frame) return;
        if (frame.stream === 'authorization') {
          if (frame.data?.status === 'authorized') {
            ws.send(JSON.stringify({ action: 'listen', data: { streams: ['trade_updates'] } }));
          } else {
            this.opts.logger?.error({ url: this.url }, 'alpaca stream: authentication refused');
            settle('unauthorized');
            ws.terminate();
          }
        } else if (frame.stream === 'listening') {
          const streams = frame.data?.streams;
          if (Array.isArray(streams) && streams.includes('trade_updates')) {
            this.attempt = 0;
            this.startPing(ws);
            this.setState('connected');
            settle('listening');
          }
        } else if (frame.stream === 'trade_updates') {
          const u = TradeUpdateSchema.safeParse(frame.data);
          if (!u.success) {
            this.opts.logger?.error({ issue: u.error.issues[0]?.message }, 'alpaca stream: unreadable trade update');
            return;
          }
          try {
            this.onUpdate(u.data);
          } catch (err) {
            this.opts.logger?.error({ err: errMessage(err) }, 'alpaca stream: trade update handler failed');
          }
        }
      });
      ws.on('pong', () => {
        (ws as WebSocket & { alive?: boolean }).alive = true;
      });
      ws.on('error', (err) => this.opts.logger?.warn({ url: this.url, err: err.message }, 'alpaca stream: socket error'));
      ws.on('close', () => {
        if (this.ws === ws) {
          this.ws = null;
          this.stopPing();
          this.setState('disconnected');
        }
        settle('failed');
        this.scheduleReconnect();
      });
    });
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    const cap = Math.min(this.maxDelay, this.initialDelay * 2 ** Math.min(this.attempt, 30));
    const delay = Math.round(cap / 2 + Math.random() * (cap / 2));
    this.attempt++;
    this.opts.logger?.info({ url: this.url, attempt: this.attempt, delay_ms: delay }, 'alpaca stream: reconnecting');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closed) void this.connect();
    }, delay);
  }

  private startPing(ws: WebSocket): void {
    this.stopPing();
    const every = this.opts.pingIntervalMs ?? 20_000;
    if (!every) return;
    const w = ws as WebSocket & { alive?: boolean };
    w.alive = true;
    this.pingTimer = setInterval(() => {
      if (!w.alive) {
        this.opts.logger?.warn({ url: this.url }, 'alpaca stream: no pong, reconnecting');
        ws.terminate();
        return;
      }
      w.alive = false;
      ws.ping();
    }, every);
    this.pingTimer.unref();
  }

  private stopPing(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  private setState(s: State): void {
    if (s === this.state) return;
    this.state = s;
    this.onState?.(s);
  }
}

/** Alpaca sends this stream's frames as binary; text works too. */
function readFrame(data: RawData): { stream?: string; data?: Record<string, unknown> } | null {
  const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
  try {
    const v: unknown = JSON.parse(text);
    return isRecord(v) ? (v as { stream?: string; data?: Record<string, unknown> }) : null;
  } catch {
    return null;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function errMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}
