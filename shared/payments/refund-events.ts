import type { Db, Trx } from '../db/index.js';
import { restockUnits } from '../inventory/reservations.js';
import { transitionOrder } from '../orders/state.js';
import { enqueueMail } from '../mail/enqueue.js';
import { enqueue } from '../outbox.js';
import { bindPart, lockPart, ownProviderRefund, type ProviderRefund, type RefundGateway } from './refund-binding.js';
import { isFinalRefundStatus } from './refund-states.js';

/**
 * Settling a refund: the one place where a provider's final word about one of our provider refunds
 * (read from Paystack after a webhook, or by polling `GET /refund/:id`) changes our books. A part settles
 * only through the provider refund it is bound to; the refund settles when its last part does.
 * Idempotent: a part already `processed` or `failed` is left alone, so replays and webhook-vs-poll races
 * change nothing.
 */

export type RefundOutcome = 'processed' | 'failed';

/** The provider status of a part paid back as store credit (settled at once, no Paystack refund). */
export const CREDIT_PROVIDER_STATUS = 'store_credit';

export interface ProviderRefundInfo {
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
 * Applies a provider's final status to one part under the order lock (then the refund's, then the
 * part's). Processed, from an applied payment: the order's `amount_refunded` grows and the order becomes
 * `refunded` or `partially_refunded` (a flagged payment was never in the order's books, so they stay).
 * Failed: the part's amount is released and staff alerted. When the refund's last part settles, the
 * refund settles: `processed` if every part was, else `failed`; the customer is mailed what came back,
 * and a fully processed refund with `restock` puts its units back (the named items, or every line).
 */
export async function settleRefundPart(
  trx: Trx,
  partId: string,
  outcome: RefundOutcome,
  info: ProviderRefundInfo = {},
): Promise<SettleResult> {
  const ref = await trx
    .selectFrom('refundParts')
    .innerJoin('refunds', 'refunds.id', 'refundParts.refundId')
    .select(['refunds.orderId', 'refunds.id as refundId'])
    .where('refundParts.id', '=', partId)
    .executeTakeFirst();
  if (!ref) return 'unknown_refund';
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
    .where('id', '=', ref.orderId)
    .forUpdate()
    .executeTakeFirstOrThrow();
  const refund = await trx
    .selectFrom('refunds')
    .selectAll()
    .where('id', '=', ref.refundId)
    .forUpdate()
    .executeTakeFirstOrThrow();
  const part = await trx
    .selectFrom('refundParts')
    .innerJoin('payments', 'payments.id', 'refundParts.paymentId')
    .select([
      'refundParts.id',
      'refundParts.amount',
      'refundParts.currency',
      'refundParts.status',
      'payments.status as paymentStatus',
    ])
    .where('refundParts.id', '=', partId)
    .forUpdate('refundParts')
    .executeTakeFirstOrThrow();
  if (isFinalRefundStatus(part.status)) return 'already_settled';

  const failureReason = info.failureReason ?? 'refused by the payment provider';
  await trx
    .updateTable('refundParts')
    .set({
      status: outcome,
      settledAt: new Date(),
      providerStatus: info.providerStatus ?? outcome,
      ...(outcome === 'failed' ? { failureReason } : {}),
    })
    .where('id', '=', part.id)
    .execute();

  const money = { amount: part.amount, currency: part.currency };
  let amountRefunded = order.amountRefunded;
  if (outcome === 'failed') {
    for (const to of await staffEmails(trx)) {
      await enqueueMail(trx, null, 'payment-problem', to, {
        kind: 'refund_failed',
        orderId: order.id,
        orderNumber: order.number,
        refundId: refund.id,
        ...money,
        detail: info.failureReason ?? 'The payment provider refused the refund',
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
  } else if (part.paymentStatus === 'success') {
    amountRefunded = order.amountRefunded + part.amount;
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
  }

  const parts = await trx
    .selectFrom('refundParts')
    .select(['status', 'amount', 'failureReason', 'providerStatus'])
    .where('refundId', '=', refund.id)
    .execute();
  if (!parts.every((p) => isFinalRefundStatus(p.status))) {
    if (refund.status === 'pending') {
      await trx.updateTable('refunds').set({ status: 'processing' }).where('id', '=', refund.id).execute();
    }
    return 'settled';
  }

  const processed = parts.filter((p) => p.status === 'processed');
  const allProcessed = processed.length === parts.length;
  await trx
    .updateTable('refunds')
    .set({
      status: allProcessed ? 'processed' : 'failed',
      settledAt: new Date(),
      failureReason: allProcessed
        ? null
        : (parts.find((p) => p.status === 'failed')?.failureReason ?? failureReason),
    })
    .where('id', '=', refund.id)
    .execute();
  if (allProcessed && refund.restock) {
    const items = await trx
      .selectFrom('refundItems')
      .select(['orderItemId', 'quantity'])
      .where('refundId', '=', refund.id)
      .execute();
    // No items named: the refund was full (checked when it was made), so every line goes back.
    await restockUnits(trx, order.id, items.length ? items : 'all', refund.createdBy);
  }
  // A return's refund: the return completes (or shows the failure) in its own job, under its own lock.
  if (refund.returnId) await enqueue(trx, 'refund.return-settled', { refundId: refund.id, returnId: refund.returnId });
  const returned = processed.reduce((sum, p) => sum + p.amount, 0);
  const asCredit = processed.reduce((sum, p) => sum + (p.providerStatus === CREDIT_PROVIDER_STATUS ? p.amount : 0), 0);
  if (returned > 0) {
    await enqueueMail(trx, null, 'refund', order.email, {
      name: order.customerName ?? '',
      orderId: order.id,
      orderNumber: order.number,
      amount: returned,
      currency: refund.currency,
      reason: refund.reason,
      fullyRefunded: order.amountPaid > 0 && amountRefunded >= order.amountPaid,
      ...(asCredit ? { storeCredit: asCredit } : {}),
    });
  }
  return 'settled';
}

/** A stored Paystack refund webhook: `{event, data}` exactly as received. */
export interface RefundWebhookEvent {
  event: string;
  data: Record<string, unknown>;
}

/**
 * A Paystack refund event is only a signal: it names the transaction, not the refund (no refund id, and
 * amounts repeat), so it cannot say which of our refunds it is about. The transaction's refunds are read
 * from Paystack (`GET /refund?transaction=`) and each open part of ours on that payment moves only by
 * the provider refund it is bound to. A part not bound yet (its create answer is late or was lost) is
 * bound first by our note on the provider refund, under the same locks the refund job takes, so a job
 * still waiting for its answer finishes first. Unknown transactions are ignored (every transaction of
 * the integration sends events).
 */
export async function handleRefundEvent(
  db: Db,
  gateway: Pick<RefundGateway, 'listRefunds'>,
  event: RefundWebhookEvent,
): Promise<SettleResult> {
  const reference = event.data.transaction_reference;
  if (typeof reference !== 'string' || !reference) return 'unknown_refund';
  const payment = await db
    .selectFrom('payments')
    .select(['id', 'reference', 'providerTransactionId'])
    .where('reference', '=', reference)
    .executeTakeFirst();
  if (!payment) return 'unknown_refund';
  const openParts = () =>
    db
      .selectFrom('refundParts')
      .select(['id', 'refundId', 'providerRefundId'])
      .where('paymentId', '=', payment.id)
      .where('status', 'in', ['pending', 'processing'])
      .orderBy('createdAt')
      .execute();
  const open = await openParts();
  if (!open.length) return 'ignored';

  // The network call happens before any transaction: no row lock is held while Paystack is slow.
  const listed = await gateway.listRefunds({
    transaction: payment.providerTransactionId ?? payment.reference,
  });
  let result: SettleResult = 'ignored';
  for (const part of open.filter((p) => p.providerRefundId === null)) {
    const own = ownProviderRefund(listed, part.refundId);
    if (!own) continue; // not at Paystack yet: its job creates it
    await db.transaction().execute(async (trx) => {
      const locked = await lockPart(trx, part.refundId, part.id);
      if (!locked || locked.providerRefundId !== null || isFinalRefundStatus(locked.status)) return;
      await bindPart(trx, part.refundId, part.id, own);
      result = 'updated';
    });
  }

  const byId = new Map<number, ProviderRefund>(listed.map((p) => [p.id, p]));
  for (const part of await openParts()) {
    const provider = part.providerRefundId === null ? undefined : byId.get(part.providerRefundId);
    if (!provider) continue;
    if (provider.status === 'processed' || provider.status === 'failed') {
      const outcome = provider.status;
      const settled = await db.transaction().execute((trx) =>
        settleRefundPart(trx, part.id, outcome, {
          providerStatus: outcome,
          failureReason: outcome === 'failed' ? 'Paystack reported the refund as failed' : undefined,
        }),
      );
      if (settled === 'settled') result = 'settled';
    } else {
      const updated = await db
        .updateTable('refundParts')
        .set({ status: 'processing', providerStatus: provider.status })
        .where('id', '=', part.id)
        .where('status', 'in', ['pending', 'processing'])
        .where('providerStatus', 'is distinct from', provider.status)
        .executeTakeFirst();
      if (updated.numUpdatedRows > 0n && result === 'ignored') result = 'updated';
    }
  }
  return result;
}
