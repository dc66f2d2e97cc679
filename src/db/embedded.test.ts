import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DatabaseUnavailableError, type Db } from './db.js';
import { describeOwner, embeddedPaths, openEmbedded } from './embedded.js';
import { openDb } from './open.js';
import { readOwner } from './owner-lock.js';
import { socketPath } from './pglite-server.js';
import { ModelRegistry } from '../registry/models.js';
import { systemClock } from '../core/clock.js';

const CHILD = fileURLToPath(new URL('./test-child.ts', import.meta.url));
const CLI = fileURLToPath(new URL('../execution/test-child.ts', import.meta.url));
const TABLE = 'CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, v text NOT NULL, pid integer NOT NULL)';

// Child processes and a fresh PGlite (initdb) per directory: seconds each, far more on a busy machine.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

const root = mkdtempSync(join(tmpdir(), 'kestrel-emb-'));
let n = 0;
const freshDir = () => join(root, `db${++n}`, 'pg');
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function until<T>(what: string, fn: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 150_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Child {
  p: ChildProcess;
  out(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  line(re: RegExp): Promise<RegExpExecArray>;
}

function child(args: string[], script = CHILD, env: NodeJS.ProcessEnv = {}): Child {
  const e: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', ...env };
  delete e.DATABASE_URL;
  const p = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: e });
  let out = '';
  p.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  p.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => p.once('exit', (code, signal) => resolve({ code, signal })));
  return { p, out: () => out, exited, line: (re) => until(`${re} from child (output so far: ${out})`, () => re.exec(out)) };
}

const rows = async (db: Db, table = 'notes') => (await db.query<{ v: string; pid: number }>(`SELECT v, pid FROM ${table} ORDER BY id`)).rows;

/** Resolves with 'pending' if p has not settled within ms: for "must still be waiting" checks. */
const settledWithin = (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => 'settled', () => 'settled'), new Promise((r) => setTimeout(() => r('pending'), ms))]);

function startupPacket(): Buffer {
  const body = Buffer.from('user\0postgres\0database\0postgres\0\0');
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(196608, 4);
  return Buffer.concat([head, body]);
}

/** Writes raw bytes to the owner's socket; resolves with everything read until the server closes it. */
function rawExchange(dir: string, chunks: Buffer[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath(embeddedPaths(dir).socketDir));
    let got = '';
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => resolve(got));
    s.on('connect', () => chunks.forEach((c) => s.write(c)));
  });
}

const msg = (type: string, body: Buffer) => {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
};

/** A hand-driven protocol session: send messages, read until the next ReadyForQuery. */
async function rawSession(dir: string) {
  const s = connect(socketPath(embeddedPaths(dir).socketDir));
  let got = Buffer.alloc(0);
  s.on('data', (d) => (got = Buffer.concat([got, d])));
  await new Promise((r) => s.once('connect', r));
  const untilReady = async () => {
    const text = await until('ReadyForQuery', () => {
      for (let i = 0; i + 5 <= got.length; ) {
        const len = got.readInt32BE(i + 1);
        if (got[i] === 0x5a && i + 1 + len <= got.length) {
          const t = got.subarray(0, i + 1 + len).toString('latin1');
          got = got.subarray(i + 1 + len);
          return t;
        }
        i += 1 + len;
      }
      return null;
    });
    return text;
  };
  s.write(startupPacket());
  await untilReady();
  return { send: (...m: Buffer[]) => s.write(Buffer.concat(m)), untilReady, end: () => s.end() };
}

function rawClient(dir: string): pg.Client {
  return new pg.Client({ host: embeddedPaths(dir).socketDir, port: 5432, user: 'postgres', database: 'postgres' });
}

