import { sql } from 'kysely';
import type { Db, Trx } from '../db/index.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { everPaidStatuses, type OrderStatus } from '../orders/state.js';
import { COMMITTED_REFUND_STATES } from './refund-states.js';
import type { PaymentMethod } from './schemas.js';

/**
 * What an order can still give back, per payment: what Paystack verified was paid minus the refund parts
 * holding part of it. Callers that decide on it (creating a refund) hold the order's row lock.
 */

/** Order states that hold a payment (cancelled: paid anyway, or cancelled by staff; refunded: 409 with nothing left). */
const REFUNDABLE_STATES = new Set<OrderStatus>([...everPaidStatuses, 'cancelled']);

/** A payment of the order that holds money: applied (`success`) or flagged (`mismatch`, never applied). */
export interface Source {
  id: string;
  reference: string;
  status: string;
  /** `paystack`, or `store_credit`: the credit spent at checkout, refunded back as credit. */
  provider: PaymentMethod;
  currency: string;
  /** What Paystack verified was paid (or the credit spent). */
  paid: number;
  /** `paid` minus the parts holding (pending, processing, processed) part of it. */
  refundable: number;
}

/** The order's payments that hold money, each with what it can still give back, newest first. */
export async function refundSources(trx: Trx, orderId: string): Promise<Source[]> {
  const rows = await trx
    .selectFrom('payments')
    .leftJoin('refundParts', (j) =>
      j
        .onRef('refundParts.paymentId', '=', 'payments.id')
        .on('refundParts.status', 'in', COMMITTED_REFUND_STATES),
    )
    .select([
      'payments.id',
      'payments.reference',
      'payments.status',
      'payments.provider',
      sql<string>`coalesce(payments.paid_currency, payments.currency)`.as('currency'),
      sql<number>`coalesce(payments.paid_amount, payments.amount)`.as('paid'),
      sql<number>`coalesce(payments.paid_amount, payments.amount) - coalesce(sum(refund_parts.amount), 0)::int8`.as(
        'refundable',
      ),
    ])
    .where('payments.orderId', '=', orderId)
    .where('payments.status', 'in', ['success', 'mismatch'])
    .groupBy('payments.id')
    // The latest payment first: a second, unexpected payment is the one a partial refund usually returns.
    .orderBy(sql`payments.paid_at DESC NULLS LAST`)
    .orderBy('payments.createdAt', 'desc')
    .execute();
  return rows.map((r) => ({
    ...r,
    currency: r.currency.trim(),
    paid: Number(r.paid),
    refundable: Number(r.refundable),
  }));
}

/**
 * What the order's applied payments can still give back: each payment's own remainder, and never more
 * than the order's books hold (`amount_paid` minus what parts of applied payments hold).
 */
export function appliedRemaining(order: { amountPaid: number }, sources: readonly Source[]) {
  const applied = sources.filter((s) => s.status === 'success');
  const held = applied.reduce((sum, s) => sum + (s.paid - s.refundable), 0);
  return Math.min(
    applied.reduce((sum, s) => sum + Math.max(s.refundable, 0), 0),
    order.amountPaid - held,
  );
}

/** How much of an order's applied payments can still be refunded (paid minus pending, processing and processed parts). */
export async function refundableAmount(db: Db, orderId: string): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const order = await trx
      .selectFrom('orders')
      .select('amountPaid')
      .where('id', '=', orderId)
      .executeTakeFirst();
    if (!order) throw new NotFoundError('Order');
    return appliedRemaining(order, await refundSources(trx, orderId));
  });
}

export function assertOrderRefundable(
  order: { status: OrderStatus; amountPaid: number },
  flagged: readonly Source[],
) {
  if (REFUNDABLE_STATES.has(order.status) && order.amountPaid > 0) return;
  throw new ConflictError(
    'order_not_refundable',
    flagged.length
      ? `An order in status ${order.status} has no applied payment; a flagged payment is refunded by its paymentReference`
      : `An order in status ${order.status} with nothing paid cannot be refunded`,
    flagged.length
      ? {
          flaggedPayments: flagged.map((f) => ({
            reference: f.reference,
            refundable: f.refundable,
            currency: f.currency,
          })),
        }
      : {},
  );
}
