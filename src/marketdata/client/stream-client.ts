import { WebSocket, type RawData } from 'ws';
import { systemClock, type Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { parseServerFrame, type BarMsg, type ErrorMsg, type QuoteMsg, type SubscriptionMsg, type TradeMsg } from '../protocol/messages.js';

/** What the client knew when a connection dropped, reported once it is back. */
export interface GapInfo {
  /** Last trade id seen on the dropped connection (ids restart per connection), or null. */
  lastTradeId: number | null;
  /** Timestamp `t` of the last trade seen before the drop, or null. */
  lastTradeTime: string | null;
  disconnectedAt: string;
  reconnectedAt: string;
  /** Connection attempts it took to get back. */
  attempts: number;
}

export interface MarketDataClientOptions {
  url: string;
  key: string;
  secret: string;
  clock?: Clock;
  logger?: Logger;
  /** Reconnect backoff: delay = min(maxMs, initialMs * 2^(attempt-1)) * (1 - jitter * random). */
  backoff?: { initialMs?: number; maxMs?: number; jitter?: number };
  /** No message for this long → onStale (once, until a message arrives). 0 disables. */
  staleMs?: number;
  /** Which channels `subscribe(symbols)` joins. Default trades and bars. */
  channels?: Array<'trades' | 'quotes' | 'bars'>;
  /**
   * Trade ids form one increasing sequence per connection (the replay server). Default true:
   * non-increasing ids are skipped as out of order and jumps counted as gaps. Set false for
   * Alpaca itself, whose ids are exchange trade ids (neither contiguous nor ordered across symbols).
   */
  sequenced?: boolean;
  random?: () => number;
  onTrade?: (t: TradeMsg) => void;
  onQuote?: (q: QuoteMsg) => void;
  onBar?: (b: BarMsg) => void;
  onStale?: (silentMs: number) => void;
  onGap?: (g: GapInfo) => void;
  onServerError?: (e: ErrorMsg) => void;
  /** The server's echo of the connection's current subscription. */
  onSubscription?: (s: SubscriptionMsg) => void;
  onState?: (s: ClientState) => void;
  /** After all messages of one frame were handled (consumers settle per-frame work here). */
  onFrameEnd?: () => void;
}

export type ClientState = 'idle' | 'connecting' | 'authenticating' | 'live' | 'reconnecting' | 'failed' | 'closed';

export interface ClientCounters {
  /** Frames received (each a JSON array of messages). */
  frames: number;
  /** Frames or elements that were not valid server messages (skipped). */
  malformed: number;
  /** Trades whose id was not above the last id on this connection (skipped). */
  outOfOrder: number;
  /** Trades accepted (out-of-order ones are not counted here). */
  trades: number;
  quotes: number;
  bars: number;
  /** Control messages: success, error, subscription. */
  control: number;
  reconnects: number;
  /** Sequenced feeds: id jumps within one connection, and the trade ids they skipped. */
  gaps: number;
  missedTrades: number;
}

/**
 * Client of the Alpaca market-data v2 stream (and of our replay server). Keeps the wanted
 * symbol set itself, so after a reconnect it re-authenticates and resubscribes to exactly
 * that set. Bad frames and out-of-order trades are counted and skipped, never fatal. An
 * auth failure (402) is fatal: it does not retry with keys that will keep failing.
 */
export class MarketDataClient {
  readonly counters: ClientCounters = { frames: 0, malformed: 0, outOfOrder: 0, trades: 0, quotes: 0, bars: 0, control: 0, reconnects: 0, gaps: 0, missedTrades: 0 };
  private ws: WebSocket | null = null;
  private wanted = new Set<string>();
  private st: ClientState = 'idle';
  private attempt = 0;
  private lastId: number | null = null;
  private lastTime: string | null = null;
  private dropped: { lastTradeId: number | null; lastTradeTime: string | null; at: string } | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private staleTimer: NodeJS.Timeout | null = null;
  private stale = false;
  private lastMsgAt = Date.now();
  private frameAt = 0;
  private serverSymbols = 0;
  private readonly sequenced: boolean;
  private readyWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private readonly clock: Clock;
  private readonly rnd: () => number;

  constructor(private readonly o: MarketDataClientOptions) {
    this.clock = o.clock ?? systemClock;
    this.rnd = o.random ?? Math.random;
    this.sequenced = o.sequenced ?? true;
  }

  get state(): ClientState {
    return this.st;
  }

  get symbols(): string[] {
    return [...this.wanted].sort();
  }

  /** Symbols wanted, and trade symbols the server last confirmed (its subscription echo). */
  get subscriptionCounts(): { wanted: number; confirmed: number } {
    return { wanted: this.wanted.size, confirmed: this.serverSymbols };
  }

  /** performance.now() at the 'message' event of the frame being (or last) handled: receipt time for latency measurements. */
  get frameReceivedAt(): number {
    return this.frameAt;
  }

  /** Milliseconds since the last frame (or since the socket opened / the client was made). */
  lastMessageAgeMs(now = Date.now()): number {
    return Math.max(0, now - this.lastMsgAt);
  }

  /** True from the staleness watchdog firing until the next message. */
  get isStale(): boolean {
    return this.stale;
  }

  /**
   * Connects; resolves once authenticated (rejects on auth failure or close()). A server that
   * is not up yet is retried with the same backoff as a dropped connection.
   */
  connect(): Promise<void> {
    if (this.st === 'closed' || this.st === 'failed') return Promise.reject(new Error(`client is ${this.st}`));
    const p = this.whenLive();
    if (this.st === 'idle') this.open();
    return p;
  }

  /** Resolves when the client is (again) authenticated and resubscribed. */
  whenLive(): Promise<void> {
    if (this.st === 'live') return Promise.resolve();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  subscribe(symbols: readonly string[]): void {
    const add = symbols.filter((s) => !this.wanted.has(s));
    for (const s of add) this.wanted.add(s);
    if (add.length && this.st === 'live') this.sendAction('subscribe', add);
  }

  unsubscribe(symbols: readonly string[]): void {
    const del = symbols.filter((s) => this.wanted.has(s));
    for (const s of del) this.wanted.delete(s);
    if (del.length && this.st === 'live') this.sendAction('unsubscribe', del);
  }

  close(): void {
    this.setState('closed');
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.terminate();
    }
    this.failWaiters(new Error('client closed'));
  }

  private setState(s: ClientState): void {
    if (this.st === s) return;
    this.st = s;
    this.o.onState?.(s);
  }

  private channels(): Array<'trades' | 'quotes' | 'bars'> {
    return this.o.channels ?? ['trades', 'bars'];
  }

  private sendAction(action: 'subscribe' | 'unsubscribe', symbols: string[]): void {
    const msg: Record<string, unknown> = { action };
    for (const ch of this.channels()) msg[ch] = symbols;
    this.ws?.send(JSON.stringify(msg));
  }

  private open(): void {
    this.setState(this.dropped ? 'reconnecting' : 'connecting');
    this.attempt++;
    const ws = new WebSocket(this.o.url);
    this.ws = ws;
    this.lastId = null;
    ws.on('open', () => this.touch());
    ws.on('message', (data) => this.onFrame(ws, data));
    ws.on('error', (err) => this.o.logger?.debug({ err: err.message }, 'market-data socket error'));
    ws.on('close', () => this.onClose(ws));
  }

  private onClose(ws: WebSocket): void {
    if (ws !== this.ws) return;
    this.ws = null;
    this.serverSymbols = 0;
    if (this.st === 'closed' || this.st === 'failed') return;
    if (this.st === 'live') {
      // A live connection dropped: remember where we were, report it once we are back.
      this.dropped = { lastTradeId: this.lastId, lastTradeTime: this.lastTime, at: this.clock.now().toISOString() };
      this.attempt = 0;
    }
    this.setState(this.dropped ? 'reconnecting' : 'connecting');
    const delay = backoffDelay(this.attempt, this.o.backoff, this.rnd);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.st === 'reconnecting' || this.st === 'connecting') this.open();
    }, delay);
  }

  private touch(): void {
    this.lastMsgAt = Date.now();
    this.stale = false;
    const staleMs = this.o.staleMs ?? 0;
    if (staleMs <= 0) return;
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.staleTimer = setTimeout(() => {
      this.staleTimer = null;
      if (this.st === 'closed' || this.stale) return;
      this.stale = true;
      this.o.onStale?.(Date.now() - this.lastMsgAt);
    }, staleMs);
  }

  private onFrame(ws: WebSocket, data: RawData): void {
    if (ws !== this.ws) return;
    this.frameAt = performance.now();
    this.touch();
    this.counters.frames++;
    const { messages, malformed } = parseServerFrame(rawText(data));
    this.counters.malformed += malformed;
    for (const m of messages) {
      switch (m.T) {
        case 'success':
          this.counters.control++;
          if (m.msg === 'connected') {
            this.setState('authenticating');
            ws.send(JSON.stringify({ action: 'auth', key: this.o.key, secret: this.o.secret }));
          } else if (m.msg === 'authenticated') this.onAuthenticated();
          break;
        case 'error':
          this.counters.control++;
          this.o.onServerError?.(m);
          if (m.code === 402) {
            this.setState('failed');
            this.clearTimers();
            this.failWaiters(new Error(`auth failed (${m.code} ${m.msg})`));
          }
          break;
        case 'subscription':
          this.counters.control++;
          this.serverSymbols = m.trades.length;
          this.o.onSubscription?.(m);
          break;
        case 't':
          if (this.sequenced && this.lastId !== null) {
            if (m.i <= this.lastId) {
              this.counters.outOfOrder++;
              break;
            }
            if (m.i > this.lastId + 1) {
              this.counters.gaps++;
              this.counters.missedTrades += m.i - this.lastId - 1;
            }
          }
          this.lastId = m.i;
          this.lastTime = m.t;
          this.counters.trades++;
          this.o.onTrade?.(m);
          break;
        case 'q':
          this.counters.quotes++;
          this.o.onQuote?.(m);
          break;
        case 'b':
          this.counters.bars++;
          this.o.onBar?.(m);
          break;
      }
    }
    this.o.onFrameEnd?.();
  }

  private onAuthenticated(): void {
    if (this.wanted.size) this.sendAction('subscribe', this.symbols);
    const d = this.dropped;
    const attempts = this.attempt;
    this.attempt = 0;
    this.setState('live');
    if (d) {
      this.dropped = null;
      this.counters.reconnects++;
      this.o.onGap?.({ lastTradeId: d.lastTradeId, lastTradeTime: d.lastTradeTime, disconnectedAt: d.at, reconnectedAt: this.clock.now().toISOString(), attempts });
    }
    const w = this.readyWaiters;
    this.readyWaiters = [];
    for (const x of w) x.resolve();
  }

  private failWaiters(e: Error): void {
    const w = this.readyWaiters;
    this.readyWaiters = [];
    for (const x of w) x.reject(e);
  }

  private clearTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.retryTimer = this.staleTimer = null;
  }
}

/**
 * Delay before reconnect attempt `attempt + 1` (attempt = failed/dropped connections so far,
 * 0 right after a live connection drops): min(maxMs, initialMs * 2^attempt), reduced by up
 * to `jitter` (a fraction, 0–1) at random so a crowd of clients does not reconnect in step.
 */
export function backoffDelay(attempt: number, b: MarketDataClientOptions['backoff'] = {}, random: () => number = Math.random): number {
  const initial = b.initialMs ?? 250;
  const max = b.maxMs ?? 30_000;
  const jitter = Math.min(1, Math.max(0, b.jitter ?? 0.2));
  return Math.min(max, initial * 2 ** Math.min(30, Math.max(0, attempt))) * (1 - jitter * random());
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
