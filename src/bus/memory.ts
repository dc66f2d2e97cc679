import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from '../core/clock.js';
import { BaseBus, type BaseBusOptions } from './base.js';
import { ownedBuffer } from './codec.js';
import { compareIds, parseId, type RawEntry, type StreamDriver } from './consumer.js';
import { BusUnavailableError, type BusStatus, type BusValue } from './types.js';

/**
 * The in-process bus: what `openBus()` gives without `REDIS_URL`. Same semantics as the
 * Redis bus — TTLs (against an injectable clock), pub/sub, streams with consumer groups,
 * pending lists, acks, redelivery and claims — for one process. State lives in a
 * MemoryBackend; buses opened in one process share the default backend, so services
 * running together under `kestrel up` see each other's keys, messages and streams.
 */

interface Slot {
  value: Buffer;
  expiresAt: number | undefined;
}

interface MemEntry {
  id: string;
  fields: Record<string, string>;
}

interface Pending {
  consumer: string;
  deliveredAt: number;
  deliveries: number;
}

interface MemGroup {
  lastDelivered: string;
  pending: Map<string, Pending>;
}

interface MemStream {
  entries: MemEntry[];
  byId: Map<string, MemEntry>;
  lastId: string;
  groups: Map<string, MemGroup>;
  /** Woken on every add. */
  added: EventEmitter;
}

export class NoGroupError extends Error {
  constructor(stream: string, group: string) {
    super(`NOGROUP no such key '${stream}' or consumer group '${group}'`);
    this.name = 'NoGroupError';
  }
}

export class MemoryBackend {
  readonly clock: Clock;
  private readonly kv = new Map<string, Slot>();
  private writesSinceSweep = 0;
  readonly pubsub = new EventEmitter();
  private readonly streams = new Map<string, MemStream>();

