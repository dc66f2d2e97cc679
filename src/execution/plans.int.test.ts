import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { openPostgres } from '../db/postgres.js';
import { createTestSchema } from '../db/test-helpers.js';
import { LOCK_ORDERS } from './apply-trade-updates.js';
import { definedStatements } from './sql.js';
// The modules whose statements are checked below (importing defines them).
import './fills.js';
import './store.js';
import './write-ahead.js';
import '../risk/provider.js';

/**
 * The gateway's hot statements must stay on indexes: they run for every order or batch, and a
 * plan that scans fills or orders costs more with every order ever placed (the trade-update
 * lock once read every fill per batch through a hashed EXISTS sub-plan). Prepared statements
 * are checked in their generic plan (what a connection settles on); the per-execution one with
 * batches of several sizes.
 */
let schema: Awaited<ReturnType<typeof createTestSchema>>;
let db: Db;

beforeAll(async () => {
  schema = await createTestSchema();
  db = openPostgres({ url: schema.url });
  await migrate(db);
  // A small book : 30,000 filled orders.
  await db.query(`
    INSERT INTO orders (client_order_id, strategy_id, symbol, side, qty, order_type, time_in_force, trade_date, status, broker_order_id, filled_qty, filled_avg_price, created_at, updated_at)
    SELECT 'ks-plan-' || g, 'plan', 'AAPL', 'buy', 1, 'market', 'day', '2026-11-25', 'filled', 'b-' || g, 1, 100, now(), now()
    FROM generate_series(1, 30000) g`);
  await db.query(`
    INSERT INTO fills (execution_id, order_id, symbol, side, qty, price, executed_at, created_at)
    SELECT 'x-' || o.client_order_id, o.id, o.symbol, o.side, 1, 100, now(), now() FROM orders o`);
  await db.query('ANALYZE orders, fills');
});
afterAll(async () => {
  await db?.close();
  await schema?.drop();
});

type PlanNode = { 'Node Type': string; 'Relation Name'?: string; Plans?: PlanNode[] };
const scans = (n: PlanNode): string[] => [...(n['Node Type'] === 'Seq Scan' ? [n['Relation Name']!] : []), ...(n.Plans ?? []).flatMap(scans)];

describe('query plans on PostgreSQL', () => {
  it.each([1, 20, 200])('the trade-update lock of %i orders reads orders and fills by index only', async (n) => {
    const ids = Array.from({ length: n }, (_, i) => `ks-plan-${1 + i * 7}`);
    const r = await db.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${LOCK_ORDERS.text}`, [ids, ids.map((id) => `b-${id.slice(8)}`), ids.map((id) => `x-${id}`)]);
    const plan = r.rows[0]!['QUERY PLAN'][0]!.Plan;
    expect(scans(plan).filter((t) => t === 'orders' || t === 'fills')).toEqual([]);
  });

  it('every prepared hot statement has a generic plan that reads orders and fills by index only', async () => {
    const prepared = definedStatements().filter((st) => !st.planEachTime);
    expect(prepared.length).toBeGreaterThanOrEqual(8);
    const offenders = await db.transaction(async (tx) => {
      await tx.query('SET LOCAL plan_cache_mode = force_generic_plan');
      const out: string[] = [];
      for (const [k, st] of prepared.entries()) {
        const params = new Set(st.text.match(/\$\d+/g) ?? []).size;
        await tx.query(`PREPARE plan_check_${k} AS ${st.text}`);
        const r = await tx.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) EXECUTE plan_check_${k}${params ? `(${Array(params).fill('NULL').join(', ')})` : ''}`);
        const scanned = scans(r.rows[0]!['QUERY PLAN'][0]!.Plan).filter((t) => t === 'orders' || t === 'fills');
        if (scanned.length) out.push(`${st.name}: ${scanned.join(', ')}`);
      }
      return out;
    });
    expect(offenders).toEqual([]);
  });
});
