import { sql } from 'kysely';
import type { Db, Trx } from '../db/index.js';
import { PaystackError, type PaystackClient, type PaystackTransaction } from '../integrations/paystack/client.js';
import { creditTendered } from '../credit/tender.js';
import { formatMoney } from '../format.js';
import { wasEverPaid } from '../orders/state.js';
import { enqueuePaymentProblem, type PaymentProblemKind } from './notices.js';
import { markOrderPaid } from './paid.js';
import { refundRemainder } from './refund-request.js';
import type { DiscrepancyKind } from './schemas.js';

/**
 * The one path that gives value for a payment. The callback, the webhook, the on-demand verify endpoint
 * and reconciliation all come here; they may race, so "mark paid" is one transition decided under the
 * order's row lock from the state it finds (a second caller finds the payment already `success`).
 * Value is given only on Paystack's verify API's word: status success, this reference, the order's
 * currency and exactly the order's total less the store credit its checkout spent (a split tender).
 * Never on a webhook's amount.
 */

export type VerificationOutcome =
  /** This call marked the order paid. */
  | 'paid'
  /** An earlier call (or another path) already applied this payment. */
  | 'already_applied'
  /** Paystack says the payment is not (or not yet) successful. */
  | 'not_paid'
  /** Paid, but not the amount or currency of the order: the order stays unpaid, staff alerted. */
  | 'mismatch'
  /** Paid for an order that was cancelled or expired meanwhile: recorded, flagged for refund. */
  | 'paid_but_cancelled'
  /** Paid for an order already paid through another attempt: recorded, flagged for refund. */
  | 'paid_twice'
  /** No payment of ours has this reference. */
  | 'unknown_reference'
  /** Paystack does not know the reference (initialization never reached it). */
  | 'not_found';

export interface VerificationResult {
  outcome: VerificationOutcome;
  reference: string;
  orderId: string | null;
  orderStatus: string | null;
  paymentStatus: string | null;
  /** Paystack's status of the transaction, when it answered. */
  providerStatus: string | null;
}

export interface VerifyDeps {
  paystack: Pick<PaystackClient, 'verifyTransaction'>;
  publicUrl: string;
  /** Where the call came from, for the status history note. */
  source?: 'webhook' | 'verify' | 'reconciliation' | 'callback' | 'job' | 'expiry' | 'sweep';
}

/** Payment statuses Paystack's non-success answers move an unsettled payment to. */
const PROVIDER_FAILURE: Record<string, 'failed' | 'abandoned'> = { failed: 'failed', abandoned: 'abandoned' };
const UNSETTLED_STATUSES = ['initializing', 'initialized', 'init_failed', 'failed', 'abandoned'] as const;
const UNSETTLED = new Set<string>(UNSETTLED_STATUSES);

export async function applyVerification(
  db: Db,
  reference: string,
  deps: VerifyDeps,
): Promise<VerificationResult> {
  const known = await db
    .selectFrom('payments')
    .select(['id', 'orderId'])
    .where('reference', '=', reference)
    // A store-credit payment's reference is ours alone: Paystack has nothing to say about it.
    .where('provider', '=', 'paystack')
    .executeTakeFirst();
  if (!known)
    return {
      outcome: 'unknown_reference',
      reference,
      orderId: null,
      orderStatus: null,
      paymentStatus: null,
      providerStatus: null,
    };

  // The network call happens before the transaction: no row lock is held while Paystack is slow.
  let trx: PaystackTransaction | null;
  try {
    trx = await deps.paystack.verifyTransaction(reference);
  } catch (err) {
    // Paystack away: remember that this attempt still needs an answer, so the payments sweep asks again
    // (a customer's verify call has no retry of its own) and a long wait is reported to staff.
    if (err instanceof PaystackError && err.retryable) await markUnverified(db, known.id);
    throw err;
  }
  return db.transaction().execute((t) => applyVerifiedTransaction(t, known.orderId, reference, trx, deps));
}

/**
 * This attempt needs an answer from Paystack that it could not give (kept from the first failure). Only
 * while it is unsettled: a concurrent verify (webhook, sweep) may have just marked it paid, and the
 * UPDATE, waiting on that row, re-reads the status before it writes.
 */
export async function markUnverified(db: Db, paymentId: string) {
  await db
    .updateTable('payments')
    .set({ unverifiedSince: sql<Date>`coalesce(unverified_since, now())` })
    .where('id', '=', paymentId)
    .where('status', 'in', UNSETTLED_STATUSES)
    .execute();
}

