import { sql } from 'kysely';
import type { Db, DbOrTrx, Trx } from '../db/index.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { enqueue } from '../outbox.js';

/**
 * Refunds: money goes back only within what was paid. The order row lock serialises every decision that
 * depends on "how much is still refundable" (creating a refund, settling one), so concurrent requests
 * can never commit more than `amount_paid` in total. Lock order is always order → refund.
 */

/** Order states that hold a payment (cancelled: paid anyway, or cancelled by staff; refunded: 409 with nothing left). */
const REFUNDABLE_STATES = new Set([
  'paid',
  'processing',
  'shipped',
  'delivered',
  'partially_refunded',
  'refunded',
  'cancelled',
]);
/** Refund states that hold part of the paid amount. */
export const COMMITTED_REFUND_STATES = ['pending', 'processing', 'processed'] as const;

export interface RefundRequest {
  orderId: string;
  /** Kobo; default: everything not yet refunded or being refunded. */
  amount?: number;
  reason: string;
  restock?: boolean;
  actorId?: string;
}

export const refundColumns = [
  'refunds.id',
  'refunds.orderId',
  'refunds.amount',
  'refunds.currency',
  'refunds.reason',
  'refunds.restock',
  'refunds.status',
  'refunds.providerRefundId',
  'refunds.providerStatus',
  'refunds.failureReason',
  'refunds.createdAt',
  'refunds.settledAt',
] as const;

export type RefundRow = Awaited<ReturnType<typeof findRefund>>;

export async function findRefund(db: DbOrTrx, id: string) {
  return db.selectFrom('refunds').select(refundColumns).where('id', '=', id).executeTakeFirst();
}

export async function listRefundsOfOrder(db: DbOrTrx, orderId: string) {
  return db
    .selectFrom('refunds')
    .select(refundColumns)
    .where('orderId', '=', orderId)
    .orderBy('createdAt')
    .execute();
}

/** The API shape of a refund (timestamps as ISO strings, nothing internal). */
export function refundView(r: NonNullable<RefundRow>) {
  return {
    id: r.id,
    orderId: r.orderId,
    amount: r.amount,
    currency: r.currency,
    reason: r.reason,
    restock: r.restock,
    status: r.status,
    providerRefundId: r.providerRefundId === null ? null : String(r.providerRefundId),
    failureReason: r.failureReason,
    createdAt: new Date(r.createdAt).toISOString(),
    settledAt: r.settledAt ? new Date(r.settledAt).toISOString() : null,
  };
}
export type RefundView = ReturnType<typeof refundView>;

/** Sum of refunds that hold money (pending, processing, processed): read under the order lock. */
async function committedAmount(trx: Trx, orderId: string): Promise<number> {
  const row = await trx
    .selectFrom('refunds')
    .select(sql<number>`coalesce(sum(amount), 0)::int8`.as('total'))
    .where('orderId', '=', orderId)
    .where('status', 'in', COMMITTED_REFUND_STATES)
    .executeTakeFirstOrThrow();
  return row.total;
}

/**
 * Creates a `pending` refund and its `refund.execute` job in the caller's transaction. The order row is
 * locked first, so of N concurrent requests for the whole amount exactly one fits; the rest see
 * nothing left and get 409 `refund_exceeds_paid`.
 */
export async function createRefund(trx: Trx, req: RefundRequest): Promise<RefundView> {
  const order = await trx
    .selectFrom('orders')
    .select(['id', 'status', 'currency', 'amountPaid'])
    .where('id', '=', req.orderId)
    .forUpdate()
    .executeTakeFirst();
  if (!order) throw new NotFoundError('Order');
  if (!REFUNDABLE_STATES.has(order.status) || order.amountPaid <= 0) {
    throw new ConflictError(
      'order_not_refundable',
      `An order in status ${order.status} with nothing paid cannot be refunded`,
    );
  }
  const payment = await trx
    .selectFrom('payments')
    .select(['id'])
    .where('orderId', '=', order.id)
    .where('status', '=', 'success')
    .orderBy('paidAt', 'desc')
    .executeTakeFirst();
  if (!payment)
    throw new ConflictError('order_not_refundable', 'The order has no confirmed payment to refund');

  const remaining = order.amountPaid - (await committedAmount(trx, order.id));
  const amount = req.amount ?? remaining;
  if (remaining <= 0 || amount > remaining) {
    throw new ConflictError(
      'refund_exceeds_paid',
      `At most ${Math.max(remaining, 0)} can still be refunded`,
      {
        refundable: Math.max(remaining, 0),
        currency: order.currency,
      },
    );
  }
  const refund = await trx
    .insertInto('refunds')
    .values({
      orderId: order.id,
      paymentId: payment.id,
      amount,
      currency: order.currency,
      reason: req.reason,
      restock: req.restock ?? false,
      createdBy: req.actorId ?? null,
    })
    .returning(refundColumns)
    .executeTakeFirstOrThrow();
  await enqueue(trx, 'refund.execute', { refundId: refund.id });
  return refundView(refund);
}

/** How much of an order can still be refunded (paid minus pending, processing and processed refunds). */
export async function refundableAmount(db: Db, orderId: string): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const order = await trx
      .selectFrom('orders')
      .select('amountPaid')
      .where('id', '=', orderId)
      .executeTakeFirst();
    if (!order) throw new NotFoundError('Order');
    return order.amountPaid - (await committedAmount(trx, orderId));
  });
}

