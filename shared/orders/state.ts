import { sql } from 'kysely';
import type { Trx } from '../db/index.js';
import { InvalidTransitionError, NotFoundError } from '../errors.js';
import { emitNotification } from '../notifications/emit.js';
import { enqueue } from '../outbox.js';
import type { OrderStatus } from './schemas.js';

/**
 * The order state machine of the contract, in one place:
 *   pending_payment → paid → processing → shipped → delivered
 *   pending_payment → cancelled            (customer, staff, or reservation expiry)
 *   paid | processing → cancelled          (staff, with a refund)
 *   any paid state → partially_refunded | refunded   (paid states: paid, processing, shipped, delivered,
 *                                                      partially_refunded)
 * Anything else is 409 invalid_transition. A partially refunded order stays partially_refunded on a further
 * partial refund (no transition needed) and may become refunded.
 */
export { orderStatuses, type OrderStatus } from './schemas.js';

const refunds: OrderStatus[] = ['partially_refunded', 'refunded'];

export const transitions: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  pending_payment: ['paid', 'cancelled'],
  paid: ['processing', 'cancelled', ...refunds],
  processing: ['shipped', 'cancelled', ...refunds],
  shipped: ['delivered', ...refunds],
  delivered: refunds,
  partially_refunded: ['refunded'],
  cancelled: [],
  refunded: [],
};

export const canTransition = (from: string, to: string): boolean =>
  (transitions[from as OrderStatus] ?? []).includes(to as OrderStatus);

/** Holding the customer's money now: paid and not (wholly) given back. */
export const paidStatuses = ['paid', 'processing', 'shipped', 'delivered', 'partially_refunded'] as const satisfies readonly OrderStatus[];
/**
 * Paid at some point, whatever happened after (a fully refunded order too): such an order has an invoice,
 * and another payment for it is a second payment, not a late one for a cancelled order.
 */
export const everPaidStatuses = [...paidStatuses, 'refunded'] as const satisfies readonly OrderStatus[];

const everPaid = new Set<OrderStatus>(everPaidStatuses);
export const wasEverPaid = (status: OrderStatus): boolean => everPaid.has(status);

export interface TransitionOptions {
  actorId?: string | null;
  note?: string | null;
  /** Extra columns to set with the status (tracking number, carrier, ...). */
  set?: { trackingNumber?: string | null; carrier?: string | null; needsRefund?: boolean };
}

export interface TransitionResult {
  id: string;
  number: string;
  userId: string | null;
  email: string;
  from: OrderStatus;
  to: OrderStatus;
}

/**
 * Moves an order to `to` under its row lock (FOR UPDATE): validates the transition (else
 * InvalidTransitionError → 409 invalid_transition), sets the status and its timestamp (paid_at,
 * cancelled_at), writes an order_status_history row and enqueues `system.notify` order.status_changed for
 * the owner. Side effects that belong to a status (stock, coupons, refunds, mails) are the caller's,
 * in the same transaction: see cancelOrder, and the payments domain for `paid`.
 */
export async function transitionOrder(trx: Trx, orderId: string, to: OrderStatus, opts: TransitionOptions = {}): Promise<TransitionResult> {
  const order = await trx
    .selectFrom('orders')
    .select(['id', 'number', 'status', 'userId', 'email'])
    .where('id', '=', orderId)
    .forUpdate()
    .executeTakeFirst();
  if (!order) throw new NotFoundError('Order');
  const from = order.status;
  if (!canTransition(from, to)) throw new InvalidTransitionError(from, to);
  await trx
    .updateTable('orders')
    .set({
      status: to,
      ...(to === 'paid' ? { paidAt: sql`coalesce(paid_at, now())` } : {}),
      ...(to === 'cancelled' ? { cancelledAt: sql`now()` } : {}),
      ...(opts.set ?? {}),
    })
    .where('id', '=', orderId)
    .execute();
  await trx
    .insertInto('orderStatusHistory')
    .values({ orderId, fromStatus: from, toStatus: to, actorId: opts.actorId ?? null, note: opts.note ?? null })
    .execute();
  if (order.userId) {
    await enqueue(trx, 'system.notify', {
      type: 'order.status_changed',
      userId: order.userId,
      data: { orderId, number: order.number, from, to },
    });
    // In the app and by push; the order's own mails (confirmation, receipt, shipped, refund) stay receipts.
    await emitNotification(trx, {
      key: `order.status_changed:${orderId}:${from}:${to}`,
      kind: 'order.status_changed',
      userIds: [order.userId],
      title: `Order ${order.number}: ${to.replace(/_/g, ' ')}`,
      body: `Your order ${order.number} is now ${to.replace(/_/g, ' ')}.`,
      data: { orderId, number: order.number, from, to },
    });
  }
  return { id: order.id, number: order.number, userId: order.userId, email: order.email, from, to };
}
