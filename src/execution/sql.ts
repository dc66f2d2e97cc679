import type { Db, Queryable, QueryResult } from '../db/db.js';

/**
 * Hot statements run as named prepared statements on PostgreSQL: node-postgres parses and
 * plans each once per connection and afterwards only binds and executes (≈ 35 % more
 * statements per second than unnamed ones on this schema). PGlite runs the same text.
 *
 * The Db interface takes SQL text; node-postgres underneath also accepts a QueryConfig with a
 * name, which the PostgreSQL Db passes through unchanged. This module is the one place that
 * relies on that (covered by sql.int.test.ts) until the Db interface grows a `name` option.
 */
export interface Statement {
  readonly name: string;
  readonly text: string;
  /** Planned at every execution (unnamed) instead of prepared once; see `statement`. */
  readonly planEachTime: boolean;
}

/**
 * `planEachTime`: for a statement whose best plan depends on the size of its batch and of the
 * tables. A prepared statement soon settles on a generic plan and keeps it until the next
 * ANALYZE: one made while the tables are small (a new database, the first minutes of a day)
 * keeps sequential scans that cost more with every row added. Planning afresh costs a fraction
 * of a millisecond, paid once per batch, not per order.
 */
export function statement(name: string, text: string, opts: { planEachTime?: boolean } = {}): Statement {
  const s = { name: `kestrel_exec_${name}`, text, planEachTime: opts.planEachTime ?? false };
  defined.push(s);
  return s;
}

const defined: Statement[] = [];

/** Every statement defined so far (by the modules imported): plans.int.test.ts checks their plans. */
export function definedStatements(): readonly Statement[] {
  return defined;
}

/** `kind` defaults to the Queryable's own (a Db has one; a transaction handle does not: pass it). */
export function runStatement<T>(q: Queryable, s: Statement, params: readonly unknown[], kind: Db['kind'] | undefined = (q as Partial<Db>).kind): Promise<QueryResult<T>> {
  return kind === 'postgres' && !s.planEachTime ? q.query<T>(s as unknown as string, params) : q.query<T>(s.text, params);
}
