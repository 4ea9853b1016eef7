import { sql } from 'kysely';
import type { Db, Trx } from '../db/index.js';
import { restockOrderItems } from '../inventory/reservations.js';
import { transitionOrder } from '../orders/state.js';
import { enqueue } from '../outbox.js';

/**
 * Settling a refund: the one place where a provider's final word (a `refund.processed` / `refund.failed`
 * webhook, or the status read by polling `GET /refund/:id`) changes our books. Idempotent: a refund
 * already `processed` or `failed` is left alone, so replays and webhook-vs-poll races change nothing.
 */

export type RefundOutcome = 'processed' | 'failed';

export interface ProviderRefundInfo {
  providerRefundId?: number | null;
  providerStatus?: string;
  failureReason?: string;
}

export type SettleResult = 'settled' | 'already_settled' | 'unknown_refund' | 'updated' | 'ignored';

/** Emails of the people who act on payment problems and stock alerts. */
export async function staffEmails(db: Db | Trx): Promise<string[]> {
  const rows = await db
    .selectFrom('users')
    .select('email')
    .where('role', 'in', ['manager', 'admin'])
    .where('disabledAt', 'is', null)
    .orderBy('createdAt')
    .limit(20)
    .execute();
  return rows.map((r) => r.email);
}

/**
 * Applies a provider's final refund status under the order lock (then the refund's). Processed: the
 * order's `amount_refunded` grows, the order becomes `refunded` or `partially_refunded`, items go back
 * to stock when asked, and the customer is mailed. Failed: the amount is released and staff alerted.
 */
export async function settleRefund(
  trx: Trx,
  refundId: string,
  outcome: RefundOutcome,
  info: ProviderRefundInfo = {},
): Promise<SettleResult> {
  const orderRef = await trx
    .selectFrom('refunds')
    .select('orderId')
    .where('id', '=', refundId)
    .executeTakeFirst();
  if (!orderRef) return 'unknown_refund';
  const order = await trx
    .selectFrom('orders')
    .select([
      'id',
      'number',
      'status',
      'userId',
      'email',
      'customerName',
      'amountPaid',
      'amountRefunded',
      'currency',
    ])
    .where('id', '=', orderRef.orderId)
    .forUpdate()
    .executeTakeFirstOrThrow();
  const refund = await trx
    .selectFrom('refunds')
    .selectAll()
    .where('id', '=', refundId)
    .forUpdate()
    .executeTakeFirstOrThrow();
  if (refund.status === 'processed' || refund.status === 'failed') return 'already_settled';

  await trx
    .updateTable('refunds')
    .set({
      status: outcome,
      settledAt: new Date(),
      providerStatus: info.providerStatus ?? outcome,
      ...(info.providerRefundId ? { providerRefundId: info.providerRefundId } : {}),
      ...(outcome === 'failed'
        ? { failureReason: info.failureReason ?? 'refused by the payment provider' }
        : {}),
    })
    .where('id', '=', refund.id)
    .execute();

  const money = { amount: refund.amount, currency: refund.currency };
  if (outcome === 'failed') {
    for (const to of await staffEmails(trx)) {
      await enqueue(trx, 'email.send', {
        template: 'payment-problem',
        to,
        data: {
          kind: 'refund_failed',
          orderId: order.id,
          orderNumber: order.number,
          refundId: refund.id,
          ...money,
          detail: info.failureReason ?? 'The payment provider refused the refund',
        },
      });
    }
    await enqueue(trx, 'system.notify', {
      type: 'payment.problem',
      staff: true,
      data: {
        kind: 'refund_failed',
        orderId: order.id,
        orderNumber: order.number,
        refundId: refund.id,
        ...money,
      },
    });
    return 'settled';
  }

  const amountRefunded = order.amountRefunded + refund.amount;
  await trx.updateTable('orders').set({ amountRefunded }).where('id', '=', order.id).execute();
  // A cancelled order that was paid anyway keeps its status; the refund just clears the flag.
  if (order.status === 'cancelled') {
    if (amountRefunded >= order.amountPaid) {
      await trx.updateTable('orders').set({ needsRefund: false }).where('id', '=', order.id).execute();
    }
  } else {
    const to = amountRefunded >= order.amountPaid ? 'refunded' : 'partially_refunded';
    // A further partial refund of a partially refunded order needs no transition.
    if (to !== order.status) {
      await transitionOrder(trx, order.id, to, {
        actorId: refund.createdBy,
        note: `refund ${refund.id} processed`,
      });
    }
  }
  // Once per order (the inventory ledger says whether it was sold and not yet restocked).
  if (refund.restock) await restockOrderItems(trx, order.id, refund.createdBy);
  await enqueue(trx, 'email.send', {
    template: 'refund',
    to: order.email,
    data: {
      name: order.customerName ?? '',
      orderId: order.id,
      orderNumber: order.number,
      ...money,
      reason: refund.reason,
      fullyRefunded: amountRefunded >= order.amountPaid,
    },
  });
  return 'settled';
}

