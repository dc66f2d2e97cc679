import type { PGlite } from '@electric-sql/pglite';
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Gate } from './gate.js';
import type { OwnerAddress } from './owner-lock.js';

/**
 * Serves an embedded PGlite over the PostgreSQL wire protocol (v3) so other processes reach the
 * one database through node-postgres (or psql) instead of opening the files a second time.
 *
 * Written here rather than taken from @electric-sql/pglite-socket: that package queues socket
 * clients only among themselves, so the owner's own queries (which do not go through its queue)
 * ran inside a remote client's open transaction and the other way round; it also pins PGlite
 * 0.5.15. What PGlite offers is the backend's raw protocol (execProtocolRawStream); this file
 * adds what one shared backend session needs:
 * - the Gate: a remote session holds it from its first message until the backend answers
 *   ReadyForQuery 'I' (idle) after a Sync or a simple query, so its transaction is atomic with
 *   respect to the owner and other clients; one holding it idle in a transaction longer than
 *   `idleInTransactionMs` is rolled back and disconnected (it could otherwise stall the owner);
 * - session state kept apart: prepared statement names are prefixed per session (two clients may
 *   both prepare "s1"); `SET SESSION AUTHORIZATION DEFAULT; RESET ALL` runs whenever a session
 *   lets the gate go, so no SET outlives its transaction, and the unnamed statement is refused
 *   after that (someone else may have parsed theirs); a disconnect rolls back and deallocates
 *   what the session left;
 * - the startup handled here, not by PGlite: PGlite answers a startup packet but silently drops
 *   its settings (`options=-c …`, statement_timeout), and they would apply to everybody anyway;
 *   so startup parameters that would change the shared session are refused with a clear error;
 * - what would stop or freeze PGlite refused: COPY … FROM STDIN (the backend would wait for
 *   input PGlite cannot wait for, and it exits) and message types Postgres does not expect
 *   (it never returns).
 * CancelRequest is accepted and ignored: a statement runs synchronously in the owner's thread,
 * there is nothing to interrupt by the time the request is read. SSL/GSS requests get 'N'.
 */
export interface ServeOptions {
  /** Directory for the Unix socket (created 0700; the socket is 0600); null = TCP on 127.0.0.1, ephemeral port. */
  socketDir: string | null;
  /** Required from clients on TCP (other local users can reach loopback ports). */
  password?: string;
  /** A session idle in a transaction longer than this is rolled back and disconnected. */
  idleInTransactionMs?: number;
  /** Called with errors the server cannot report to a client (e.g. the backend failed). */
  onError?: (e: unknown) => void;
}

export interface PgliteServer {
  readonly address: OwnerAddress;
  /** Stops accepting, rolls back and disconnects every session. PGlite stays open. */
  close(): Promise<void>;
}

export const SOCKET_PORT = 5432;
/** sun_path is 104 bytes on macOS/BSD (108 on Linux), including the terminating NUL. */
export const MAX_SOCKET_PATH = 103;

