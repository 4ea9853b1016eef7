import { sql } from 'kysely';
import type { Db } from '../../shared/db/index.js';
import { settleRefundPart } from '../../shared/payments/refund-events.js';
import { createRefund } from '../../shared/payments/refund-request.js';
import { applyVerifiedTransaction } from '../../shared/payments/verify.js';
import { createPendingOrder, type PendingOrderOptions } from '../support/payment-fixtures.js';

let txId = 5_000_000;

/**
 * Pays a pending order through the production verify transaction, with Paystack's `paid_at` as given (the
 * instant the report must place it by).
 */
export async function payOrder(
  db: Db,
  order: { orderId: string; reference: string; total: number; currency: string },
  paidAt: string,
) {
  return db.transaction().execute((trx) =>
    applyVerifiedTransaction(
      trx,
      order.orderId,
      order.reference,
      {
        id: txId++,
        status: 'success',
        reference: order.reference,
        amount: order.total,
        requestedAmount: order.total,
        currency: order.currency,
        paidAt,
        createdAt: paidAt,
        channel: 'card',
        gatewayResponse: 'Approved',
        customerEmail: null,
      },
      { publicUrl: 'http://shop.test', source: 'verify' },
    ),
  );
}

export async function paidOrder(db: Db, paidAt: string, opts: PendingOrderOptions = {}) {
  const order = await createPendingOrder(db, opts);
  const result = await payOrder(db, order, paidAt);
  if (result.outcome !== 'paid') throw new Error(`fixture: order not paid (${result.outcome})`);
  return order;
}

/**
 * Refunds through the production paths (createRefund, then Paystack's "processed" applied by
 * settleRefundPart); `settledAt` moves the instant it succeeded, as if Paystack had answered then.
 */
export async function refundOrder(
  db: Db,
  orderId: string,
  amount: number,
  settledAt?: string,
  actorId?: string,
) {
  const refund = await db
    .transaction()
    .execute((trx) =>
      createRefund(trx, { orderId, amount, reason: 'test', ...(actorId ? { actorId } : {}) }),
    );
  await db.transaction().execute(async (trx) => {
    for (const part of refund.parts) await settleRefundPart(trx, part.id, 'processed');
  });
  if (settledAt) {
    await db
      .updateTable('refundParts')
      .set({ settledAt: new Date(settledAt) })
      .where('refundId', '=', refund.id)
      .execute();
    await db
      .updateTable('refunds')
      .set({ settledAt: new Date(settledAt) })
      .where('id', '=', refund.id)
      .execute();
  }
  return refund;
}

/** The payment ledger itself, summed without the rollup: what every report must agree with. */
export async function ledger(db: Db, fromInstant: string, toInstant: string) {
  const { rows } = await sql<{ paid: number; refunded: number; orders: number }>`
    SELECT
      (SELECT coalesce(sum(paid_amount), 0)::bigint FROM payments
        WHERE status = 'success' AND paid_at >= ${fromInstant}::timestamptz AND paid_at < ${toInstant}::timestamptz) AS paid,
      (SELECT coalesce(sum(rp.amount), 0)::bigint FROM refund_parts rp JOIN payments p ON p.id = rp.payment_id AND p.status = 'success'
        WHERE rp.status = 'processed' AND rp.settled_at >= ${fromInstant}::timestamptz AND rp.settled_at < ${toInstant}::timestamptz) AS refunded,
      (SELECT count(*)::bigint FROM orders WHERE paid_at >= ${fromInstant}::timestamptz AND paid_at < ${toInstant}::timestamptz) AS orders
  `.execute(db);
  return rows[0];
}
