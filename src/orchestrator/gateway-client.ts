import type { FastifyInstance } from 'fastify';
import type { OrderSide, OrderType, TimeInForce } from '../execution/broker.js';
import type { OrderRow, PositionRow } from '../execution/model.js';

/**
 * What the orchestrator needs from the execution gateway, and two ways to reach it:
 * `HttpGatewayClient` (fetch over HTTP; Node's fetch keeps connections alive) for
 * `kestrel serve orchestrator` and replicas, and `InProcessGatewayClient` (Fastify inject on
 * the gateway app) for `kestrel up` and tests. Both map the gateway's answers the same way:
 * 4xx → GatewayError, not retryable, with the gateway's code and reason; 5xx, 408, 429, a
 * timeout or no connection → GatewayError, retryable (submitting again is harmless: the
 * client_order_id makes it idempotent).
 */

export type GatewayOrder = OrderRow;
export type GatewayPosition = PositionRow;

export interface GatewayOrderRequest {
  strategy_id: string;
  symbol: string;
  side: OrderSide;
  qty: string;
  order_type: OrderType;
  limit_price?: string | null;
  time_in_force?: TimeInForce;
  client_order_id?: string;
  trade_date?: string;
}

export interface GatewayOrderFilter {
  status?: string;
  symbol?: string;
  strategy_id?: string;
  since?: string;
  limit?: number;
  cursor?: string;
}

export interface GatewayAccount {
  broker: string;
  account: Record<string, unknown>;
  realized_pnl: string;
  open_positions: number;
  open_orders: number;
  pending_orders: number;
}

export interface GatewayClient {
  /** POST /api/v1/orders: created = 201 (this call wrote it), false = 200 (it already existed). */
  submitOrder(body: GatewayOrderRequest): Promise<{ order: GatewayOrder; created: boolean }>;
  /** GET /api/v1/orders/:client_order_id; null when the gateway does not know it. */
  getOrder(clientOrderId: string): Promise<GatewayOrder | null>;
  /** GET /api/v1/positions (non-flat). */
  positions(): Promise<GatewayPosition[]>;
  orders(filter?: GatewayOrderFilter): Promise<{ orders: GatewayOrder[]; next_cursor: string | null }>;
  account(): Promise<GatewayAccount>;
  /** GET /health answers 200 (ok or degraded); throws otherwise. */
  ping(): Promise<void>;
}

export class GatewayError extends Error {
  constructor(
    /** HTTP status; 0 when there was no answer. */
    readonly status: number,
    /** The gateway's error code (`stale_trade_date`, `kill_switch_engaged`, …) or `gateway_unreachable`. */
    readonly code: string,
    message: string,
    readonly retryable: boolean,
    readonly details?: Array<{ field: string; reason: string }>,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

/** One HTTP exchange: status and parsed JSON body (null when empty or not JSON). */
export type GatewayTransport = (method: 'GET' | 'POST', path: string, body?: unknown) => Promise<{ status: number; body: unknown }>;

/** The gateway API over any transport. */
export class GatewayApiClient implements GatewayClient {
  constructor(private readonly send: GatewayTransport) {}

  async submitOrder(body: GatewayOrderRequest): Promise<{ order: GatewayOrder; created: boolean }> {
    const r = await this.call('POST', '/api/v1/orders', body);
    if (r.status !== 200 && r.status !== 201) throw errorOf(r, 'POST /api/v1/orders');
    return { order: asOrder(r.body), created: r.status === 201 };
  }

  async getOrder(clientOrderId: string): Promise<GatewayOrder | null> {
    const r = await this.call('GET', `/api/v1/orders/${encodeURIComponent(clientOrderId)}`);
    if (r.status === 404 && isRecord(r.body) && r.body.error === 'order_not_found') return null;
    if (r.status !== 200) throw errorOf(r, 'GET /api/v1/orders/:client_order_id');
    return asOrder(r.body);
  }

  async positions(): Promise<GatewayPosition[]> {
    const r = await this.call('GET', '/api/v1/positions');
    if (r.status !== 200) throw errorOf(r, 'GET /api/v1/positions');
    const list = isRecord(r.body) ? r.body.positions : undefined;
    if (!Array.isArray(list)) throw malformed('GET /api/v1/positions', 'positions is not an array');
    return list.map((p) => {
      if (!isRecord(p) || typeof p.symbol !== 'string' || typeof p.qty !== 'string') throw malformed('GET /api/v1/positions', 'a position without symbol/qty');
      return p as unknown as GatewayPosition;
    });
  }

  async orders(filter: GatewayOrderFilter = {}): Promise<{ orders: GatewayOrder[]; next_cursor: string | null }> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v !== undefined) q.set(k, String(v));
    const r = await this.call('GET', `/api/v1/orders${q.size ? `?${q.toString()}` : ''}`);
    if (r.status !== 200) throw errorOf(r, 'GET /api/v1/orders');
    if (!isRecord(r.body) || !Array.isArray(r.body.orders)) throw malformed('GET /api/v1/orders', 'orders is not an array');
    return { orders: r.body.orders.map(asOrder), next_cursor: typeof r.body.next_cursor === 'string' ? r.body.next_cursor : null };
  }

