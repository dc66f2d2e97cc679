import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Who owns an embedded database directory: the lock file `<dir>.lock` (JSON, mode 0600).
 *
 * Why not proper-lockfile: its staleness is an mtime the owner keeps touching, so an owner that
 * is merely paused (SIGSTOP, a sleeping laptop, a long GC) is declared stale and a second
 * process opens the same PGlite files; and two processes breaking one stale lock can both win
 * (rmdir, then mkdir). Here staleness is "the owner's process is gone", and every step that
 * decides something is one atomic filesystem call:
 * - taking a free lock: link(2) of a fully written temp file onto `<dir>.lock` (fails if it exists);
 * - breaking a stale one: link(2) of the lock onto `<dir>.lock.<its nonce>.break`, which only one
 *   process can create. The winner checks that what it linked is still the stale lock (same
 *   nonce), unlinks the lock and lets everyone race on link(2) again: exactly one owner.
 */
export type OwnerAddress =
  /** Unix socket `<socketDir>/.s.PGSQL.<port>` (node-postgres and libpq take the directory as host). */
  | { socketDir: string; port: number }
  /** TCP on loopback, when the socket path would be too long; a password keeps other local users out. */
  | { host: string; port: number; password: string };

export interface OwnerInfo {
  pid: number;
  hostname: string;
  /** Unique per acquisition: tells one lock from a later one by the same pid. */
  nonce: string;
  /** The owner's process start time (Linux /proc), so a recycled pid is not taken for the owner. */
  started: string | null;
  since: string;
  /** null while the owner is still opening the database. */
  address: OwnerAddress | null;
}

const ownNonces = new Set<string>();
const heldByUs = new Set<OwnerLock>();
let exitHookInstalled = false;

/** The lock this process holds; release() it on close (an exit without close releases it too). */
export class OwnerLock {
  constructor(
    readonly path: string,
    private info: OwnerInfo,
    private readonly onExit: () => void,
  ) {}

  get current(): OwnerInfo {
    return this.info;
  }

  /** Records where the database is served (an atomic rename over our own lock file). */
  publish(address: OwnerAddress): void {
    const next = { ...this.info, address };
    const tmp = `${this.path}.${this.info.nonce}.tmp`;
    writeFileSync(tmp, JSON.stringify(next), { mode: 0o600 });
    renameSync(tmp, this.path);
    this.info = next;
  }

  /** Removes the lock if it is still ours. Idempotent. */
  release(): void {
    if (!heldByUs.delete(this)) return;
    ownNonces.delete(this.info.nonce);
    if (readOwner(this.path)?.nonce === this.info.nonce) unlinkQuiet(this.path);
  }

  /** For the exit hook: undo what the owner left on disk, then release. */
  releaseOnExit(): void {
    try {
      this.onExit();
    } finally {
      this.release();
    }
  }
}

export type Acquired = { lock: OwnerLock } | { held: OwnerInfo };

/**
 * One attempt to own `lockPath`: our lock, or the live owner's record. A stale lock (its process
 * is gone) is broken and the attempt repeated. `onExit` runs synchronously if this process exits
 * without releasing (e.g. to remove the socket file).
 */
export function acquireOwner(lockPath: string, onExit: () => void = () => {}): Acquired {
  const info: OwnerInfo = { pid: process.pid, hostname: hostname(), nonce: randomBytes(12).toString('hex'), started: processStart(process.pid), since: new Date().toISOString(), address: null };
  const tmp = `${lockPath}.${info.nonce}.tmp`;
  writeFileSync(tmp, JSON.stringify(info), { mode: 0o600, flag: 'wx' });
  try {
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        linkSync(tmp, lockPath);
        ownNonces.add(info.nonce);
        const lock = new OwnerLock(lockPath, info, onExit);
        heldByUs.add(lock);
        installExitHook();
        return { lock };
      } catch (e) {
        if (errno(e) !== 'EEXIST') throw e;
      }
      const held = readOwner(lockPath);
      if (!held) continue; // released meanwhile
      if (ownerAlive(held)) return { held };
      breakStale(lockPath, held);
    }
    throw new Error(`${lockPath}: could not take the lock after 100 attempts (other processes keep taking it)`);
  } finally {
    unlinkQuiet(tmp);
  }
}

/** The lock's record; null when there is none. A lock file we cannot read is an error (not ours to remove). */
export function readOwner(lockPath: string): OwnerInfo | null {
  let text: string;
  try {
    text = readFileSync(lockPath, 'utf8');
  } catch (e) {
    if (errno(e) === 'ENOENT') return null;
    throw e;
  }
  try {
    const v = JSON.parse(text) as OwnerInfo;
    if (typeof v.pid === 'number' && typeof v.nonce === 'string') return v;
  } catch {
    // reported below
  }
  throw new Error(`${lockPath} is not a Kestrel lock file; if no Kestrel process is using the database, remove it`);
}

/** Whether the process that wrote `info` still runs. A lock from another machine is never taken for stale. */
export function ownerAlive(info: OwnerInfo): boolean {
  if (info.hostname !== hostname()) return true;
  if (info.pid === process.pid) return ownNonces.has(info.nonce);
  try {
    process.kill(info.pid, 0);
  } catch (e) {
    if (errno(e) === 'ESRCH') return false;
  }
  const started = processStart(info.pid);
  return !(info.started && started && started !== info.started);
}

function breakStale(lockPath: string, stale: OwnerInfo): void {
  const breaker = `${lockPath}.${stale.nonce}.break`;
  try {
    linkSync(lockPath, breaker);
  } catch (e) {
    if (errno(e) === 'ENOENT') return; // the lock went away: try again
    if (errno(e) !== 'EEXIST') throw e;
    waitForBreak(lockPath, breaker, stale);
    return;
  }
  try {
    // `breaker` names whatever the lock was at link time; only a breaker of that lock may unlink it.
    if (readOwner(breaker)?.nonce === stale.nonce) unlinkQuiet(lockPath);
  } finally {
    unlinkQuiet(breaker);
  }
}

/** Another process is breaking the same stale lock (two syscalls apart): wait for it. */
function waitForBreak(lockPath: string, breaker: string, stale: OwnerInfo): void {
  const until = Date.now() + 2_000;
  while (Date.now() < until) {
    if (!existsSync(breaker) || readOwner(lockPath)?.nonce !== stale.nonce) return;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
  throw new Error(`${lockPath} is stale (pid ${stale.pid} is gone) and a takeover was interrupted: if no Kestrel process is running, remove ${lockPath} and ${breaker}`);
}

/** Start time of a process (clock ticks since boot, /proc/<pid>/stat field 22), or null off Linux. */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const lock of [...heldByUs]) lock.releaseOnExit();
  });
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if (errno(e) !== 'ENOENT') throw e;
  }
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}
