import type { Db, Trx } from '../db/index.js';
import { advanceOrder, cancelOrder, type AdvanceInput } from '../orders/lifecycle.js';
import type { TransitionResult } from '../orders/state.js';
import { refundRemainder } from './refund-request.js';

/**
 * Order status changes that may give money back. Cancelling a paid order refunds it, so these use cases
 * sit in payments, above the orders state machine: orders never import payments.
 */

/** States whose cancel puts the order's money back through the refund flow. */
const REFUNDED_ON_CANCEL = new Set<string>(['paid', 'processing']);

export interface CancelOptions {
  actorId?: string | null;
  note?: string;
  reason?: string;
  /** The customer's own cancel: 409 `invalid_transition` once paid (decided under the order lock). */
  unpaidOnly?: boolean;
}

/**
 * "Cancelled, with a refund": the order's cancel (stock, coupon, needs_refund), then whatever is still
 * refundable goes back through the refund flow (pending → Paystack → settled), in the caller's transaction.
 */
export async function cancelOrderWithRefund(
  trx: Trx,
  orderId: string,
  opts: CancelOptions = {},
): Promise<TransitionResult> {
  const result = await cancelOrder(trx, orderId, opts);
  if (REFUNDED_ON_CANCEL.has(result.from))
    await refundRemainder(trx, orderId, opts.note ?? 'order cancelled', opts.actorId);
  return result;
}

/** POST /orders/:id/cancel: one transaction. */
export async function requestOrderCancel(
  db: Db,
  orderId: string,
  opts: CancelOptions,
): Promise<TransitionResult> {
  return db.transaction().execute((trx) => cancelOrderWithRefund(trx, orderId, opts));
}

export interface StaffStatusInput {
  status: AdvanceInput['status'] | 'cancelled';
  trackingNumber?: string;
  carrier?: string;
  note?: string;
}

/** PATCH /admin/orders/:id/status: one transaction; a cancel refunds what was paid. */
export async function setOrderStatusByStaff(
  db: Db,
  orderId: string,
  input: StaffStatusInput,
  actorId: string,
): Promise<TransitionResult> {
  return db.transaction().execute((trx) => {
    if (input.status === 'cancelled')
      return cancelOrderWithRefund(trx, orderId, {
        actorId,
        note: input.note ?? 'cancelled by staff',
        reason: 'cancelled_by_staff',
      });
    return advanceOrder(trx, orderId, { ...input, status: input.status }, actorId);
  });
}
