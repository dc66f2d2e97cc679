import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DatabaseUnavailableError, isConnectionError, type Db, type Queryable } from './db.js';
import { acquireOwner, ownerAlive, readOwner, type OwnerAddress, type OwnerInfo, type OwnerLock } from './owner-lock.js';
import { createPglite } from './pglite.js';
import { MAX_SOCKET_PATH, servePglite, socketPath } from './pglite-server.js';
import { openPostgres } from './postgres.js';

export interface EmbeddedOptions {
  /** A client idle in a transaction longer than this is cut off (it holds everyone else up). */
  idleInTransactionMs?: number;
  /** How long to wait for an owner that is still opening the database (first start runs initdb). */
  ownerStartTimeoutMs?: number;
  /** How long to keep trying an owner whose process runs but does not answer. */
  ownerAnswerTimeoutMs?: number;
  /** Directory of the Unix socket (default `<dir>.run`); a path too long for a socket means TCP. */
  socketDir?: string;
}

/** Where an embedded database's lock and socket live, for `dir` = its data directory (var/pg). */
export function embeddedPaths(dir: string, socketDir?: string): { dataDir: string; lock: string; socketDir: string } {
  const dataDir = resolve(dir);
  return { dataDir, lock: `${dataDir}.lock`, socketDir: socketDir ? resolve(socketDir) : `${dataDir}.run` };
}

/** Who serves the embedded database in `dir` right now, in words (for `kestrel status`); reads the lock only. */
export function describeOwner(dir: string): string {
  const paths = embeddedPaths(dir);
  let owner: OwnerInfo | null;
  try {
    owner = readOwner(paths.lock);
  } catch (e) {
    return (e as Error).message;
  }
  if (!owner) return 'not open (the next command to use it opens it)';
  if (!ownerAlive(owner)) return `its last owner, pid ${owner.pid}, is gone (the next command to use it takes over)`;
  return owner.address ? `served by pid ${owner.pid} on ${describe(owner.address)} since ${owner.since}` : `being opened by pid ${owner.pid}`;
}

/**
 * The embedded database in `dir`, shared by every process that opens it (ADR 0002). PGlite
 * is one process's: the first opener becomes the owner — it locks the directory
 * (owner-lock.ts), opens PGlite and serves it over the PostgreSQL wire protocol on a Unix
 * socket (pglite-server.ts). Later openers find the live owner and talk to it with
 * node-postgres, so a `kestrel models promote` next to `kestrel up` changes the one database the
 * services read, instead of a second copy whose writes are lost.
 *
 * A client whose owner goes away gets DatabaseUnavailableError for what was in flight (never a
 * silent loss); its next call finds the database again: through a new owner, or by becoming
 * the owner itself.
 */
export async function openEmbedded(dir: string, opts: EmbeddedOptions = {}): Promise<Db> {
  const paths = embeddedPaths(dir, opts.socketDir);
  mkdirSync(dirname(paths.dataDir), { recursive: true });
  const first = await attach(paths, opts);
  return switching(first, () => attach(paths, opts));
}

interface Attached {
  db: Db;
  /** The owner's record when this process is a client; null when it is the owner. */
  remote: OwnerInfo | null;
}

async function attach(paths: ReturnType<typeof embeddedPaths>, opts: EmbeddedOptions): Promise<Attached> {
  const startBy = Date.now() + (opts.ownerStartTimeoutMs ?? 60_000);
  const answerWait = opts.ownerAnswerTimeoutMs ?? 10_000;
  let silentSince: number | null = null;
  let lastError: unknown;
  for (;;) {
    // An exit without close (process.exit, an uncaught error) still removes the lock and socket.
    const got = acquireOwner(paths.lock, () => removeSocket(paths.socketDir));
    if ('lock' in got) return { db: await becomeOwner(paths, got.lock, opts), remote: null };
    const owner = got.held;
    if (owner.address === null) {
      if (Date.now() > startBy) throw new DatabaseUnavailableError(new Error(`pid ${owner.pid} has been opening the embedded database ${paths.dataDir} for too long (${paths.lock})`));
      await sleep(100);
      continue;
    }
    const db = connect(owner.address);
    try {
      await db.ping();
      return { db, remote: owner };
    } catch (e) {
      await db.close().catch(() => {});
      if (!(e instanceof DatabaseUnavailableError)) throw e;
      lastError = e;
    }
    // The owner is shutting down (its lock goes next), or its pid was recycled by another program.
    silentSince ??= Date.now();
    if (Date.now() - silentSince > answerWait) {
      throw new DatabaseUnavailableError(new Error(`pid ${owner.pid} holds the embedded database ${paths.dataDir} but does not answer at ${describe(owner.address)} (${(lastError as Error).message}); if no Kestrel process is running, remove ${paths.lock}`));
    }
    await sleep(100);
  }
}

