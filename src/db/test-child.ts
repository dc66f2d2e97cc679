/**
 * A second (third, …) process on an embedded database, for embedded.test.ts:
 *   node --import tsx src/db/test-child.ts <mode> <path> [value]
 * hold <dir> <v>   open, insert v, print `ready <pid>`, stay until stdin ends, close
 * write <var> <v> [n]  openDb on var dir <var> (as the CLI does), insert v n times, close, exit
 * race <dir>       print `waiting`, wait for a line on stdin, open, print `open <pid> <rows>`, stay until stdin ends, close
 * lock <lockfile>  print `waiting`, wait for a line on stdin, acquireOwner, print `owner|held <pid>`, stay until stdin ends
 */
import { createInterface } from 'node:readline';
import { openEmbedded } from './embedded.js';
import { openDb } from './open.js';
import { acquireOwner } from './owner-lock.js';

const [mode, path, value] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin });
const nextLine = () => {
  process.stdout.write('waiting\n');
  return new Promise<void>((resolve) => lines.once('line', () => resolve()));
};
const stdinEnd = new Promise<void>((resolve) => lines.once('close', () => resolve()));

const TABLE = 'CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, v text NOT NULL, pid integer NOT NULL)';

if (mode === 'write') {
  const db = await openDb({ varDir: path! });
  await db.exec(TABLE);
  for (let i = 0; i < Number(process.argv[5] ?? 1); i++) await db.query('INSERT INTO notes (v, pid) VALUES ($1, $2)', [value, process.pid]);
  await db.close();
} else if (mode === 'hold') {
  const db = await openEmbedded(path!);
  await db.exec(TABLE);
  await db.query('INSERT INTO notes (v, pid) VALUES ($1, $2)', [value, process.pid]);
  process.stdout.write(`ready ${process.pid}\n`);
  await stdinEnd;
  await db.close();
} else if (mode === 'race') {
  await nextLine();
  const db = await openEmbedded(path!);
  await db.exec(TABLE);
  const r = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM notes');
  process.stdout.write(`open ${process.pid} ${r.rows[0]!.n}\n`);
  await stdinEnd;
  await db.close();
} else if (mode === 'lock') {
  await nextLine();
  const got = acquireOwner(path!);
  process.stdout.write(`${'lock' in got ? 'owner' : 'held'} ${process.pid}\n`);
  await stdinEnd;
  if ('lock' in got) got.lock.release();
} else {
  process.stderr.write(`test-child: unknown mode ${mode}\n`);
  process.exitCode = 2;
}
lines.close();
process.stdin.destroy();
