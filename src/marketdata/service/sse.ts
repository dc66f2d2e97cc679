import type { FastifyInstance } from 'fastify';
import type { PnlSnapshot } from '../../pnl/portfolio.js';
import type { LivePnl } from './live-pnl.js';

/**
 * P&L over HTTP:
 *   GET /api/v1/pnl         the current snapshot (JSON; timezone 'UTC'; stale_marks listed)
 *   GET /api/v1/pnl/stream  Server-Sent Events: `event: pnl` + the JSON snapshot at connect and
 *                           on every change, `: heartbeat` comments every heartbeatMs; the
 *                           listener and timer go when the client disconnects or the app closes.
 */
export interface PnlRoutesOptions {
  /** Default 15 000 ms. */
  heartbeatMs?: number;
}

export function registerPnlRoutes(app: FastifyInstance, live: LivePnl, opts: PnlRoutesOptions = {}): { openStreams: () => number } {
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const streams = new Set<() => void>();

  app.get('/api/v1/pnl', { schema: { tags: ['pnl'], summary: 'live P&L snapshot (UTC)' } }, async (): Promise<PnlSnapshot> => live.snapshot());

  app.get('/api/v1/pnl/stream', { schema: { tags: ['pnl'], summary: 'live P&L as Server-Sent Events (event: pnl)' } }, (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-request-id': req.id,
    });
    // Snapshots are whole states: while the socket is backed up only the newest is kept.
    let held: PnlSnapshot | undefined;
    let done = false;
    const send = (snap: PnlSnapshot) => {
      if (res.writableNeedDrain) {
        held = snap;
        return;
      }
      res.write(`event: pnl\ndata: ${JSON.stringify(snap)}\n\n`);
    };
    res.on('drain', () => {
      const snap = held;
      held = undefined;
      if (snap && !done) send(snap);
    });
    send(live.snapshot());
    const unsubscribe = live.subscribe(send);
    const heartbeat = setInterval(() => {
      if (!res.writableNeedDrain) res.write(': heartbeat\n\n');
    }, heartbeatMs);
    const cleanup = () => {
      if (done) return;
      done = true;
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(end);
    };
    const end = () => {
      cleanup();
      res.end();
    };
    streams.add(end);
    // The response's 'close' fires when the client goes away (or after end()).
    res.on('close', cleanup);
    res.on('error', cleanup);
  });

  // Open streams would keep close() waiting forever: end them first.
  app.addHook('preClose', async () => {
    for (const end of [...streams]) end();
  });

  return { openStreams: () => streams.size };
}
