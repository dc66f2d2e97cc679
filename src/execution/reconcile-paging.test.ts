import { describe, expect, it } from 'vitest';
import type { BrokerOrder } from './broker.js';
import type { GatewayContext } from './context.js';
import { listBrokerOrders } from './reconcile.js';

/** A broker listing like Alpaca's: oldest first, `after` strict, `limit` per page. */
function brokerWith(orders: BrokerOrder[]) {
  const calls: string[] = [];
  const ctx = {
    broker: {
      listOrders: async (q: { after?: string; limit?: number }) => {
        calls.push(q.after ?? '');
        return orders.filter((o) => !q.after || Date.parse(o.created_at) > Date.parse(q.after)).slice(0, q.limit ?? 50);
      },
    },
  } as unknown as GatewayContext;
  return { ctx, calls };
}

const order = (i: number, createdAt: string) => ({ id: `b-${i}`, client_order_id: `c-${i}`, created_at: createdAt }) as BrokerOrder;

describe('listBrokerOrders', () => {
  it('does not skip orders that share a timestamp across a 500-order page boundary', async () => {
    // 499 orders one ms apart, then 3 in the same microsecond-precise millisecond, then more.
    const orders = [
      ...Array.from({ length: 499 }, (_, i) => order(i, new Date(Date.UTC(2025, 0, 17, 15, 0, 0, i)).toISOString())),
      order(499, '2025-01-17T15:00:01.000100Z'),
      order(500, '2025-01-17T15:00:01.000200Z'),
      order(501, '2025-01-17T15:00:01.000300Z'),
      ...Array.from({ length: 10 }, (_, i) => order(502 + i, new Date(Date.UTC(2025, 0, 17, 15, 0, 2, i)).toISOString())),
    ];
    const { ctx, calls } = brokerWith(orders);
    const got = await listBrokerOrders(ctx, new Date('2025-01-17T00:00:00Z'));
    expect(got.map((o) => o.id).sort()).toEqual(orders.map((o) => o.id).sort());
    expect(new Set(got.map((o) => o.id)).size).toBe(got.length);
    expect(calls.length).toBe(2);
  });

  it('ends when a page brings nothing new (500 orders in one millisecond cannot loop forever)', async () => {
    const orders = Array.from({ length: 600 }, (_, i) => order(i, '2025-01-17T15:00:00.000Z'));
    const { ctx, calls } = brokerWith(orders);
    const got = await listBrokerOrders(ctx, new Date('2025-01-17T00:00:00Z'));
    expect(got).toHaveLength(500);
    expect(calls.length).toBe(2);
  });
});
