import { runDue, type OrchestratorContext } from './run.js';

/**
 * Background work on the runs table, safe on every replica (each run is taken over with one
 * guarded UPDATE, so only one replica executes it):
 *  - scheduled runs whose trade date has come are started;
 *  - running runs whose owner stopped renewing the lease (a crashed process) are resumed from
 *    their stored plan;
 *  - today's partial runs with open legs of flips still deferred are retried.
 */
export interface SchedulerOptions {
  /** How often to look. Default 15 s. */
  intervalMs?: number;
  /** A partial run with deferred legs is retried at most this often. Default 15 s. */
  deferredRetryMs?: number;
}

export class RunScheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  readonly intervalMs: number;

  constructor(
    private readonly ctx: OrchestratorContext,
    private readonly opts: SchedulerOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 15_000;
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
    void this.tick();
  }

  /** One pass (single-flight: a call during a pass shares it). */
  tick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.running ??= runDue(this.ctx, { deferredRetryMs: this.opts.deferredRetryMs })
      .then((runs) => {
        if (runs.length) this.ctx.logger.info({ runs: runs.map((r) => ({ id: r.id, status: r.status })) }, 'scheduler advanced runs');
      })
      .catch((e: unknown) => this.ctx.logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'scheduler pass failed; retrying next interval'))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
