import { sql } from 'kysely';
import type { Db, Trx } from '../db/index.js';
import { releaseCouponRedemption } from '../coupons/index.js';
import { reverseOrderSpend } from '../credit/tender.js';
import { releaseOrderReservation, restockOrderItems } from '../inventory/reservations.js';
import { InvalidTransitionError, NotFoundError } from '../errors.js';
import { enqueueMail } from '../mail/enqueue.js';
import { transitionOrder, type OrderStatus, type TransitionResult } from './state.js';

/** Mail template enqueued when staff mark an order shipped. */
export const ORDER_SHIPPED_TEMPLATE = 'order-shipped' as const;

/**
 * Cancels an order: the transition, then what cancelling means for the order and its stock. Unpaid: the
 * reservation, the coupon redemption and the store credit it spent (one `spend_reversal`) are given back. Paid or processing (staff only): the sold units go
 * back on the shelf and the order is flagged `needs_refund`. The money is the payments domain's: a route
 * cancels through `cancelOrderWithRefund` (shared/payments/order-status.ts), which calls this and then
 * refunds, so orders never call into payments while payments call the order state machine.
 *
 * `unpaidOnly` (the customer's own cancel) is decided here, under the order's row lock: a payment applied
 * a moment earlier (verify holds the same lock) makes it 409 `invalid_transition`, never a refund. A
 * status read before the lock proves nothing.
 */
export async function cancelOrder(
  trx: Trx,
  orderId: string,
  opts: { actorId?: string | null; note?: string; reason?: string; unpaidOnly?: boolean } = {},
): Promise<TransitionResult> {
  const current = await trx.selectFrom('orders').select(['status']).where('id', '=', orderId).forUpdate().executeTakeFirst();
  if (!current) throw new NotFoundError('Order');
  if (opts.unpaidOnly && current.status !== 'pending_payment') throw new InvalidTransitionError(current.status, 'cancelled');
  const wasPaid = current.status === 'paid' || current.status === 'processing';
  const result = await transitionOrder(trx, orderId, 'cancelled', {
    actorId: opts.actorId,
    note: opts.note,
    ...(wasPaid ? { set: { needsRefund: true } } : {}),
  });
  await releaseOrderReservation(trx, orderId, opts.reason ?? 'cancelled');
  await releaseCouponRedemption(trx, orderId);
  // Never paid: the credit it spent goes back now. (A paid order's credit comes back through its refund.)
  if (current.status === 'pending_payment') await reverseOrderSpend(trx, orderId, opts.reason === 'expired' ? 'expired' : 'cancelled');
  if (wasPaid) await restockOrderItems(trx, orderId, opts.actorId ?? null);
  return result;
}

/**
 * Expires one unpaid order whose reservation ran out, if it still is one: locked with SKIP LOCKED (a
 * payment being applied holds the lock and wins), cancelled with a history note, stock and coupon
 * released. Idempotent: returns false when there was nothing to do.
 */
export async function expireOrder(db: Db, orderId: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('orders')
      .select('id')
      .where('id', '=', orderId)
      .where('status', '=', 'pending_payment')
      .where('reservationReleasedAt', 'is', null)
      .where('reservationExpiresAt', '<', sql<Date>`now()`)
      .forUpdate()
      .skipLocked()
      .executeTakeFirst();
    if (!row) return false;
    await cancelOrder(trx, orderId, { note: 'reservation expired', reason: 'expired' });
    return true;
  });
}

export interface AdvanceInput {
  status: Extract<OrderStatus, 'processing' | 'shipped' | 'delivered'>;
  trackingNumber?: string;
  carrier?: string;
  note?: string;
}

/** Staff move an order along (a cancel goes through payments). `shipped` records tracking and enqueues the shipment email. */
export async function advanceOrder(trx: Trx, orderId: string, input: AdvanceInput, actorId: string): Promise<TransitionResult> {
  const set = {
    ...(input.trackingNumber !== undefined ? { trackingNumber: input.trackingNumber } : {}),
    ...(input.carrier !== undefined ? { carrier: input.carrier } : {}),
  };
  const result = await transitionOrder(trx, orderId, input.status, { actorId, note: input.note ?? null, set });
  if (input.status === 'shipped') {
    const order = await trx
      .selectFrom('orders')
      .select(['number', 'email', 'customerName', 'trackingNumber', 'carrier', 'shippingMethodName', 'shippingAddress'])
      .where('id', '=', orderId)
      .executeTakeFirstOrThrow();
    await enqueueMail(
      trx,
      null,
      ORDER_SHIPPED_TEMPLATE,
      order.email,
      {
        orderId,
        number: order.number,
        customerName: order.customerName,
        trackingNumber: order.trackingNumber,
        carrier: order.carrier,
        shippingMethod: order.shippingMethodName,
        shippingAddress: order.shippingAddress,
      },
      { orderLinkOf: orderId },
    );
  }
  return result;
}
