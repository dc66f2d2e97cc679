import { hostname } from 'node:os';
import { busGroups, busStreams, decodeSignalsGenerated, type SignalsGenerated } from '../bus/keys.js';
import { BusDecodeError, type Bus, type ConsumeOptions, type StreamConsumer } from '../bus/types.js';
import { HttpError } from '../observability/http-app.js';
import { runOrchestration, type OrchestratorContext } from './run.js';
import type { RunView, StrategyConfig } from './types.js';

/**
 * The event trigger: `signals.generated` on the bus, consumer group `orchestrator`. Each entry
 * is delivered to one consumer of the group (two replicas never both get it); an entry is
 * acked only after its handler finished, so an orchestrator that was down (or crashed
 * mid-event) processes it when it is back, and another replica claims it after claimIdleMs.
 * For every event every configured strategy runs for the event's as_of_date; runs are
 * once-only per (strategy_id, as_of_date), so a redelivered event submits nothing new.
 *
 * The group is created at the start of the retained stream (`0`) the first time, so events
 * published before the orchestrator ever started are not missed; events whose trade date has
 * passed are acknowledged and skipped (the gateway takes orders for today's session only).
 */

export interface SignalsConsumerDeps {
  ctx: OrchestratorContext;
  bus: Bus;
  strategies: readonly StrategyConfig[];
  /** Default `<hostname>-<pid>`. */
  consumerName?: string;
  consume?: ConsumeOptions;
  /** A run that failed this many attempts is given up on (the event is acked). Default 5. */
  maxAttempts?: number;
}

export type EventOutcome = 'ran' | 'stale' | 'invalid' | 'conflict' | 'retry' | 'gave_up';

export interface EventResult {
  strategy_id: string;
  outcome: EventOutcome;
  run?: RunView;
  error?: string;
}

export function defaultConsumerName(): string {
  return `${hostname()}-${process.pid}`;
}

export function startSignalsConsumer(deps: SignalsConsumerDeps): StreamConsumer {
  const name = deps.consumerName ?? defaultConsumerName();
  const log = deps.ctx.logger.child({ consumer: name });
  return deps.bus.consume(
    busStreams.signalsGenerated,
    busGroups.orchestrator,
    name,
    async (entry) => {
      let event: SignalsGenerated;
      try {
        event = decodeSignalsGenerated(entry.fields);
      } catch (e) {
        if (!(e instanceof BusDecodeError)) throw e;
        deps.ctx.metrics.events.inc({ outcome: 'invalid' });
        log.error({ id: entry.id, err: e.message }, 'signals.generated entry cannot be decoded; acknowledging it');
        return;
      }
      const results = await handleSignalsEvent(deps.ctx, deps.strategies, event, { maxAttempts: deps.maxAttempts });
      const retry = results.filter((r) => r.outcome === 'retry');
      if (retry.length) throw new Error(`signals.generated ${event.as_of_date}: ${retry.map((r) => `${r.strategy_id}: ${r.error}`).join('; ')} (the entry stays pending and is retried)`);
    },
    { startId: '0', ...deps.consume },
  );
}

/** Runs every strategy for one event; never throws for a run's own failure (see EventResult). */
export async function handleSignalsEvent(ctx: OrchestratorContext, strategies: readonly StrategyConfig[], event: SignalsGenerated, opts: { maxAttempts?: number } = {}): Promise<EventResult[]> {
  const maxAttempts = opts.maxAttempts ?? 5;
  const out: EventResult[] = [];
  for (const s of strategies) {
    const log = ctx.logger.child({ strategy_id: s.strategy_id, as_of_date: event.as_of_date, model_version: event.model_version });
    let r: EventResult;
    try {
      const { run, orders } = await runOrchestration(
        ctx,
        {
          strategy_id: s.strategy_id,
          as_of_date: event.as_of_date,
          capital: s.capital,
          max_position_pct: s.max_position_pct,
          ...(s.top_n !== undefined ? { top_n: s.top_n } : {}),
          ...(s.bottom_n !== undefined ? { bottom_n: s.bottom_n } : {}),
          ...(s.symbols ? { symbols: s.symbols } : {}),
        },
        { trigger: 'event' },
      );
      const retryableOrders = orders.some((o) => o.order_status === 'failed' && o.retryable);
      if ((run.status === 'failed' || retryableOrders) && run.attempt < maxAttempts) r = { strategy_id: s.strategy_id, outcome: 'retry', run, error: run.error ?? 'retryable order failures' };
      else if (run.status === 'failed') r = { strategy_id: s.strategy_id, outcome: 'gave_up', run, error: run.error ?? 'failed' };
      else r = { strategy_id: s.strategy_id, outcome: 'ran', run };
    } catch (e) {
      if (e instanceof HttpError && e.statusCode === 422) {
        r = { strategy_id: s.strategy_id, outcome: e.code === 'stale_trade_date' ? 'stale' : 'invalid', error: e.message };
      } else if (e instanceof HttpError && e.statusCode === 409) {
        r = { strategy_id: s.strategy_id, outcome: 'conflict', error: e.message };
      } else {
        r = { strategy_id: s.strategy_id, outcome: 'retry', error: e instanceof Error ? e.message : String(e) };
      }
    }
    ctx.metrics.events.inc({ outcome: r.outcome });
    if (r.outcome === 'ran') log.info({ run_id: r.run!.id, status: r.run!.status }, 'signals.generated: run done');
    else if (r.outcome === 'stale') log.warn({ err: r.error }, 'signals.generated: trade date has passed; skipped');
    else if (r.outcome === 'retry') log.warn({ err: r.error }, 'signals.generated: run did not complete; the event will be retried');
    else log.error({ err: r.error }, `signals.generated: ${r.outcome}; not retried`);
    out.push(r);
  }
  return out;
}