async function becomeOwner(paths: ReturnType<typeof embeddedPaths>, lock: OwnerLock, opts: EmbeddedOptions): Promise<Db> {
  let handle: Awaited<ReturnType<typeof createPglite>> | null = null;
  let server: Awaited<ReturnType<typeof servePglite>> | null = null;
  try {
    handle = await createPglite(paths.dataDir);
    const tcp = Buffer.byteLength(socketPath(paths.socketDir)) > MAX_SOCKET_PATH;
    server = await servePglite(handle.pg, handle.gate, { socketDir: tcp ? null : paths.socketDir, password: tcp ? randomBytes(18).toString('base64url') : undefined, idleInTransactionMs: opts.idleInTransactionMs });
    lock.publish(server.address);
  } catch (e) {
    await server?.close().catch(() => {});
    await handle?.db.close().catch(() => {});
    lock.release();
    throw e;
  }
  const { db } = handle;
  const srv = server;
  let closing: Promise<void> | null = null;
  return {
    ...db,
    // Clients first (their transactions rolled back), then PGlite, then the lock: a process
    // that finds the lock gone can open the files at once.
    close: () =>
      (closing ??= (async () => {
        try {
          await srv.close();
          await db.close();
        } finally {
          lock.release();
        }
      })()),
  };
}

function connect(address: OwnerAddress): Db {
  const url =
    'socketDir' in address
      ? `postgres://postgres@localhost:${address.port}/postgres?host=${encodeURIComponent(address.socketDir)}&sslmode=disable`
      : `postgres://postgres:${encodeURIComponent(address.password)}@${address.host}:${address.port}/postgres?sslmode=disable`;
  // Small pool: the owner runs one statement at a time anyway. No session options: the owner's
  // one session is shared, so the server refuses per-connection settings. sslmode=disable: a
  // PGSSLMODE meant for some server must not make us ask the local socket for TLS.
  const db = openPostgres({ url, max: 2, sessionOptions: false, statementTimeoutMs: 0 });
  return { ...db, kind: 'pglite' };
}

/**
 * A Db that re-attaches after losing its owner (to a new owner, or as the owner). A call that
 * never reached the old owner (its socket was closed) is made again there; one that was in
 * flight reports DatabaseUnavailableError: whether it happened is the old owner's to tell
 * (a transaction it had not committed is rolled back), not ours to guess.
 */
function switching(first: Attached, reattach: () => Promise<Attached>): Db {
  let current: Attached | null = first;
  let pending: Promise<Attached> | null = null;
  let closed = false;

  const get = async (): Promise<Attached> => {
    if (closed) throw new Error('the embedded database is closed');
    if (current) return current;
    pending ??= reattach().finally(() => (pending = null));
    current = await pending;
    return current;
  };
  /** `sent()`: whether anything of the call may have reached the owner (a transaction's callback has run). */
  const call = async <T>(fn: (db: Db) => Promise<T>, sent: () => boolean = () => false): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      const a = await get();
      try {
        return await fn(a.db);
      } catch (e) {
        if (!a.remote || !(e instanceof DatabaseUnavailableError || isConnectionError(e))) throw e;
        if (current === a) {
          current = null;
          void a.db.close().catch(() => {});
        }
        // Nothing reached the old owner (it had closed its socket): the call is safe to make again.
        if (attempt === 1 && neverSent(e) && !sent()) continue;
        throw new DatabaseUnavailableError(new Error(`the embedded database's owner (pid ${a.remote.pid}) is gone or not answering: ${(e as Error).message.replace(/^database unavailable: /, '')}`));
      }
    }
  };
  return {
    kind: 'pglite',
    query: (sql, params) => call((db) => db.query(sql, params)),
    exec: (sql) => call((db) => db.exec(sql)),
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) => {
      let ran = false;
      return call(
        (db) =>
          db.transaction((tx) => {
            ran = true;
            return fn(tx);
          }),
        () => ran,
      );
    },
    ping: () => call((db) => db.ping()),
    async close() {
      if (closed) return;
      closed = true;
      const a = current ?? (await pending?.catch(() => null));
      current = null;
      await a?.db.close();
    },
  };
}

/** A connection attempt refused (or its socket file gone): the statement was never sent. */
function neverSent(e: unknown): boolean {
  for (let c: unknown = e; c; c = (c as { cause?: unknown }).cause) {
    const { code, syscall } = c as { code?: string; syscall?: string };
    if (syscall === 'connect' && (code === 'ECONNREFUSED' || code === 'ENOENT')) return true;
  }
  return false;
}

function removeSocket(dir: string): void {
  try {
    rmSync(socketPath(dir), { force: true });
  } catch {
    // best effort at exit
  }
}

function describe(a: OwnerAddress): string {
  return 'socketDir' in a ? socketPath(a.socketDir) : `${a.host}:${a.port}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