/** The Paystack calls a refund needs (the real client, or anything speaking the same shapes). */
export interface RefundGateway {
  createRefund(input: {
    transaction: string | number;
    amount?: number;
    currency?: string;
    merchantNote?: string;
  }): Promise<ProviderRefund>;
  fetchRefund(id: number | string): Promise<ProviderRefund | null>;
  listRefunds(input: { transaction: string | number }): Promise<ProviderRefund[]>;
}
export interface ProviderRefund {
  id: number;
  status: string;
  amount: number;
  currency: string;
}

/** An error the provider will answer the same way however often we ask (bad request, reversed, ...). */
const isFinalProviderError = (err: unknown) =>
  typeof err === 'object' && err !== null && 'retryable' in err && err.retryable === false;

const TERMINAL = new Set(['processed', 'failed']);

export type ExecuteResult =
  | { outcome: 'already_settled' }
  | { outcome: 'unknown_refund' }
  | { outcome: 'refused'; reason: string }
  | { outcome: 'created' | 'found' | 'polled'; providerRefundId: number; providerStatus: string };

/** Paystack's note on a refund we create: lets staff (and support) trace it back to our row. */
export const merchantNoteOf = (refundId: string) => `agape refund ${refundId}`;

/**
 * The `refund.execute` job: asks Paystack to refund EXACTLY once. Paystack has no idempotency key, so the
 * refund row is locked for the duration of the call (a second runner waits, then sees the provider id)
 * and, before creating anything, the transaction's existing refunds are listed: a refund of the same
 * amount that none of our rows has claimed can only be one our earlier, timed-out attempt created.
 * With a provider id recorded, later runs only poll its status. Settling (processed/failed) happens in
 * `settleRefund`, which the caller runs after this transaction when the status is final.
 */
export async function executeRefund(
  db: Db,
  gateway: RefundGateway,
  refundId: string,
): Promise<ExecuteResult> {
  return db.transaction().execute(async (trx): Promise<ExecuteResult> => {
    const refund = await trx
      .selectFrom('refunds')
      .innerJoin('payments', 'payments.id', 'refunds.paymentId')
      .select([
        'refunds.id',
        'refunds.amount',
        'refunds.currency',
        'refunds.status',
        'refunds.providerRefundId',
        'payments.reference',
        'payments.providerTransactionId',
      ])
      .where('refunds.id', '=', refundId)
      .forUpdate('refunds')
      .executeTakeFirst();
    if (!refund) return { outcome: 'unknown_refund' };
    if (TERMINAL.has(refund.status)) return { outcome: 'already_settled' };

    const record = async (
      provider: ProviderRefund,
      outcome: 'created' | 'found' | 'polled',
    ): Promise<ExecuteResult> => {
      await trx
        .updateTable('refunds')
        .set({ providerRefundId: provider.id, providerStatus: provider.status, status: 'processing' })
        .where('id', '=', refund.id)
        .execute();
      return { outcome, providerRefundId: provider.id, providerStatus: provider.status };
    };

    if (refund.providerRefundId !== null) {
      const provider = await gateway.fetchRefund(refund.providerRefundId);
      if (provider) return record(provider, 'polled');
    }

    const transaction = refund.providerTransactionId ?? refund.reference;
    const existing = await gateway.listRefunds({ transaction });
    const sameAmount = existing.filter((p) => p.amount === refund.amount);
    if (sameAmount.length) {
      const claimed = await trx
        .selectFrom('refunds')
        .select('providerRefundId')
        .where(
          'providerRefundId',
          'in',
          sameAmount.map((p) => p.id),
        )
        .where('id', '!=', refund.id)
        .execute();
      const taken = new Set(claimed.map((c) => c.providerRefundId));
      const ours = sameAmount.filter((p) => !taken.has(p.id)).sort((a, b) => a.id - b.id)[0];
      if (ours) return record(ours, 'found');
    }

    try {
      const created = await gateway.createRefund({
        transaction,
        amount: refund.amount,
        currency: refund.currency,
        merchantNote: merchantNoteOf(refund.id),
      });
      return record(created, 'created');
    } catch (err) {
      if (!isFinalProviderError(err)) throw err; // timeouts, 5xx, 429: the job retries (and lists first)
      return { outcome: 'refused', reason: err instanceof Error ? err.message : String(err) };
    }
  });
}

/**
 * Refunds whatever is still refundable (staff cancelling a paid order: "cancelled, with a refund").
 * Call inside the cancelling transaction; nothing is created when nothing is left. No restock here: the
 * cancellation already put the units back.
 */
export async function refundRemainder(
  trx: Trx,
  orderId: string,
  reason: string,
  actorId?: string | null,
): Promise<RefundView | null> {
  const order = await trx
    .selectFrom('orders')
    .select('amountPaid')
    .where('id', '=', orderId)
    .forUpdate()
    .executeTakeFirst();
  if (!order || order.amountPaid <= 0) return null;
  if (order.amountPaid - (await committedAmount(trx, orderId)) <= 0) return null;
  const paid = await trx
    .selectFrom('payments')
    .select('id')
    .where('orderId', '=', orderId)
    .where('status', '=', 'success')
    .executeTakeFirst();
  if (!paid) return null;
  return createRefund(trx, { orderId, reason, restock: false, actorId: actorId ?? undefined });
}
