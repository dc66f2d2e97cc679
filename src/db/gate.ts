import { Mutex } from 'async-mutex';

/**
 * The one lock in front of an embedded PGlite. PGlite is a single backend session: a statement
 * from anyone (this process's Db, or a client of the wire-protocol server) runs inside whatever
 * transaction is open on it. So every user holds the gate for a whole unit of work: the Db for
 * one query, exec or transaction; a remote session from its first message until the backend is
 * idle again (see pglite-server.ts). FIFO, so neither side starves the other.
 */
export class Gate {
  private readonly mutex = new Mutex();

  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.mutex.runExclusive(fn);
  }

  /** Takes the gate until the returned function is called. */
  acquire(): Promise<() => void> {
    return this.mutex.acquire();
  }
}
