import DataLoader from 'dataloader';

/**
 * Group commit for hot statements: concurrent callers' items are collected into one batch and
 * handled by one call of `run` (one round trip, one commit) instead of one each.
 *
 * DataLoader does the collecting; this adds the scheduling that makes batches grow with load:
 * at most `maxInFlight` batches run at once, and while they do, new items wait and form the
 * next batch. An idle system therefore pays no delay (a lone item is sent at the end of the
 * current turn of the event loop), a busy one gets large batches and fewer round trips.
 *
 * `run` must answer one result per item, in order; an Error in a slot fails only that item,
 * a thrown error fails the whole batch.
 */
export interface BatcherOptions {
  /** Items per batch at most. */
  maxBatch: number;
  /** Batches running at once at most (≤ the connection pool, leaving room for other work). */
  maxInFlight: number;
}

export type Batched<I, O> = (item: I) => Promise<O>;

export function batcher<I, O>(run: (items: readonly I[]) => Promise<ReadonlyArray<O | Error>>, opts: BatcherOptions): Batched<I, O> {
  // Batches scheduled or running; a finishing batch hands its slot to the next waiting one.
  let slots = 0;
  const waiting: Array<() => void> = [];
  const loader = new DataLoader<I, O, I>(
    async (items) => {
      try {
        return await run(items);
      } finally {
        const next = waiting.shift();
        if (next) next();
        else slots--;
      }
    },
    {
      cache: false,
      maxBatchSize: opts.maxBatch,
      batchScheduleFn: (dispatch) => {
        if (slots < opts.maxInFlight) {
          slots++;
          setImmediate(dispatch);
        } else waiting.push(dispatch);
      },
    },
  );
  return (item) => loader.load(item);
}
