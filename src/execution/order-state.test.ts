import { describe, expect, it } from 'vitest';
import type { BrokerOrderStatus, TradeUpdateEvent } from './broker.js';
import { allowedFrom, canTransition, decide, fromBrokerStatus, fromTradeEvent, isTerminal, ORDER_STATUSES, TRANSITIONS, type OrderStatus } from './order-state.js';

const ALLOWED: Array<[OrderStatus, OrderStatus]> = [
  ['pending_new', 'accepted'],
  ['pending_new', 'new'],
  ['pending_new', 'partially_filled'],
  ['pending_new', 'filled'],
  ['pending_new', 'canceled'],
  ['pending_new', 'rejected'],
  ['pending_new', 'expired'],
  ['accepted', 'new'],
  ['accepted', 'partially_filled'],
  ['accepted', 'filled'],
  ['accepted', 'canceled'],
  ['accepted', 'rejected'],
  ['accepted', 'expired'],
  ['new', 'partially_filled'],
  ['new', 'filled'],
  ['new', 'canceled'],
  ['new', 'rejected'],
  ['new', 'expired'],
  ['partially_filled', 'partially_filled'],
  ['partially_filled', 'filled'],
  ['partially_filled', 'canceled'],
  ['partially_filled', 'expired'],
];

const REFUSED: Array<[OrderStatus, OrderStatus]> = [
  ['filled', 'new'],
  ['filled', 'partially_filled'],
  ['filled', 'canceled'],
  ['canceled', 'filled'],
  ['canceled', 'new'],
  ['rejected', 'new'],
  ['expired', 'filled'],
  ['new', 'accepted'],
  ['new', 'pending_new'],
  ['partially_filled', 'new'],
  ['partially_filled', 'accepted'],
  ['partially_filled', 'rejected'],
  ['accepted', 'pending_new'],
  ['dry_run', 'new'],
  ['dry_run', 'filled'],
  ['pending_new', 'dry_run'],
  ['new', 'dry_run'],
];

describe('order state machine', () => {
  it.each(ALLOWED)('allows %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
    expect(decide(from, to)).toBe(from === to ? 'same' : 'apply');
  });

  it.each(REFUSED)('refuses %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
    expect(decide(from, to)).toBe('refused');
  });

  it('the table lists exactly the allowed transitions above', () => {
    const listed = ORDER_STATUSES.flatMap((from) => TRANSITIONS[from].map((to) => `${from}→${to}`)).sort();
    expect(listed).toEqual(ALLOWED.map(([a, b]) => `${a}→${b}`).sort());
  });

  it('terminal statuses accept nothing; a repeat of the current status is a no-op, not an error', () => {
    for (const s of ['filled', 'canceled', 'rejected', 'expired', 'dry_run'] as const) {
      expect(isTerminal(s)).toBe(true);
      for (const to of ORDER_STATUSES) expect(decide(s, to)).toBe(s === to ? 'same' : 'refused');
    }
    expect(decide('new', 'new')).toBe('same');
  });

  it('allowedFrom is the inverse of the table', () => {
    for (const to of ORDER_STATUSES) {
      for (const from of ORDER_STATUSES) expect(allowedFrom(to).includes(from)).toBe(from !== to && canTransition(from, to));
    }
    expect(allowedFrom('filled')).toEqual(['pending_new', 'accepted', 'new', 'partially_filled']);
    expect(allowedFrom('dry_run')).toEqual([]);
  });

  it.each<[BrokerOrderStatus, OrderStatus | null]>([
    ['new', 'new'],
    ['accepted', 'accepted'],
    ['pending_new', null],
    ['partially_filled', 'partially_filled'],
    ['filled', 'filled'],
    ['canceled', 'canceled'],
    ['replaced', 'canceled'],
    ['expired', 'expired'],
    ['rejected', 'rejected'],
    ['done_for_day', null],
    ['pending_cancel', null],
  ])('maps broker status %s → %s', (b, ours) => expect(fromBrokerStatus(b)).toBe(ours));

  it.each<[TradeUpdateEvent, OrderStatus | null]>([
    ['new', 'new'],
    ['accepted', 'accepted'],
    ['partial_fill', 'partially_filled'],
    ['fill', 'filled'],
    ['canceled', 'canceled'],
    ['expired', 'expired'],
    ['rejected', 'rejected'],
    ['pending_new', null],
    ['pending_cancel', null],
    ['done_for_day', null],
  ])('maps trade event %s → %s', (e, ours) => expect(fromTradeEvent(e)).toBe(ours));
});
