import type { ServerResponse } from 'node:http';

/**
 * Broker outages on demand, for gateway tests: the next N order submissions fail with 500 or
 * 503, or hang (no answer until the client gives up, `hangMs` passes or the sim closes).
 * With `afterCreate` the order is recorded first and only the answer is lost — the ambiguous
 * case a gateway must settle with GET /v2/orders:by_client_order_id.
 * Stream outages live on the stream (`drop`, `setEnabled`).
 */
export type SubmitFaultMode = 'error_500' | 'error_503' | 'hang';

export interface SubmitFault {
  mode: SubmitFaultMode;
  /** How many submissions in a row fail. */
  count: number;
  afterCreate?: boolean;
  /** For hang: drop the connection after this long (default: hold until the client or the sim gives up). */
  hangMs?: number;
}

export class Faults {
  private submit: SubmitFault | null = null;
  private readonly held = new Set<ServerResponse>();

  failNextSubmissions(fault: SubmitFault): void {
    if (!Number.isInteger(fault.count) || fault.count < 0) throw new RangeError(`count must be a whole number >= 0, got ${fault.count}`);
    this.submit = fault.count > 0 ? { ...fault } : null;
  }

  /** The fault for this submission, if any (counts it down). */
  takeSubmitFault(): Omit<SubmitFault, 'count'> | null {
    if (!this.submit) return null;
    const { count, ...fault } = this.submit;
    this.submit = count > 1 ? { ...this.submit, count: count - 1 } : null;
    return fault;
  }

  pending(): SubmitFault | null {
    return this.submit ? { ...this.submit } : null;
  }

  /** Keeps a response open without answering (the route has hijacked it). */
  hold(res: ServerResponse, hangMs?: number): void {
    this.held.add(res);
    const timer = hangMs !== undefined ? setTimeout(() => res.destroy(), hangMs) : null;
    res.once('close', () => {
      if (timer) clearTimeout(timer);
      this.held.delete(res);
    });
  }

  /** Clears pending faults and cuts every held connection. */
  clear(): void {
    this.submit = null;
    for (const res of this.held) res.destroy();
    this.held.clear();
  }
}