/** Decides and applies the outcome for what Paystack said, under the order's lock. */
export async function applyVerifiedTransaction(
  trx: Trx,
  orderId: string,
  reference: string,
  tx: PaystackTransaction | null,
  deps: Pick<VerifyDeps, 'publicUrl' | 'source'>,
): Promise<VerificationResult> {
  const order = await trx
    .selectFrom('orders')
    .select(['id', 'number', 'status', 'userId', 'email', 'customerName', 'total', 'currency', 'amountPaid'])
    .where('id', '=', orderId)
    .forUpdate()
    .executeTakeFirstOrThrow();
  const payment = await trx
    .selectFrom('payments')
    .select(['id', 'status', 'amount', 'currency', 'unverifiedSince'])
    .where('reference', '=', reference)
    .forUpdate()
    .executeTakeFirstOrThrow();
  // Paystack answered: whatever it said, this attempt is no longer waiting for an answer.
  if (payment.unverifiedSince)
    await trx.updateTable('payments').set({ unverifiedSince: null }).where('id', '=', payment.id).execute();
  const result = (
    outcome: VerificationOutcome,
    orderStatus = order.status,
    paymentStatus = payment.status,
  ): VerificationResult => ({
    outcome,
    reference,
    orderId: order.id,
    orderStatus,
    paymentStatus,
    providerStatus: tx?.status ?? null,
  });

  if (!tx) return result('not_found');
  if (tx.reference !== reference)
    throw new Error(`Paystack answered reference ${tx.reference} for ${reference}`);

  if (tx.status !== 'success') {
    const next = PROVIDER_FAILURE[tx.status];
    if (next && UNSETTLED.has(payment.status) && payment.status !== next) {
      await trx
        .updateTable('payments')
        .set({ status: next, providerTransactionId: tx.id })
        .where('id', '=', payment.id)
        .execute();
      return result('not_paid', order.status, next);
    }
    return result('not_paid');
  }

  // Already applied (by a racing path, or an earlier run of this job): nothing to do, by design.
  if (payment.status === 'success') return result('already_applied');

  const actual = { amount: tx.amount, currency: tx.currency, status: tx.status };
  // The tender split is fixed at checkout: Paystack owes the total less the credit spent, even after that
  // credit went back with a cancel (the late payment is then money to return, not a wrong amount).
  const credit = await creditTendered(trx, order.id);
  const expected = { amount: order.total - credit.tendered, currency: order.currency };
  const paidFields = {
    providerTransactionId: tx.id,
    paidAmount: tx.amount,
    paidCurrency: tx.currency,
    paidAt: tx.paidAt ? new Date(tx.paidAt) : new Date(),
    lastError: null,
  };

  const mismatch: PaymentProblemKind | null =
    tx.currency !== order.currency
      ? 'currency_mismatch'
      : tx.amount !== expected.amount
        ? 'amount_mismatch'
        : null;
  if (mismatch) {
    if (payment.status === 'mismatch') return result('mismatch');
    await trx
      .updateTable('payments')
      .set({ status: 'mismatch', ...paidFields })
      .where('id', '=', payment.id)
      .execute();
    await recordProblem(trx, mismatch, order, reference, expected, actual, deps.publicUrl);
    return result('mismatch', order.status, 'mismatch');
  }

  await trx
    .updateTable('payments')
    .set({ status: 'success', ...paidFields })
    .where('id', '=', payment.id)
    .execute();

  if (order.status === 'pending_payment') {
    await markOrderPaid(trx, order, {
      amount: tx.amount + credit.held,
      paidAt: paidFields.paidAt,
      note: `Paystack verified ${tx.currency} ${tx.amount} (${reference}) via ${deps.source ?? 'verify'}${credit.held ? `; ${credit.held} paid with store credit` : ''}`,
    });
    return result('paid', 'paid', 'success');
  }

  // The money arrived but the order cannot take it: keep it on the books and flag it for refund.
  const kind = wasEverPaid(order.status) ? 'paid_twice' : 'paid_but_cancelled';
  await trx
    .updateTable('orders')
    .set((eb) => ({
      needsRefund: true,
      amountPaid: eb('amountPaid', '+', tx.amount),
      paidAt: sql`coalesce(paid_at, ${paidFields.paidAt})`,
    }))
    .where('id', '=', order.id)
    .execute();
  // A cancelled order keeps nothing: give the money back now, in this transaction. Once: the payment
  // became `success` above under its row lock, so any later verification finds it already applied.
  // (Paid twice stays with staff: which of the two payments to return is theirs to decide.)
  const refund =
    kind === 'paid_but_cancelled'
      ? await refundRemainder(trx, order.id, 'paid after the order was cancelled: refunded automatically')
      : null;
  await recordProblem(trx, kind, order, reference, expected, actual, deps.publicUrl, {
    detail: refund
      ? `Refunded automatically: refund ${refund.id} of ${formatMoney(refund.amount, refund.currency)} is on its way to the customer.`
      : undefined,
  });
  return result(kind, order.status, 'success');
}

/** One unresolved discrepancy per (kind, reference), and one staff alert per reference and problem. */
export async function recordProblem(
  trx: Trx,
  kind: DiscrepancyKind | 'paid_twice',
  order: { id: string; number: string },
  reference: string,
  expected: { amount: number; currency: string } | null,
  actual: { amount: number; currency: string; status?: string } | null,
  publicUrl: string,
  more: { runId?: string; detail?: string } = {},
) {
  const { runId, detail } = more;
  // 'paid_twice' has no discrepancy kind of its own in the schema: the flag and the alert carry it.
  const dbKind = kind === 'paid_twice' ? null : kind;
  if (dbKind) {
    const inserted = await trx
      .insertInto('paymentDiscrepancies')
      .values({
        kind: dbKind,
        orderId: order.id,
        reference,
        expected: expected ? JSON.stringify(expected) : null,
        actual: actual ? JSON.stringify(actual) : null,
        runId: runId ?? null,
      })
      .onConflict((oc) => oc.columns(['kind', 'reference']).where('resolvedAt', 'is', null).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) return false;
  }
  return enqueuePaymentProblem(
    trx,
    { kind, reference, orderId: order.id, orderNumber: order.number, expected, actual, ...(detail ? { detail } : {}) },
    publicUrl,
  );
}