/** A stored Paystack refund webhook: `{event, data}` exactly as received. */
export interface RefundWebhookEvent {
  event: string;
  data: Record<string, unknown>;
}

const asNumber = (v: unknown): number | undefined => {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) ? n : undefined;
};

/**
 * Finds our refund for a Paystack refund event. Paystack's refund events carry no refund id (bar
 * needs-attention): match the provider id when present, else the transaction reference and the amount,
 * taking the oldest unsettled refund of that amount.
 */
async function matchRefund(trx: Trx, data: Record<string, unknown>) {
  const providerId = asNumber(data.id) ?? asNumber(data.refund_id) ?? asNumber(data.refundId);
  if (providerId !== undefined) {
    const byId = await trx
      .selectFrom('refunds')
      .select(['id', 'status'])
      .where('providerRefundId', '=', providerId)
      .executeTakeFirst();
    if (byId) return byId;
  }
  // Stored events come back through Kysely's CamelCasePlugin, which camel-cases JSON keys too.
  const ref = data.transaction_reference ?? data.transactionReference;
  const reference = typeof ref === 'string' ? ref : undefined;
  const amount = asNumber(data.amount);
  if (!reference || amount === undefined) return undefined;
  const candidates = await trx
    .selectFrom('refunds')
    .innerJoin('payments', 'payments.id', 'refunds.paymentId')
    .select(['refunds.id', 'refunds.status'])
    .where('payments.reference', '=', reference)
    .where('refunds.amount', '=', amount)
    .orderBy(sql`refunds.status IN ('pending', 'processing')`, 'desc')
    .orderBy('refunds.createdAt')
    .execute();
  return candidates[0];
}

/**
 * Entry point for the payment processor's `refund.*` webhook events. `refund.processed` and
 * `refund.failed` settle; `refund.pending|processing` only record the provider's status.
 * Unknown refunds are ignored (every transaction of the integration sends events).
 */
export async function settleRefundFromWebhook(db: Db, event: RefundWebhookEvent): Promise<SettleResult> {
  return db.transaction().execute(async (trx) => {
    const match = await matchRefund(trx, event.data);
    if (!match) return 'unknown_refund';
    const providerStatus =
      typeof event.data.status === 'string' ? event.data.status : event.event.replace('refund.', '');
    if (event.event === 'refund.processed' || event.event === 'refund.failed') {
      return settleRefund(trx, match.id, event.event === 'refund.processed' ? 'processed' : 'failed', {
        providerStatus,
        failureReason: event.event === 'refund.failed' ? 'Paystack reported the refund as failed' : undefined,
      });
    }
    if (match.status === 'pending' || match.status === 'processing') {
      await trx
        .updateTable('refunds')
        .set({ status: 'processing', providerStatus })
        .where('id', '=', match.id)
        .execute();
      return 'updated';
    }
    return 'ignored';
  });
}