  constructor(opts: { clock?: Clock } = {}) {
    this.clock = opts.clock ?? systemClock;
    this.pubsub.setMaxListeners(0);
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  // ---- key/value with TTL (lazy expiry plus an amortised sweep) ----

  get(key: string): Buffer | null {
    const slot = this.kv.get(key);
    if (!slot) return null;
    if (slot.expiresAt !== undefined && slot.expiresAt <= this.now()) {
      this.kv.delete(key);
      return null;
    }
    return slot.value;
  }

  set(key: string, value: BusValue, ttlMs: number | undefined): void {
    this.kv.set(key, { value: ownedBuffer(value), expiresAt: ttlMs === undefined ? undefined : this.now() + ttlMs });
    if (++this.writesSinceSweep >= Math.max(1024, this.kv.size >> 1)) this.sweep();
  }

  del(key: string): boolean {
    const alive = this.get(key) !== null;
    this.kv.delete(key);
    return alive;
  }

  /** Remaining TTL in ms, -1 without expiry, -2 when absent (as Redis PTTL). */
  pttl(key: string): number {
    const slot = this.kv.get(key);
    if (!slot || this.get(key) === null) return -2;
    return slot.expiresAt === undefined ? -1 : slot.expiresAt - this.now();
  }

  private sweep(): void {
    this.writesSinceSweep = 0;
    const now = this.now();
    for (const [k, s] of this.kv) if (s.expiresAt !== undefined && s.expiresAt <= now) this.kv.delete(k);
  }

  // ---- streams ----

  private stream(key: string, create: boolean): MemStream | undefined {
    let s = this.streams.get(key);
    if (!s && create) {
      s = { entries: [], byId: new Map(), lastId: '0-0', groups: new Map(), added: new EventEmitter() };
      s.added.setMaxListeners(0);
      this.streams.set(key, s);
    }
    return s;
  }

  private groupOf(key: string, group: string): { s: MemStream; g: MemGroup } {
    const s = this.streams.get(key);
    const g = s?.groups.get(group);
    if (!s || !g) throw new NoGroupError(key, group);
    return { s, g };
  }

  xadd(key: string, fields: Record<string, string>, maxLen: number | undefined): string {
    const s = this.stream(key, true)!;
    const [lastMs, lastSeq] = parseId(s.lastId);
    const ms = this.now();
    const id = ms > lastMs ? `${ms}-0` : `${lastMs}-${lastSeq + 1}`;
    const e = { id, fields: { ...fields } };
    s.entries.push(e);
    s.byId.set(id, e);
    s.lastId = id;
    if (maxLen !== undefined && s.entries.length > maxLen) {
      for (const old of s.entries.splice(0, s.entries.length - maxLen)) s.byId.delete(old.id);
    }
    s.added.emit('add');
    return id;
  }

  xlen(key: string): number {
    return this.streams.get(key)?.entries.length ?? 0;
  }

  ensureGroup(key: string, group: string, startId: '$' | '0'): void {
    const s = this.stream(key, true)!;
    if (!s.groups.has(group)) s.groups.set(group, { lastDelivered: startId === '$' ? s.lastId : '0-0', pending: new Map() });
  }

  readNew(key: string, group: string, consumer: string, count: number): RawEntry[] {
    const { s, g } = this.groupOf(key, group);
    const out: RawEntry[] = [];
    const now = this.now();
    for (let i = firstAfter(s.entries, g.lastDelivered); i < s.entries.length && out.length < count; i++) {
      const e = s.entries[i]!;
      g.pending.set(e.id, { consumer, deliveredAt: now, deliveries: 1 });
      g.lastDelivered = e.id;
      out.push({ id: e.id, fields: { ...e.fields } });
    }
    return out;
  }

  readPending(key: string, group: string, consumer: string, afterId: string, count: number): RawEntry[] {
    const { s, g } = this.groupOf(key, group);
    const now = this.now();
    const ids = [...g.pending.entries()].filter(([id, p]) => p.consumer === consumer && compareIds(id, afterId) > 0).map(([id]) => id);
    return ids
      .sort(compareIds)
      .slice(0, count)
      .map((id) => {
        const p = g.pending.get(id)!;
        p.deliveredAt = now;
        p.deliveries++;
        const e = s.byId.get(id);
        return { id, fields: e ? { ...e.fields } : null };
      });
  }

  autoclaim(key: string, group: string, consumer: string, minIdleMs: number, cursor: string, count: number): { next: string; entries: RawEntry[] } {
    const { s, g } = this.groupOf(key, group);
    const now = this.now();
    const ids = [...g.pending.keys()].filter((id) => compareIds(id, cursor) >= 0).sort(compareIds);
    const entries: RawEntry[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (entries.length >= count) return { next: id, entries };
      const p = g.pending.get(id)!;
      if (now - p.deliveredAt < minIdleMs) continue;
      const e = s.byId.get(id);
      if (!e) {
        g.pending.delete(id); // trimmed while pending: dropped, as Redis ≥ 7 does
        continue;
      }
      p.consumer = consumer;
      p.deliveredAt = now;
      p.deliveries++;
      entries.push({ id, fields: { ...e.fields } });
    }
    return { next: '0-0', entries };
  }

  ack(key: string, group: string, ids: string[]): number {
    const g = this.streams.get(key)?.groups.get(group);
    let n = 0;
    if (g) for (const id of ids) if (g.pending.delete(id)) n++;
    return n;
  }

  touch(key: string, group: string, consumer: string, ids: string[]): void {
    const g = this.streams.get(key)?.groups.get(group);
    if (!g) return;
    const now = this.now();
    for (const id of ids) {
      const p = g.pending.get(id);
      if (p && this.streams.get(key)!.byId.has(id)) {
        p.consumer = consumer;
        p.deliveredAt = now;
      }
    }
  }

  /** Pending entries of a group: `{ id, consumer, idleMs, deliveries }` (as XPENDING). */
  pending(key: string, group: string): Array<{ id: string; consumer: string; idleMs: number; deliveries: number }> {
    const { g } = this.groupOf(key, group);
    const now = this.now();
    return [...g.pending.entries()].sort(([a], [b]) => compareIds(a, b)).map(([id, p]) => ({ id, consumer: p.consumer, idleMs: now - p.deliveredAt, deliveries: p.deliveries }));
  }

  /** Resolves when an entry is added to the stream, after ms, or when the signal aborts. */
  waitForAdd(key: string, ms: number, signal: AbortSignal): Promise<void> {
    const s = this.stream(key, true)!;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        s.added.off('add', done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      s.added.once('add', done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** Index of the first entry with id > after (entries are sorted by id). */
function firstAfter(entries: MemEntry[], after: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareIds(entries[mid]!.id, after) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

let shared: MemoryBackend | undefined;

/** The process-wide backend used when no backend is passed. */
export function sharedMemoryBackend(): MemoryBackend {
  return (shared ??= new MemoryBackend());
}

export interface MemoryBusOptions extends BaseBusOptions {
  /** The state to use; default the process-wide shared backend. Pass `new MemoryBackend({ clock })` for isolation or a fake clock. */
  backend?: MemoryBackend;
}

export class MemoryBus extends BaseBus {
  readonly kind = 'memory' as const;
  readonly backend: MemoryBackend;
  private readonly listeners = new Map<string, (m: string) => void>();

  constructor(opts: MemoryBusOptions) {
    super(opts);
    this.backend = opts.backend ?? sharedMemoryBackend();
  }

  protected describe(): string {
    return 'in-process bus';
  }

  status(): BusStatus {
    return this.closed ? 'down' : 'up';
  }

  protected isUnavailable(err: unknown): boolean {
    return err instanceof BusUnavailableError;
  }

  protected async rawGet(key: string): Promise<string | null> {
    return this.backend.get(key)?.toString('utf8') ?? null;
  }

  protected async rawGetBuffer(key: string): Promise<Buffer | null> {
    const v = this.backend.get(key);
    return v === null ? null : Buffer.from(v);
  }

  protected override async rawGetF64(key: string): Promise<Float64Array | null> {
    const v = this.backend.get(key);
    if (v === null) return null;
    if (v.byteLength % 8 !== 0) return super.rawGetF64(key); // let the shared decoder report it
    const out = new Float64Array(v.byteLength / 8);
    new Uint8Array(out.buffer).set(v); // the one copy: callers must not alias the store
    return out;
  }

  protected async rawMget(keys: string[]): Promise<Array<string | null>> {
    return keys.map((k) => this.backend.get(k)?.toString('utf8') ?? null);
  }

  protected async rawMgetBuffer(keys: string[]): Promise<Array<Buffer | null>> {
    return keys.map((k) => {
      const v = this.backend.get(k);
      return v === null ? null : Buffer.from(v);
    });
  }

  protected async rawSet(key: string, value: BusValue, ttlMs: number | undefined): Promise<void> {
    this.backend.set(key, value, ttlMs);
  }

  protected async rawMset(entries: Array<[string, BusValue]>, ttlMs: number | undefined): Promise<void> {
    for (const [k, v] of entries) this.backend.set(k, v, ttlMs);
  }

  protected async rawDel(keys: string[]): Promise<number> {
    return keys.filter((k) => this.backend.del(k)).length;
  }

  protected async rawPublish(channel: string, message: string): Promise<void> {
    // Delivered asynchronously and in order, like Redis; subscribers of the moment only.
    const targets = this.backend.pubsub.listeners(channel) as Array<(m: string) => void>;
    if (targets.length > 0) setImmediate(() => targets.forEach((fn) => fn(message)));
  }

  protected async rawListen(channel: string): Promise<void> {
    if (this.listeners.has(channel)) return;
    const fn = (m: string) => this.dispatch(channel, m);
    this.listeners.set(channel, fn);
    this.backend.pubsub.on(channel, fn);
  }

  protected async rawUnlisten(channel: string): Promise<void> {
    const fn = this.listeners.get(channel);
    if (!fn) return;
    this.listeners.delete(channel);
    this.backend.pubsub.off(channel, fn);
  }

  protected async rawXadd(stream: string, flat: string[], maxLen: number | undefined): Promise<string> {
    const fields: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    return this.backend.xadd(stream, fields, maxLen);
  }

  protected async rawEnsureGroup(stream: string, group: string, startId: '$' | '0'): Promise<void> {
    this.backend.ensureGroup(stream, group, startId);
  }

  protected async rawPing(): Promise<void> {}

  protected streamDriver(): StreamDriver {
    const b = this.backend;
    const abort = new AbortController();
    const guard = () => {
      if (this.closed) throw new BusUnavailableError('bus is closed');
    };
    return {
      ensureGroup: async (s, g, startId) => b.ensureGroup(s, g, startId),
      readPending: async (s, g, c, after, n) => (guard(), b.readPending(s, g, c, after, n)),
      readNew: async (s, g, c, n, blockMs) => {
        guard();
        const now = b.readNew(s, g, c, n);
        if (now.length > 0 || abort.signal.aborted) return now;
        await b.waitForAdd(s, blockMs, abort.signal);
        return abort.signal.aborted ? [] : b.readNew(s, g, c, n);
      },
      autoclaim: async (s, g, c, idle, cursor, n) => (guard(), b.autoclaim(s, g, c, idle, cursor, n)),
      ack: async (s, g, ids) => void (guard(), b.ack(s, g, ids)),
      touch: async (s, g, c, ids) => b.touch(s, g, c, ids),
      isNoGroup: (err) => err instanceof NoGroupError,
      interrupt: () => abort.abort(),
      close: async () => {},
    };
  }

  protected async closeBackend(): Promise<void> {
    for (const [c, fn] of this.listeners) this.backend.pubsub.off(c, fn);
    this.listeners.clear();
  }
}
