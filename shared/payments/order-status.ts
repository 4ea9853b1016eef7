import { writeAudit } from '../auth/audit.js';
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
  /** Staff cancelling someone else's order: audited as a staff mutation. */
  byStaff?: boolean;
}

/** The audit row of a staff status change, in its transaction (a cancel's refund writes its own). */
async function auditStatusChange(trx: Trx, actorId: string | null, result: TransitionResult, details: Record<string, unknown>) {
  await writeAudit(trx, {
    actorId,
    action: 'order.status_changed',
    targetType: 'order',
    targetId: result.id,
    before: { status: result.from },
    after: { status: result.to, ...details },
  });
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
  return db.transaction().execute(async (trx) => {
    const result = await cancelOrderWithRefund(trx, orderId, opts);
    if (opts.byStaff) await auditStatusChange(trx, opts.actorId ?? null, result, { note: opts.note });
    return result;
  });
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
  return db.transaction().execute(async (trx) => {
    const result =
      input.status === 'cancelled'
        ? await cancelOrderWithRefund(trx, orderId, {
            actorId,
            note: input.note ?? 'cancelled by staff',
            reason: 'cancelled_by_staff',
          })
        : await advanceOrder(trx, orderId, { ...input, status: input.status }, actorId);
    const { trackingNumber, carrier, note } = input;
    await auditStatusChange(trx, actorId, result, { trackingNumber, carrier, note });
    return result;
  });
}