describe('one embedded database, several processes', () => {
  const varDir = join(root, 'var');

  it('kestrel models promote from a second process changes the running owner’s database, and it stays after the owner closes', async () => {
    let db = await openDb({ varDir });
    const reg = new ModelRegistry(db, systemClock);
    await reg.register({ name: 'alpha158-gbdt', artifactPath: '/nowhere/v1' });
    // v2 passes the promotion gate, so the second process needs no --force.
    await reg.register({ name: 'alpha158-gbdt', artifactPath: '/nowhere/v2', metrics: { valid_mse: 0.99, valid_mse_zero: 1, valid_ic: 0.02, valid_rank_ic: 0.02 } });
    await reg.promote('alpha158-gbdt', 1, 'test');

    const cli = child(['models', 'promote', 'alpha158-gbdt', '2', '--reason', 'second process'], CLI, { KESTREL_VAR_DIR: varDir });
    expect(await cli.exited, cli.out()).toEqual({ code: 0, signal: null });
    expect(cli.out()).toContain('alpha158-gbdt v2 is production (v1 archived)');

    // The owner sees it at once (a running signals service would reload v2)…
    expect((await reg.production('alpha158-gbdt'))?.version).toBe(2);
    const audit = (await reg.history('alpha158-gbdt')).filter((h) => h.reason === 'second process');
    expect(audit.map((h) => [h.version, h.to_status])).toEqual([[2, 'production']]);
    // …and it is on disk: nothing is lost when the owner closes.
    await db.close();
    db = await openDb({ varDir });
    try {
      expect((await new ModelRegistry(db, systemClock).production('alpha158-gbdt'))?.version).toBe(2);
    } finally {
      await db.close();
    }
  });

  it('writes from the owner and a second process at the same time are all kept', async () => {
    let db = await openDb({ varDir });
    await db.exec(TABLE);
    const writer = child(['write', varDir, 'child', '60']);
    for (let i = 0; i < 60; i++) await db.query('INSERT INTO notes (v, pid) VALUES ($1, $2)', ['owner', process.pid]);
    expect(await writer.exited, writer.out()).toEqual({ code: 0, signal: null });
    const count = async () => (await db.query<{ v: string; n: number }>('SELECT v, count(*)::int AS n FROM notes GROUP BY v ORDER BY v')).rows;
    expect(await count()).toEqual([
      { v: 'child', n: 60 },
      { v: 'owner', n: 60 },
    ]);
    await db.close();
    db = await openDb({ varDir });
    expect(await count()).toEqual([
      { v: 'child', n: 60 },
      { v: 'owner', n: 60 },
    ]);
    await db.close();
  });
});

