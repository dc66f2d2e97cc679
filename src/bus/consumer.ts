import type { Logger } from '../core/logger.js';
import type { ConsumeOptions, StreamConsumer, StreamEntry, StreamHandler } from './types.js';

/**
 * The consumer-group loop, shared by the Redis and in-process buses so both have the same
 * delivery semantics. Each implementation supplies a StreamDriver (XREADGROUP, XAUTOCLAIM,
 * XACK, XCLAIM-as-heartbeat and their in-memory equivalents).
 *
 * Semantics (at least once, never concurrently):
 * 1. On start and after every error, re-read this consumer's own pending entries (`0`):
 *    what it received but never acked before a crash/stop/outage is processed first.
 * 2. Every claimInterval, claim entries idle longer than claimIdleMs from any consumer of
 *    the group (XAUTOCLAIM): a dead consumer's entries move here, and so do entries whose
 *    handler failed (the retry).
 * 3. Otherwise block for new entries (`>`): each is delivered to exactly one consumer.
 * An entry is acked only after its handler resolved. While a handler runs, its entry is
 * touched every claimIdleMs/3 so no other consumer claims it, however long it takes.
 */

export interface RawEntry {
  id: string;
  /** null when the entry was trimmed/deleted from the stream while pending. */
  fields: Record<string, string> | null;
}

export interface StreamDriver {
  ensureGroup(stream: string, group: string, startId: '$' | '0'): Promise<void>;
  readPending(stream: string, group: string, consumer: string, afterId: string, count: number): Promise<RawEntry[]>;
  /** Blocks up to blockMs for entries never delivered to the group; returns [] on timeout or interrupt. */
  readNew(stream: string, group: string, consumer: string, count: number, blockMs: number): Promise<RawEntry[]>;
  /** Claims pending entries idle ≥ minIdleMs; deleted entries are dropped from the pending list and not returned. */
  autoclaim(stream: string, group: string, consumer: string, minIdleMs: number, cursor: string, count: number): Promise<{ next: string; entries: RawEntry[] }>;
  ack(stream: string, group: string, ids: string[]): Promise<void>;
  /** Resets the idle time of entries this consumer is processing. */
  touch(stream: string, group: string, consumer: string, ids: string[]): Promise<void>;
  isNoGroup(err: unknown): boolean;
  /** Makes a blocked readNew return (or reject) promptly; called by stop(). */
  interrupt(): void;
  close(): Promise<void>;
}

export interface ConsumerHooks {
  logger: Logger;
  onHandlerError?: () => void;
  onStopped?: () => void;
}

export const CONSUME_DEFAULTS = { count: 10, blockMs: 2000, claimIdleMs: 60_000 } as const;

export function runConsumer(
  driver: StreamDriver,
  names: { stream: string; key: string; group: string; consumer: string },
  handler: StreamHandler,
  opts: ConsumeOptions,
  hooks: ConsumerHooks,
): StreamConsumer {
  const count = positiveInt(opts.count ?? CONSUME_DEFAULTS.count, 'count');
  const blockMs = positiveInt(opts.blockMs ?? CONSUME_DEFAULTS.blockMs, 'blockMs');
  const claimIdleMs = positiveInt(opts.claimIdleMs ?? CONSUME_DEFAULTS.claimIdleMs, 'claimIdleMs');
  const claimIntervalMs = positiveInt(opts.claimIntervalMs ?? Math.max(10, Math.min(Math.floor(claimIdleMs / 2), 10_000)), 'claimIntervalMs');
  const { stream, key, group, consumer } = names;
  const log = hooks.logger.child({ stream, group, consumer });

  let stopping = false;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  /** Processes a batch; returns early when stopping (the rest stays pending for this consumer). */
  async function processBatch(entries: RawEntry[]): Promise<void> {
    for (const e of entries) {
      if (stopping) return;
      if (e.fields === null) {
        log.warn({ id: e.id }, 'pending stream entry was trimmed before it was processed; acking it');
        await driver.ack(key, group, [e.id]);
        continue;
      }
      const heartbeat = setInterval(() => {
        driver.touch(key, group, consumer, [e.id]).catch(() => {});
      }, Math.max(5, Math.floor(claimIdleMs / 3)));
      let ok = false;
      try {
        await handler({ stream, id: e.id, fields: e.fields } satisfies StreamEntry);
        ok = true;
      } catch (err) {
        hooks.onHandlerError?.();
        log.error({ id: e.id, err: errText(err) }, `stream handler failed; the entry stays pending and is retried after ${claimIdleMs} ms`);
      } finally {
        clearInterval(heartbeat);
      }
      if (ok) await driver.ack(key, group, [e.id]);
    }
  }

  async function loop(): Promise<void> {
    let startId: '$' | '0' = opts.startId ?? '$';
    let groupReady = false;
    let readOwnPending = true;
    let nextClaimAt = 0;
    let failures = 0;
    while (!stopping) {
      try {
        if (!groupReady) {
          await driver.ensureGroup(key, group, startId);
          groupReady = true;
        }
        if (readOwnPending) {
          let after = '0';
          for (;;) {
            const batch = await driver.readPending(key, group, consumer, after, count);
            if (batch.length === 0 || stopping) break;
            await processBatch(batch);
            after = batch[batch.length - 1]!.id;
          }
          readOwnPending = false;
        }
        if (!stopping && Date.now() >= nextClaimAt) {
          let cursor = '0-0';
          do {
            const r = await driver.autoclaim(key, group, consumer, claimIdleMs, cursor, count);
            if (r.entries.length > 0) log.info({ n: r.entries.length }, 'claimed entries idle for over claimIdleMs');
            await processBatch(r.entries);
            cursor = r.next;
          } while (cursor !== '0-0' && !stopping);
          nextClaimAt = Date.now() + claimIntervalMs;
        }
        if (stopping) break;
        const wait = Math.max(1, Math.min(blockMs, nextClaimAt - Date.now()));
        await processBatch(await driver.readNew(key, group, consumer, count, wait));
        if (failures > 0) log.info({ failures }, 'stream consumer recovered');
        failures = 0;
      } catch (err) {
        if (stopping) break;
        failures++;
        if (driver.isNoGroup(err)) {
          // The stream or group vanished (e.g. Redis restarted without persistence):
          // recreate it; everything in the new stream is unseen, so start from the beginning.
          log.warn('consumer group missing; recreating it');
          groupReady = false;
          startId = '0';
        } else if (failures === 1) {
          log.warn({ err: errText(err) }, 'stream consumer cannot reach the bus; retrying');
        }
        readOwnPending = true;
        await sleep(Math.min(2000, 50 * 2 ** Math.min(failures, 6)));
      }
    }
  }

  const done = loop()
    .catch((err: unknown) => log.error({ err: errText(err) }, 'stream consumer loop crashed'))
    .finally(async () => {
      await driver.close().catch(() => {});
      hooks.onStopped?.();
    });

  return {
    stream,
    group,
    consumer,
    done,
    async stop() {
      if (!stopping) {
        stopping = true;
        wake?.();
        driver.interrupt();
      }
      await done;
    },
  };
}

function positiveInt(n: number, name: string): number {
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`consume option ${name} must be a positive integer, got ${n}`);
  return n;
}

export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Stream ids `ms-seq` as a comparable pair. */
export function parseId(id: string): [number, number] {
  const dash = id.indexOf('-');
  return dash < 0 ? [Number(id), 0] : [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
}

export function compareIds(a: string, b: string): number {
  const [am, as] = parseId(a);
  const [bm, bs] = parseId(b);
  return am !== bm ? am - bm : as - bs;
}
