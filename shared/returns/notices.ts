import type { Trx } from '../db/index.js';
import { emitNotification } from '../notifications/emit.js';
import { enqueue } from '../outbox.js';
import type { ReturnStatus } from './schemas.js';

/**
 * What people hear about a return, written in the transaction of the change: the customer's socket
 * (`return.status_changed`) and notification (in-app, push and mail per their preferences), and, for a new
 * request, the staff's (`return.requested` to every `return:read` holder). Keys are per return and step, so a
 * retried job or request never tells anyone twice.
 */

export interface ReturnSubject {
  id: string;
  orderId: string;
  orderNumber: string;
  userId: string;
}

const words: Record<ReturnStatus, string> = {
  requested: 'We have your return request',
  approved: 'Your return is approved: please send the items back',
  rejected: 'Your return was not approved',
  received: 'We received your returned items',
  completed: 'Your return is complete',
  cancelled: 'Your return was cancelled',
  expired: 'Your return expired: the items did not reach us in time',
};

export async function announceStatus(
  trx: Trx,
  ret: ReturnSubject,
  from: ReturnStatus | null,
  to: ReturnStatus,
  extra: { body?: string; key?: string; data?: Record<string, unknown> } = {},
): Promise<void> {
  const data = { returnId: ret.id, orderId: ret.orderId, orderNumber: ret.orderNumber, from, to, ...extra.data };
  await enqueue(trx, 'system.notify', { type: 'return.status_changed', userId: ret.userId, data });
  await emitNotification(trx, {
    key: extra.key ?? `return.status_changed:${ret.id}:${to}`,
    kind: 'return.status_changed',
    userIds: [ret.userId],
    title: `Order ${ret.orderNumber}: ${words[to].toLowerCase()}`,
    body: extra.body ?? `${words[to]} (order ${ret.orderNumber}).`,
    data,
  });
}

export async function announceRequested(trx: Trx, ret: ReturnSubject, units: number): Promise<void> {
  await announceStatus(trx, ret, null, 'requested');
  const data = { returnId: ret.id, orderId: ret.orderId, orderNumber: ret.orderNumber, units };
  await enqueue(trx, 'system.notify', { type: 'return.requested', staff: true, data });
  await emitNotification(trx, {
    key: `return.requested:${ret.id}`,
    kind: 'return.requested',
    permission: 'return:read',
    title: `Return requested for order ${ret.orderNumber}`,
    body: `A customer asked to return ${units} unit${units === 1 ? '' : 's'} of order ${ret.orderNumber}.`,
    data,
  });
}