/** One owner (this process) for the tests of the server's semantics; each test has its own table. */
describe('the owner and its clients', () => {
  const IDLE_MS = 2_000;
  let dir: string;
  let owner: Db;
  let t = 0;
  const table = async () => {
    const name = `notes_${++t}`;
    await owner.exec(`CREATE TABLE ${name} (id serial PRIMARY KEY, v text NOT NULL, pid integer NOT NULL)`);
    return name;
  };
  beforeAll(async () => {
    dir = freshDir();
    owner = await openEmbedded(dir, { idleInTransactionMs: IDLE_MS });
  });
  afterAll(() => owner.close());

  describe('one backend session: transactions do not interleave', () => {
    it("a client's statement waits for the owner's open transaction and is not rolled back with it", async () => {
      const tb = await table();
      const client = await openEmbedded(dir);
      try {
        let clientWrite: Promise<unknown> | null = null;
        await expect(
          owner.transaction(async (tx) => {
            await tx.query(`INSERT INTO ${tb} (v, pid) VALUES ('owner-rolled-back', 0)`);
            clientWrite = client.query(`INSERT INTO ${tb} (v, pid) VALUES ('client', 1)`);
            expect(await settledWithin(clientWrite, 300)).toBe('pending');
            throw new Error('roll back');
          }),
        ).rejects.toThrow('roll back');
        await clientWrite;
        expect((await rows(owner, tb)).map((r) => r.v)).toEqual(['client']);
      } finally {
        await client.close();
      }
    });

    it("the owner's statement waits for a client's open transaction and is not rolled back with it", async () => {
      const tb = await table();
      const c = rawClient(dir);
      try {
        await c.connect();
        await c.query('BEGIN');
        await c.query(`INSERT INTO ${tb} (v, pid) VALUES ('client-rolled-back', 1)`);
        const ownerWrite = owner.query(`INSERT INTO ${tb} (v, pid) VALUES ('owner', 0)`);
        expect(await settledWithin(ownerWrite, 300)).toBe('pending');
        // The client still sees only its own transaction's rows.
        expect((await c.query(`SELECT v FROM ${tb}`)).rows).toEqual([{ v: 'client-rolled-back' }]);
        await c.query('ROLLBACK');
        await ownerWrite;
        expect((await rows(owner, tb)).map((r) => r.v)).toEqual(['owner']);
      } finally {
        await c.end().catch(() => {});
      }
    });

    it('two clients: one open transaction at a time', async () => {
      const tb = await table();
      const a = rawClient(dir);
      const b = rawClient(dir);
      try {
        await Promise.all([a.connect(), b.connect()]);
        await a.query('BEGIN');
        await a.query(`INSERT INTO ${tb} (v, pid) VALUES ('a', 1)`);
        const bWrite = b.query(`INSERT INTO ${tb} (v, pid) VALUES ('b', 2)`);
        expect(await settledWithin(bWrite, 300)).toBe('pending');
        await a.query('ROLLBACK');
        await bWrite;
        expect((await rows(owner, tb)).map((r) => r.v)).toEqual(['b']);
      } finally {
        await Promise.all([a.end().catch(() => {}), b.end().catch(() => {})]);
      }
    });

    it('a client that disconnects in a transaction is rolled back and lets the others go', async () => {
      const tb = await table();
      const c = rawClient(dir);
      c.on('error', () => {});
      await c.connect();
      await c.query('BEGIN');
      await c.query(`INSERT INTO ${tb} (v, pid) VALUES ('gone', 1)`);
      const ownerWrite = owner.query(`INSERT INTO ${tb} (v, pid) VALUES ('owner', 0)`);
      expect(await settledWithin(ownerWrite, 200)).toBe('pending');
      (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      await ownerWrite;
      expect((await rows(owner, tb)).map((r) => r.v)).toEqual(['owner']);
    });

    it('a client idle in a transaction past the bound is rolled back and cut off', async () => {
      const tb = await table();
      const c = rawClient(dir);
      const errors: Error[] = [];
      c.on('error', (e) => errors.push(e));
      await c.connect();
      await c.query('BEGIN');
      await c.query(`INSERT INTO ${tb} (v, pid) VALUES ('idle', 1)`);
      const t0 = Date.now();
      await owner.query(`INSERT INTO ${tb} (v, pid) VALUES ('owner', 0)`); // waits for the bound, not forever
      expect(Date.now() - t0).toBeGreaterThanOrEqual(IDLE_MS - 100);
      await until('the client to be told', () => errors.length > 0);
      expect(errors[0]!.message).toMatch(/idle in a transaction for more than 2000 ms/);
      expect((await rows(owner, tb)).map((r) => r.v)).toEqual(['owner']);
      await expect(c.query('SELECT 1')).rejects.toThrow();
    });
  });

  describe('session state does not leak between clients', () => {
    it('two clients may prepare the same statement name; what a client prepared goes when it disconnects', async () => {
      const a = rawClient(dir);
      const b = rawClient(dir);
      try {
        await Promise.all([a.connect(), b.connect()]);
        for (let i = 0; i < 3; i++) {
          expect((await a.query({ name: 'same', text: 'SELECT $1::int + 1 AS x', values: [i] })).rows).toEqual([{ x: i + 1 }]);
          expect((await b.query({ name: 'same', text: "SELECT $1::text || '!' AS x", values: [`b${i}`] })).rows).toEqual([{ x: `b${i}!` }]);
        }
        const prepared = async () => (await owner.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements')).rows[0]!.n;
        expect(await prepared()).toBe(2);
        await a.end();
        await until('a’s statement to be deallocated', async () => (await prepared()) === 1);
        await b.end();
        await until('b’s statement to be deallocated', async () => (await prepared()) === 0);
      } finally {
        await Promise.all([a.end().catch(() => {}), b.end().catch(() => {})]);
      }
    });

    it('the unnamed statement is not bound after a Sync: someone else may have replaced it (an error, never the wrong query)', async () => {
      const c = await rawSession(dir);
      try {
        const parse = (sql: string) => msg('P', Buffer.concat([Buffer.from(`\0${sql}\0`), Buffer.from([0, 0])]));
        const bindExec = msg('B', Buffer.from([0, 0, 0, 0, 0, 0, 0, 0])); // portal "", statement "", no formats/params/result formats
        const exec = msg('E', Buffer.from([0, 0, 0, 0, 0]));
        const sync = msg('S', Buffer.alloc(0));
        // Within one Sync: fine.
        c.send(parse("SELECT 'mine' AS x"), bindExec, exec, sync);
        expect(await c.untilReady()).toContain('mine');
        // Across a Sync (the owner runs its own statement in between): refused.
        c.send(parse("SELECT 'mine' AS x"), sync);
        await c.untilReady();
        await owner.query("SELECT 'theirs' AS x");
        c.send(bindExec, exec, sync);
        const out = await c.untilReady();
        expect(out).toMatch(/unnamed statement \(discarded after Sync: the embedded backend is shared\)" does not exist/);
        expect(out).not.toContain('theirs');
      } finally {
        c.end();
      }
    });

    it("a client's SET lasts until its transaction ends; the owner and other clients keep their settings", async () => {
      const a = rawClient(dir);
      const b = rawClient(dir);
      try {
        await Promise.all([a.connect(), b.connect()]);
        await a.query("SET search_path = nowhere; SET work_mem = '77MB'");
        expect((await owner.query<{ search_path: string }>('SHOW search_path')).rows[0]!.search_path).toBe('public');
        expect((await b.query<{ work_mem: string }>('SHOW work_mem')).rows[0]!.work_mem).not.toBe('77MB');
        await a.query('BEGIN');
        await a.query('SET LOCAL search_path = elsewhere');
        expect((await a.query<{ search_path: string }>('SHOW search_path')).rows[0]!.search_path).toBe('elsewhere');
        await a.query('COMMIT');
        expect((await owner.query<{ search_path: string }>('SHOW search_path')).rows[0]!.search_path).toBe('public');
      } finally {
        await Promise.all([a.end(), b.end()]);
      }
    });

    it('refuses per-connection startup settings and COPY FROM STDIN with a clear error, and keeps serving', async () => {
      const tb = await table();
      const opt = new pg.Client({ host: embeddedPaths(dir).socketDir, port: 5432, user: 'postgres', options: '-c random_page_cost=1.1' });
      await expect(opt.connect()).rejects.toThrow(/startup parameter options="-c random_page_cost=1.1" is not supported by Kestrel's embedded database server/);
      const c = rawClient(dir);
      await c.connect();
      try {
        await c.query('BEGIN');
        await expect(c.query(`COPY ${tb} FROM STDIN`)).rejects.toThrow(/COPY FROM STDIN is not supported/);
        // A real error: the transaction is aborted, as it would be on a server.
        await expect(c.query('SELECT 1')).rejects.toThrow(/current transaction is aborted/);
        await c.query('ROLLBACK');
        await expect(c.query({ text: `copy ${tb} from stdin`, values: [] })).rejects.toThrow(/COPY FROM STDIN is not supported/);
        expect((await c.query('SELECT 42 AS x')).rows).toEqual([{ x: 42 }]);
      } finally {
        await c.end();
      }
      // Hostile bytes: garbage instead of a startup packet, and a message type the backend would hang on.
      expect(await rawExchange(dir, [Buffer.from('GET / HTTP/1.1\r\n\r\n')])).toMatch(/invalid startup packet length/);
      expect(await rawExchange(dir, [startupPacket(), Buffer.from([0x70, 0, 0, 0, 6, 0x78, 0])])).toMatch(/invalid frontend message type "p"/);
      expect(await rawExchange(dir, [startupPacket(), Buffer.from([0x59, 0, 0, 0, 4])])).toMatch(/invalid frontend message type "Y"/);
      await owner.query(`INSERT INTO ${tb} (v, pid) VALUES ('still here', 0)`);
      expect((await rows(owner, tb)).map((r) => r.v)).toEqual(['still here']);
    });
  });
});

describe('ownership', () => {
  // One data directory, used by one test after the other (a fresh one costs an initdb).
  const dir = freshDir();
  const notes = async (db: Db) => {
    await db.exec(TABLE);
    return rows(db);
  };

  it('the socket is 0600 in a 0700 directory, the lock names the owner; both go on close', async () => {
    const paths = embeddedPaths(dir);
    const owner = await openEmbedded(dir);
    const info = readOwner(paths.lock)!;
    expect(info).toMatchObject({ pid: process.pid, hostname: hostname(), address: { socketDir: paths.socketDir, port: 5432 } });
    expect(statSync(paths.lock).mode & 0o777).toBe(0o600);
    expect(statSync(paths.socketDir).mode & 0o777).toBe(0o700);
    expect(statSync(socketPath(paths.socketDir)).mode & 0o777).toBe(0o600);
    expect(describeOwner(dir)).toBe(`served by pid ${process.pid} on ${socketPath(paths.socketDir)} since ${info.since}`);
    await owner.close();
    expect(describeOwner(dir)).toBe('not open (the next command to use it opens it)');
    expect(existsSync(paths.lock)).toBe(false);
    expect(existsSync(socketPath(paths.socketDir))).toBe(false);
    expect(readdirSync(join(dir, '..')).filter((f) => /\.(tmp|break)$/.test(f))).toEqual([]);
  });

  it('serves over loopback TCP with a password when the socket path is too long', async () => {
    const longDir = join(root, 'x'.repeat(120));
    const owner = await openEmbedded(dir, { socketDir: longDir });
    const client = await openEmbedded(dir, { socketDir: longDir });
    try {
      const address = readOwner(embeddedPaths(dir).lock)!.address as { host: string; port: number; password: string };
      expect(address.host).toBe('127.0.0.1');
      expect(address.password.length).toBeGreaterThanOrEqual(20);
      await client.exec(TABLE);
      await client.query("INSERT INTO notes (v, pid) VALUES ('tcp', 1)");
      expect(await rows(owner)).toContainEqual({ v: 'tcp', pid: 1 });
      const stranger = new pg.Client({ host: '127.0.0.1', port: address.port, user: 'postgres', password: 'guess' });
      await expect(stranger.connect()).rejects.toThrow(/password authentication failed/);
    } finally {
      await client.close();
      await owner.close();
    }
  });

  it('a killed owner’s lock is taken over, and its committed writes are there', async () => {
    const holder = child(['hold', dir, 'before-kill']);
    const [, pid] = await holder.line(/ready (\d+)/);
    expect(readOwner(embeddedPaths(dir).lock)?.pid).toBe(Number(pid));
    holder.p.kill('SIGKILL');
    await holder.exited;
    expect(existsSync(embeddedPaths(dir).lock)).toBe(true); // stale: nobody removed it
    expect(describeOwner(dir)).toBe(`its last owner, pid ${pid}, is gone (the next command to use it takes over)`);
    const db = await openEmbedded(dir);
    try {
      expect(readOwner(embeddedPaths(dir).lock)?.pid).toBe(process.pid);
      expect(await notes(db)).toContainEqual({ v: 'before-kill', pid: Number(pid) });
    } finally {
      await db.close();
    }
  });

  it('of several processes racing to take over a stale lock, exactly one becomes the owner', async () => {
    const holder = child(['hold', dir, 'x']);
    await holder.line(/ready/);
    holder.p.kill('SIGKILL');
    await holder.exited;
    const racers = [0, 1, 2].map(() => child(['race', dir]));
    try {
      await Promise.all(racers.map((r) => r.line(/waiting/)));
      for (const r of racers) r.p.stdin!.write('go\n');
      const opened = await Promise.all(racers.map((r) => r.line(/open (\d+) (\d+)/)));
      const counts = opened.map((m) => Number(m[2]));
      expect(counts[0]).toBeGreaterThan(0);
      expect(counts).toEqual([counts[0], counts[0], counts[0]]); // every racer reads the one database
      const owner = readOwner(embeddedPaths(dir).lock)!.pid;
      expect(racers.filter((r) => r.p.pid === owner)).toHaveLength(1);
    } finally {
      for (const r of racers) r.p.stdin!.end();
      const exits = await Promise.all(racers.map((r) => r.exited));
      expect(exits.map((e) => e.code)).toEqual([0, 0, 0]);
    }
  });

  it('the lock alone: racing breakers of one stale lock yield one owner', async () => {
    const lock = join(root, `race${++n}.lock`);
    // A lock left by a process that is gone.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(lock, JSON.stringify({ pid: Number(dead.stdout), hostname: hostname(), nonce: 'deadbeef', started: null, since: new Date().toISOString(), address: null }), { mode: 0o600 });
    const racers = [0, 1, 2, 3].map(() => child(['lock', lock]));
    try {
      await Promise.all(racers.map((r) => r.line(/waiting/)));
      for (const r of racers) r.p.stdin!.write('go\n');
      const results = await Promise.all(racers.map((r) => r.line(/(owner|held) (\d+)/)));
      expect(results.filter((m) => m[1] === 'owner')).toHaveLength(1);
      const owner = results.find((m) => m[1] === 'owner')![2];
      expect(readOwner(lock)?.pid).toBe(Number(owner));
    } finally {
      for (const r of racers) r.p.stdin!.end();
      await Promise.all(racers.map((r) => r.exited));
    }
    expect(existsSync(lock)).toBe(false);
    expect(readdirSync(root).filter((f) => f.startsWith(lock.split('/').pop()!))).toEqual([]);
  });

  for (const how of ['clean close', 'SIGKILL'] as const) {
    it(`a client whose owner goes away (${how}) mid-transaction gets DatabaseUnavailableError and nothing of it is kept; then it carries on as the owner`, async () => {
      const holder = child(['hold', dir, `from-owner-${how}`]);
      const [, pid] = await holder.line(/ready (\d+)/);
      const db = await openEmbedded(dir);
      try {
        expect(await notes(db)).toContainEqual({ v: `from-owner-${how}`, pid: Number(pid) });
        const err = await db
          .transaction(async (tx) => {
            await tx.query('INSERT INTO notes (v, pid) VALUES ($1, $2)', [`in-flight-${how}`, process.pid]);
            if (how === 'clean close') holder.p.stdin!.end(); // the owner closes: rolls back, then disconnects us
            else holder.p.kill('SIGKILL');
            await holder.exited;
            await tx.query('SELECT 1');
          })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(DatabaseUnavailableError);
        expect((err as Error).message).toMatch(new RegExp(`the embedded database's owner \\(pid ${pid}\\) is gone or not answering`));
        // The next call attaches again: the lock is free (or stale), so this process owns the files now.
        await db.query('INSERT INTO notes (v, pid) VALUES ($1, $2)', [`after-${how}`, process.pid]);
        expect(readOwner(embeddedPaths(dir).lock)?.pid).toBe(process.pid);
        const now = await rows(db);
        expect(now).toEqual(expect.arrayContaining([{ v: `from-owner-${how}`, pid: Number(pid) }, { v: `after-${how}`, pid: process.pid }]));
        expect(now.map((r) => r.v)).not.toContain(`in-flight-${how}`);
      } finally {
        await db.close();
      }
    });
  }

  it('a client whose owner closed between two calls carries on: the call never reached the old owner, so it is made again', async () => {
    const holder = child(['hold', dir, 'idle-owner']);
    await holder.line(/ready/);
    const db = await openEmbedded(dir);
    try {
      expect((await rows(db)).map((r) => r.v)).toContain('idle-owner');
      holder.p.stdin!.end();
      await holder.exited;
      await db.query("INSERT INTO notes (v, pid) VALUES ('next-call', 0)");
      expect(readOwner(embeddedPaths(dir).lock)?.pid).toBe(process.pid);
      expect((await rows(db)).map((r) => r.v)).toContain('next-call');
    } finally {
      await db.close();
    }
  });
});