export function socketPath(dir: string): string {
  return join(dir, `.s.PGSQL.${SOCKET_PORT}`);
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const MAX_MESSAGE = 256 * 1024 * 1024;
/**
 * The frontend messages passed to the backend. Anything else is refused here: PGlite never
 * returns from a message type Postgres does not expect (e.g. a stray password message), which
 * would freeze the owner's event loop.
 */
const FRONTEND = new Set('BCDEFHPQScdf'.split('').map((c) => c.charCodeAt(0)));
const TERMINATE = 0x58; // 'X'
/** The settings a client learns at startup (GUC_REPORT ones); their values come from the backend. */
const REPORTED = ['server_version', 'server_encoding', 'client_encoding', 'DateStyle', 'IntervalStyle', 'TimeZone', 'integer_datetimes', 'standard_conforming_strings', 'is_superuser', 'session_authorization', 'default_transaction_read_only', 'in_hot_standby', 'search_path', 'scram_iterations', 'application_name'];
const HYGIENE = 'SET SESSION AUTHORIZATION DEFAULT; RESET ALL';
const COPY_FROM_STDIN = /\bcopy\b[\s\S]*?\bfrom\s+stdin\b/i;
const REFUSE_COPY =
  "DO $kestrel$BEGIN RAISE EXCEPTION USING ERRCODE = 'feature_not_supported', MESSAGE = 'COPY FROM STDIN is not supported by Kestrel''s embedded database server (PGlite would stop): COPY FROM a file, use INSERT, or set DATABASE_URL for a PostgreSQL server'; END$kestrel$";
/** Bound in place of the unnamed statement once it is no longer this session's: the backend answers "does not exist". */
const LOST_UNNAMED = 'unnamed statement (discarded after Sync: the embedded backend is shared)';

export async function servePglite(pg: PGlite, gate: Gate, opts: ServeOptions): Promise<PgliteServer> {
  const idleMs = opts.idleInTransactionMs ?? 10_000;
  const reported = await gate.run(async () => {
    const r = await pg.query<{ n: string; v: string | null }>('SELECT n, current_setting(n, true) AS v FROM unnest($1::text[]) AS n', [REPORTED]);
    return new Map(r.rows.filter((x) => x.v !== null).map((x) => [x.n, x.v!]));
  });
  const sessions = new Set<Session>();
  let nextId = 1;
  const ctx: ServerContext = { pg, gate, idleMs, password: opts.password, reported, sessions, onError: opts.onError ?? (() => {}) };

  const server = createServer((socket) => {
    const s = new Session(ctx, nextId++, socket);
    sessions.add(s);
  });
  server.on('error', (e) => ctx.onError(e));
  let address: OwnerAddress;
  if (opts.socketDir) {
    mkdirSync(opts.socketDir, { recursive: true, mode: 0o700 });
    chmodSync(opts.socketDir, 0o700);
    const path = socketPath(opts.socketDir);
    rmSync(path, { force: true }); // left by an owner that died; we hold the lock now
    await listen(server, { path });
    chmodSync(path, 0o600);
    address = { socketDir: opts.socketDir, port: SOCKET_PORT };
  } else {
    if (!opts.password) throw new Error('servePglite: a password is required on TCP');
    await listen(server, { host: '127.0.0.1', port: 0 });
    address = { host: '127.0.0.1', port: (server.address() as AddressInfo).port, password: opts.password };
  }

  let closed: Promise<void> | null = null;
  return {
    address,
    close: () =>
      (closed ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await Promise.all([...sessions].map((s) => s.terminate('57P01', 'terminating connection because the embedded database owner is shutting down')));
        await stopped;
        if (opts.socketDir) rmSync(socketPath(opts.socketDir), { force: true });
      })()),
  };
}

