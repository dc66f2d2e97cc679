import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engageKillSwitch } from './kill-switch.js';
import type { OrderRow } from './model.js';
import { embeddedGateway, order, waitFor, type TestGateway } from './test-helpers.js';

/**
 * The race the kill switch must win: it is engaged after an order was written ahead but before
 * its broker call. Engaging cancels the pending row locally (the broker does not know it yet);
 * when the submission lands, the gateway sees its order canceled and cancels it at the broker.
 */
let g: TestGateway;
let engageOnNextWrite = false;
beforeAll(async () => {
  g = await embeddedGateway({
    background: { retrier: false, reconcileOnStart: false },
    faults: {
      afterWrite: async () => {
        if (!engageOnNextWrite) return;
        engageOnNextWrite = false;
        const change = await engageKillSwitch(g.app.gateway.ctx, { reason: 'race test', actor: 'vitest' });
        expect(change.canceled).toEqual([expect.objectContaining({ where: 'local' })]);
      },
    },
  });
});
afterAll(() => g?.close());

describe('kill switch vs an in-flight submission', () => {
  it('the order that reached the broker after the switch was engaged is canceled there too', async () => {
    engageOnNextWrite = true;
    const r = await g.app.inject({ method: 'POST', url: '/api/v1/orders', payload: order({ order_type: 'limit', limit_price: '10', qty: '3', strategy_id: 'race' }) });
    expect(r.statusCode).toBe(201);
    const o = r.json() as OrderRow;
    expect(o.status).toBe('canceled');
    expect(o.broker_order_id).toEqual(expect.any(String));
    expect(g.sim.sim.getOrderByClientId(o.client_order_id)?.status).toBe('canceled');
    const kinds = (await g.db.query<{ kind: string }>('SELECT kind FROM order_events WHERE order_id = $1 ORDER BY id', [o.id])).rows.map((e) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['created', 'canceled_unsent', 'submitted', 'cancel_requested']));
    // New orders are refused while engaged; the same order again is still answered.
    expect((await g.app.inject({ method: 'POST', url: '/api/v1/orders', payload: order({ qty: '99', strategy_id: 'race' }) })).statusCode).toBe(403);
    expect((await g.app.inject({ method: 'POST', url: '/api/v1/orders', payload: order({ order_type: 'limit', limit_price: '10', qty: '3', strategy_id: 'race' }) })).statusCode).toBe(200);
    await waitFor('no backlog', async () => g.app.gateway.consumer!.backlog === 0);
  });
});