  async account(): Promise<GatewayAccount> {
    const r = await this.call('GET', '/api/v1/account');
    if (r.status !== 200) throw errorOf(r, 'GET /api/v1/account');
    if (!isRecord(r.body) || !isRecord(r.body.account)) throw malformed('GET /api/v1/account', 'no account object');
    return r.body as unknown as GatewayAccount;
  }

  async ping(): Promise<void> {
    const r = await this.call('GET', '/health');
    if (r.status !== 200) throw errorOf(r, 'GET /health');
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    try {
      return await this.send(method, path, body);
    } catch (e) {
      if (e instanceof GatewayError) throw e;
      const msg = e instanceof Error ? (e.cause instanceof Error ? `${e.message}: ${e.cause.message}` : e.message) : String(e);
      throw new GatewayError(0, 'gateway_unreachable', `gateway ${method} ${path}: ${msg}`, true);
    }
  }
}

export interface HttpGatewayClientOptions {
  /** e.g. http://127.0.0.1:7301 */
  baseUrl: string;
  /** The gateway's API_TOKEN, sent as a bearer token. */
  apiToken?: string;
  /** Per request. Default 10 s. */
  timeoutMs?: number;
}

/** The gateway over HTTP (Node's fetch: pooled keep-alive connections). */
export class HttpGatewayClient extends GatewayApiClient {
  readonly baseUrl: string;

  constructor(opts: HttpGatewayClientOptions) {
    const baseUrl = opts.baseUrl.replace(/\/+$/, '');
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.apiToken) headers.authorization = `Bearer ${opts.apiToken}`;
    super(async (method, path, body) => {
      const res = await fetch(baseUrl + path, {
        method,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { status: res.status, body: parseJson(await res.text()) };
    });
    this.baseUrl = baseUrl;
  }
}

/** The gateway app in this process (`kestrel up`, tests): the same API through Fastify's inject. */
export class InProcessGatewayClient extends GatewayApiClient {
  constructor(app: FastifyInstance, opts: { apiToken?: string } = {}) {
    const headers: Record<string, string> = opts.apiToken ? { authorization: `Bearer ${opts.apiToken}` } : {};
    super(async (method, path, body) => {
      const res = await app.inject({ method, url: path, headers, ...(body === undefined ? {} : { payload: body as object }) });
      return { status: res.statusCode, body: parseJson(res.body) };
    });
  }
}

function parseJson(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asOrder(v: unknown): GatewayOrder {
  if (!isRecord(v) || typeof v.client_order_id !== 'string' || typeof v.status !== 'string' || typeof v.qty !== 'string') throw malformed('order', 'an order without client_order_id/status/qty');
  return v as unknown as GatewayOrder;
}

function malformed(what: string, why: string): GatewayError {
  return new GatewayError(502, 'gateway_bad_answer', `gateway ${what}: unexpected answer (${why})`, true);
}

function errorOf(r: { status: number; body: unknown }, what: string): GatewayError {
  const b = isRecord(r.body) ? r.body : {};
  const code = typeof b.error === 'string' ? b.error : `http_${r.status}`;
  const message = typeof b.message === 'string' ? b.message : `HTTP ${r.status}`;
  const details = Array.isArray(b.details) ? (b.details as Array<{ field: string; reason: string }>) : undefined;
  const retryable = r.status >= 500 || r.status === 408 || r.status === 429 || r.status === 0;
  return new GatewayError(r.status, code, `gateway ${what}: ${r.status} ${code}: ${message}`, retryable, details);
}