function listen(server: ReturnType<typeof createServer>, where: { path: string } | { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(where, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

interface ServerContext {
  pg: PGlite;
  gate: Gate;
  idleMs: number;
  password: string | undefined;
  reported: Map<string, string>;
  sessions: Set<Session>;
  onError: (e: unknown) => void;
}

class Session {
  private readonly secret = randomInt(1, 2 ** 31 - 1);
  private buf: Buffer = Buffer.alloc(0);
  private phase: 'startup' | 'password' | 'ready' | 'done' = 'startup';
  /** Set while this session holds the gate. */
  private release: (() => void) | null = null;
  /** The backend's transaction status at its last ReadyForQuery. */
  private status = 'I';
  /** Extended-protocol messages fed since the last Sync: the backend is not idle yet. */
  private open = false;
  /** The backend's unnamed statement is the one this session parsed. */
  private unnamed = false;
  /** Prepared statements of this session, by their name in the backend. */
  private readonly statements = new Set<string>();
  private appName = '';
  private idleTimer: NodeJS.Timeout | null = null;
  private ending: { code: string; message: string } | null = null;
  private gone = false;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: ServerContext,
    private readonly id: number,
    private readonly socket: Socket,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (d) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.schedule();
    });
    socket.on('error', () => {}); // reported as 'close'
    socket.on('close', () => {
      this.gone = true;
      this.schedule();
    });
  }

  get ready(): boolean {
    return this.phase === 'ready';
  }

  /** Ends the session with a FATAL error to the client (after rolling back what it had open). */
  terminate(code: string, message: string): Promise<void> {
    this.ending ??= { code, message };
    this.schedule();
    return this.chain;
  }

  private schedule(): void {
    this.chain = this.chain
      .then(() => this.pump())
      .catch((e: unknown) => {
        // The backend failed under us: nothing more can be done for this session.
        this.phase = 'done';
        this.ctx.sessions.delete(this);
        this.letGoNow();
        this.socket.destroy();
        this.ctx.onError(e);
      });
  }

  private async pump(): Promise<void> {
    if (this.phase === 'done') return;
    if (this.gone || this.ending) return this.finish();
    if (this.phase !== 'ready') return this.startup();
    const msgs = this.takeMessages();
    if (msgs === null) return this.finish(); // protocol violation: reported, then closed
    if (!msgs.length) return this.armIdle();
    this.clearIdle();
    const terminate = msgs.findIndex((m) => m[0] === TERMINATE);
    const work = terminate === -1 ? msgs : msgs.slice(0, terminate);
    if (work.length) {
      this.release ??= await this.ctx.gate.acquire();
      if (this.gone || this.ending) return this.finish();
      await this.feed(Buffer.concat(work.map((m) => this.rewrite(m))), true);
    }
    if (terminate !== -1) this.gone = true;
    if (this.gone) return this.finish();
    if (this.status === 'I' && !this.open) await this.letGo();
    else this.armIdle();
  }

  /** Feeds complete messages to the backend, forwarding (or dropping) its answers. */
  private async feed(input: Buffer, forward: boolean): Promise<void> {
    const scan = new ReadyScanner((s) => (this.status = s));
    await this.ctx.pg.execProtocolRawStream(input, {
      onRawData: (chunk) => {
        scan.push(chunk);
        if (forward && !this.gone && chunk.length) this.socket.write(Buffer.from(chunk));
      },
    });
  }

  /** Lets the gate go with the backend as the session found it: no SET of its own left over. */
  private async letGo(): Promise<void> {
    if (!this.release) return;
    await this.feed(query(HYGIENE), false);
    // That simple query dropped the unnamed statement; others may parse their own before we are back.
    this.unnamed = false;
    this.letGoNow();
  }

  private letGoNow(): void {
    const release = this.release;
    this.release = null;
    release?.();
  }

  private armIdle(): void {
    if (!this.release || this.idleTimer) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      void this.terminate('25P03', `terminating connection: idle in a transaction for more than ${this.ctx.idleMs} ms while holding the embedded database (everyone else waits)`);
    }, this.ctx.idleMs);
    this.idleTimer.unref();
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  /** Rolls back and forgets what the session left in the backend, then closes the connection. */
  private async finish(): Promise<void> {
    if (this.phase === 'done') return;
    const wasReady = this.phase === 'ready';
    this.phase = 'done';
    this.clearIdle();
    try {
      if (wasReady) {
        this.release ??= await this.ctx.gate.acquire();
        if (this.open) await this.feed(message('S', Buffer.alloc(0)), false);
        if (this.status !== 'I') await this.feed(query('ROLLBACK'), false);
        const closes = [...this.statements].map((name) => message('C', Buffer.concat([Buffer.from('S'), cstr(name)])));
        const othersReady = [...this.ctx.sessions].some((s) => s !== this && s.ready);
        // DEALLOCATE ALL also catches SQL-level PREPAREs; only when no other session has statements to lose.
        await this.feed(Buffer.concat([...closes, message('S', Buffer.alloc(0)), ...(othersReady ? [] : [query('DEALLOCATE ALL')])]), false);
        this.statements.clear();
        await this.letGo();
      }
    } finally {
      this.letGoNow();
      this.ctx.sessions.delete(this);
      if (this.ending && !this.gone) this.socket.end(errorResponse('FATAL', this.ending.code, this.ending.message));
      else this.socket.destroy();
    }
  }

  // ---- startup ----

  private startup(): void {
    while (this.phase === 'startup' && this.buf.length >= 8) {
      const len = this.buf.readInt32BE(0);
      if (len < 8 || len > 10_000) return this.fatal('08P01', 'invalid startup packet length');
      if (this.buf.length < len) return;
      const code = this.buf.readInt32BE(4);
      const body = this.buf.subarray(8, len);
      this.buf = this.buf.subarray(len);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        this.socket.write('N');
        continue;
      }
      if (code === CANCEL_REQUEST) return this.close();
      if (code >> 16 !== 3) return this.fatal('0A000', `unsupported frontend protocol ${code >> 16}.${code & 0xffff}: the server supports 3.0`);
      const params = parseStartup(body);
      const refused = this.refuse(params);
      if (refused) return this.fatal('0A000', refused);
      this.appName = params.get('application_name') ?? '';
      const ext = [...params.keys()].filter((k) => k.startsWith('_pq_.'));
      if ((code & 0xffff) !== 0 || ext.length) this.socket.write(negotiateProtocol(ext));
      if (this.ctx.password !== undefined) {
        this.socket.write(message('R', int32(3))); // AuthenticationCleartextPassword
        this.phase = 'password';
      } else this.welcome();
    }
    if (this.phase === 'password' && this.buf.length >= 5) {
      const len = this.buf.readInt32BE(1);
      if (this.buf[0] !== 0x70 || len < 5 || len > 10_000) return this.fatal('08P01', 'expected a password message');
      if (this.buf.length < 1 + len) return;
      const given = Buffer.from(readCstr(this.buf, 5).s);
      this.buf = this.buf.subarray(1 + len);
      const want = Buffer.from(this.ctx.password!);
      if (given.length !== want.length || !timingSafeEqual(given, want)) return this.fatal('28P01', 'password authentication failed for the embedded database');
      this.welcome();
    }
    if (this.phase === 'ready' && this.buf.length) this.schedule();
  }

  /** Why these startup parameters cannot be honoured, or null. */
  private refuse(params: Map<string, string>): string | null {
    for (const [k, v] of params) {
      if (k === 'user' || k === 'database' || k === 'application_name' || k === 'fallback_application_name' || k.startsWith('_pq_.')) continue;
      if (k === 'options' && !v.trim()) continue;
      if (k === 'replication' && /^(false|off|no|0)$/i.test(v)) continue;
      if (k === 'client_encoding' && /^(utf-?8|unicode|auto)$/i.test(v)) continue;
      const shared = this.ctx.reported.get(k);
      if (shared !== undefined && shared.toLowerCase() === v.toLowerCase()) continue;
      return `startup parameter ${k}=${JSON.stringify(v)} is not supported by Kestrel's embedded database server: its one backend session is shared by every client, so session settings cannot be per connection (set DATABASE_URL for a PostgreSQL server)`;
    }
    return null;
  }

  private welcome(): void {
    const out = [message('R', int32(0))];
    for (const [k, v] of this.ctx.reported) out.push(message('S', Buffer.concat([cstr(k), cstr(k === 'application_name' ? this.appName : v)])));
    out.push(message('K', Buffer.concat([int32(this.id), int32(this.secret)])));
    out.push(message('Z', Buffer.from('I')));
    this.socket.write(Buffer.concat(out));
    this.phase = 'ready';
  }

  private fatal(code: string, msg: string): void {
    this.phase = 'done';
    this.ctx.sessions.delete(this);
    this.socket.end(errorResponse('FATAL', code, msg));
  }

  private close(): void {
    this.phase = 'done';
    this.ctx.sessions.delete(this);
    this.socket.end();
  }

  // ---- messages ----

  /** Complete typed messages at the head of the buffer; null after a protocol violation. */
  private takeMessages(): Buffer[] | null {
    const out: Buffer[] = [];
    let at = 0;
    while (this.buf.length - at >= 5) {
      const len = this.buf.readInt32BE(at + 1);
      if (len < 4 || len > MAX_MESSAGE) {
        this.ending = { code: '08P01', message: `invalid message length ${len}` };
        return null;
      }
      const type = this.buf[at]!;
      if (!FRONTEND.has(type) && type !== TERMINATE) {
        this.ending = { code: '08P01', message: `invalid frontend message type ${JSON.stringify(String.fromCharCode(type))}` };
        return null;
      }
      if (this.buf.length - at < 1 + len) break;
      out.push(this.buf.subarray(at, at + 1 + len));
      at += 1 + len;
    }
    this.buf = at === this.buf.length ? Buffer.alloc(0) : Buffer.from(this.buf.subarray(at));
    return out;
  }

  /** Per-session statement names, the unnamed statement's guard and the COPY FROM STDIN refusal. */
  private rewrite(m: Buffer): Buffer {
    const type = String.fromCharCode(m[0]!);
    if (type === 'S' || type === 'F') this.open = false;
    else if ('PBDEC'.includes(type)) this.open = true;
    switch (type) {
      case 'Q': {
        this.open = false;
        this.unnamed = false; // a simple query drops the unnamed statement
        return COPY_FROM_STDIN.test(readCstr(m, 5).s) ? query(REFUSE_COPY) : m;
      }
      case 'P': {
        const name = readCstr(m, 5);
        const sql = readCstr(m, name.end);
        const backendName = name.s ? this.named(name.s) : '';
        if (name.s) this.statements.add(backendName);
        else this.unnamed = true;
        const text = COPY_FROM_STDIN.test(sql.s) ? REFUSE_COPY : sql.s;
        return message('P', Buffer.concat([cstr(backendName), cstr(text), m.subarray(sql.end)]));
      }
      case 'B': {
        const portal = readCstr(m, 5);
        const stmt = readCstr(m, portal.end);
        return message('B', Buffer.concat([m.subarray(5, portal.end), cstr(this.statementRef(stmt.s)), m.subarray(stmt.end)]));
      }
      case 'D':
      case 'C': {
        if (m[5] !== 0x53) return m; // 'P'ortal: portals live inside the transaction we hold the gate for
        const name = readCstr(m, 6).s;
        const ref = this.statementRef(name);
        if (type === 'C' && name) this.statements.delete(ref);
        return message(type, Buffer.concat([Buffer.from('S'), cstr(ref)]));
      }
      default:
        return m;
    }
  }

  private statementRef(name: string): string {
    if (name) return this.named(name);
    return this.unnamed ? '' : LOST_UNNAMED;
  }

  /** `k<session>_<name>`; a name that would pass NAMEDATALEN (63 bytes, where Postgres truncates) is hashed. */
  private named(name: string): string {
    const n = `k${this.id}_${name}`;
    return Buffer.byteLength(n) <= 63 ? n : `k${this.id}_${createHash('sha1').update(name).digest('hex')}`;
  }
}

