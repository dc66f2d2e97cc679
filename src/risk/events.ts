import type { Queryable } from '../db/db.js';
import type { BreakerStateName } from './breaker-state.js';

/**
 * The risk audit trail (`risk_events`, migrations/0004_risk.sql): append-only rows for refused
 * orders, breaker transitions and de-risking actions, each with who, why and when (UTC).
 */
export const RISK_EVENT_KINDS = ['pretrade_rejected', 'breaker', 'derisk'] as const;
export type RiskEventKind = (typeof RISK_EVENT_KINDS)[number];

export interface RiskEventInput {
  kind: RiskEventKind;
  code: string;
  actor: string;
  reason: string;
  at: Date;
  symbol?: string | null;
  client_order_id?: string | null;
  strategy_id?: string | null;
  breaker_id?: string | null;
  breaker_version?: number | null;
  from_state?: BreakerStateName | null;
  to_state?: BreakerStateName | null;
  detail?: Record<string, unknown>;
}

export interface RiskEventRow {
  id: number;
  kind: RiskEventKind;
  code: string;
  symbol: string | null;
  client_order_id: string | null;
  strategy_id: string | null;
  breaker_id: string | null;
  breaker_version: number | null;
  from_state: BreakerStateName | null;
  to_state: BreakerStateName | null;
  actor: string;
  reason: string;
  detail: Record<string, unknown>;
  created_at: string;
}

const COLUMNS = 'id, kind, code, symbol, client_order_id, strategy_id, breaker_id, breaker_version, from_state, to_state, actor, reason, detail, created_at';

export interface RiskEventQuery {
  kind?: RiskEventKind;
  symbol?: string;
  /** Rows with id < before (paging backwards). */
  before?: number;
  /** Default 50, at most 500. */
  limit?: number;
}

const clip = (s: string, n: number) => (s.length > n ? s.slice(0, n - 1) + '…' : s || '-');

export class RiskEventLog {
  constructor(private readonly db: Queryable) {}

  /** Appends one event; for breaker events a second write of the same version is a no-op (false). */
  async record(e: RiskEventInput): Promise<boolean> {
    const r = await this.db.query(
      `INSERT INTO risk_events (kind, code, symbol, client_order_id, strategy_id, breaker_id, breaker_version, from_state, to_state, actor, reason, detail, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13)
       ON CONFLICT (breaker_id, breaker_version) WHERE kind = 'breaker' DO NOTHING`,
      [
        e.kind,
        e.code,
        e.symbol ?? null,
        e.client_order_id ?? null,
        e.strategy_id ?? null,
        e.breaker_id ?? null,
        e.breaker_version ?? null,
        e.from_state ?? null,
        e.to_state ?? null,
        clip(e.actor, 200),
        clip(e.reason, 2000),
        JSON.stringify(e.detail ?? {}),
        e.at.toISOString(),
      ],
    );
    return r.rowCount > 0;
  }

  /** Newest first. */
  async list(q: RiskEventQuery = {}): Promise<RiskEventRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.kind) where.push(`kind = $${params.push(q.kind)}`);
    if (q.symbol) where.push(`symbol = $${params.push(q.symbol)}`);
    if (q.before !== undefined) where.push(`id < $${params.push(q.before)}`);
    const limit = Math.min(Math.max(q.limit ?? 50, 1), 500);
    const r = await this.db.query<RiskEventRow>(`SELECT ${COLUMNS} FROM risk_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${limit}`, params);
    return r.rows.map((row) => ({ ...row, id: Number(row.id) }));
  }

  /** The newest audited breaker transition (to re-seed a lost live state). */
  async lastBreakerEvent(breakerId: string): Promise<RiskEventRow | null> {
    const r = await this.db.query<RiskEventRow>(`SELECT ${COLUMNS} FROM risk_events WHERE kind = 'breaker' AND breaker_id = $1 ORDER BY breaker_version DESC LIMIT 1`, [breakerId]);
    return r.rows[0] ? { ...r.rows[0], id: Number(r.rows[0].id) } : null;
  }
}

/** What the breaker, the engine and de-risking need of the audit log. */
export type RiskAudit = Pick<RiskEventLog, 'record' | 'list' | 'lastBreakerEvent'>;

/** An audit log that keeps nothing (simulations without a database). */
export const nullRiskAudit: RiskAudit = {
  record: async () => true,
  list: async () => [],
  lastBreakerEvent: async () => null,
};
