import { dec, decString, type Decimal } from '../core/money.js';
import type { Db, Queryable } from '../db/db.js';
import type { OrderSide } from './broker.js';
import type { PositionRow } from './model.js';
import { applyFill, avgEntryPrice, positionState, type PositionState } from './positions.js';
import { runStatement, statement } from './sql.js';

/**
 * Recording a fill and folding it into its position, inside the caller's transaction.
 * The fill row goes first with ON CONFLICT (execution_id) DO NOTHING: when it already existed
 * nothing else happens, so a replayed or concurrently applied execution counts once.
 */
export interface NewFill {
  executionId: string;
  orderId: string;
  symbol: string;
  side: OrderSide;
  qty: Decimal;
  price: Decimal;
  executedAt: string;
  synthetic: boolean;
}

const INSERT_FILL = statement(
  'insert_fill',
  `INSERT INTO fills (execution_id, order_id, symbol, side, qty, price, executed_at, synthetic, created_at)
   VALUES ($1, $2, $3, $4, $5::numeric, $6::numeric, $7::timestamptz, $8, $9::timestamptz)
   ON CONFLICT (execution_id) DO NOTHING RETURNING id`,
);
const LOCK_POSITION = statement('lock_position', 'SELECT qty, cost_basis, realized_pnl FROM positions WHERE symbol = $1 FOR UPDATE');
const WRITE_POSITION = statement(
  'write_position',
  `INSERT INTO positions AS p (symbol, qty, avg_entry_price, cost_basis, realized_pnl, updated_at) VALUES ($1, $2::numeric, $3::numeric, $4::numeric, $5::numeric, $6::timestamptz)
   ON CONFLICT (symbol) DO UPDATE SET qty = EXCLUDED.qty, avg_entry_price = EXCLUDED.avg_entry_price, cost_basis = EXCLUDED.cost_basis, realized_pnl = EXCLUDED.realized_pnl, updated_at = EXCLUDED.updated_at`,
);

/** `kind`: the database's (tx handles do not carry it), for prepared statements on PostgreSQL. */
export async function recordFill(tx: Queryable, f: NewFill, at: Date, kind?: Db['kind']): Promise<{ inserted: boolean; position?: PositionState }> {
  const ins = await runStatement(
    tx,
    INSERT_FILL,
    [f.executionId, f.orderId, f.symbol, f.side, decString(f.qty), decString(f.price), f.executedAt, f.synthetic, at.toISOString()],
    kind,
  );
  if (ins.rows.length === 0) return { inserted: false };
  const row = await lockPosition(tx, f.symbol, at, kind);
  const next = applyFill(positionState(row.qty, row.cost_basis, row.realized_pnl), { side: f.side, qty: f.qty, price: f.price });
  await writePosition(tx, f.symbol, next, at, kind);
  return { inserted: true, position: next };
}

/** The position row, locked; created flat first if the symbol has none. */
async function lockPosition(tx: Queryable, symbol: string, at: Date, kind?: Db['kind']): Promise<Pick<PositionRow, 'qty' | 'cost_basis' | 'realized_pnl'>> {
  for (;;) {
    const cur = await runStatement<Pick<PositionRow, 'qty' | 'cost_basis' | 'realized_pnl'>>(tx, LOCK_POSITION, [symbol], kind);
    if (cur.rows[0]) return cur.rows[0];
    await tx.query('INSERT INTO positions (symbol, updated_at) VALUES ($1, $2::timestamptz) ON CONFLICT (symbol) DO NOTHING', [symbol, at.toISOString()]);
  }
}

export async function writePosition(tx: Queryable, symbol: string, p: PositionState, at: Date, kind?: Db['kind']): Promise<void> {
  await runStatement(tx, WRITE_POSITION, [symbol, decString(p.qty), decString(avgEntryPrice(p)), decString(p.cost), decString(p.realized), at.toISOString()], kind);
}

export async function fillsTotal(tx: Queryable, orderId: string): Promise<{ qty: Decimal; notional: Decimal; synthetic: boolean }> {
  const r = await tx.query<{ qty: string; notional: string; synthetic: boolean }>(
    'SELECT coalesce(sum(qty), 0) AS qty, coalesce(sum(qty * price), 0) AS notional, coalesce(bool_or(synthetic), false) AS synthetic FROM fills WHERE order_id = $1',
    [orderId],
  );
  const row = r.rows[0]!;
  return { qty: dec(row.qty), notional: dec(row.notional), synthetic: row.synthetic };
}