/** Follows the backend's output across chunks and reports each ReadyForQuery status. */
class ReadyScanner {
  private header = Buffer.alloc(5);
  private have = 0;
  private skip = 0;
  private inReady = false;

  constructor(private readonly onStatus: (s: string) => void) {}

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        if (this.inReady) this.onStatus(String.fromCharCode(chunk[i]!));
        this.inReady = false;
        this.skip -= n;
        i += n;
        continue;
      }
      this.header[this.have++] = chunk[i++]!;
      if (this.have === 5) {
        this.have = 0;
        this.skip = this.header.readInt32BE(1) - 4;
        this.inReady = this.header[0] === 0x5a && this.skip === 1; // 'Z'
      }
    }
  }
}

function parseStartup(body: Buffer): Map<string, string> {
  const params = new Map<string, string>();
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const k = readCstr(body, at);
    const v = readCstr(body, k.end);
    params.set(k.s, v.s);
    at = v.end;
  }
  return params;
}

function readCstr(b: Buffer, at: number): { s: string; end: number } {
  const z = b.indexOf(0, at);
  const end = z === -1 ? b.length : z;
  return { s: b.toString('utf8', at, end), end: end + 1 };
}

function cstr(s: string): Buffer {
  return Buffer.from(s + '\0');
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function message(type: string, body: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.write(type, 0, 'latin1');
  h.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([h, body]);
}

function query(sql: string): Buffer {
  return message('Q', cstr(sql));
}

function errorResponse(severity: string, code: string, msg: string): Buffer {
  return message('E', Buffer.concat([Buffer.from('S'), cstr(severity), Buffer.from('V'), cstr(severity), Buffer.from('C'), cstr(code), Buffer.from('M'), cstr(msg), Buffer.from([0])]));
}

function negotiateProtocol(unrecognized: string[]): Buffer {
  return message('v', Buffer.concat([int32(0x30000), int32(unrecognized.length), ...unrecognized.map(cstr)]));
}
