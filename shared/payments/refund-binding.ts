import { sql } from 'kysely';
import type { Trx } from '../db/index.js';

/**
 * How one of our refund parts is tied to Paystack's refund: by id once Paystack answers the create call,
 * or, after a lost answer, by our refund id in the refund's `merchant_note` (never by amount). Executing
 * and settling both bind under the same locks (refund, then part).
 */

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
  merchantNote?: string | null;
}

/** Paystack's note on a refund we create: our refund id, how a refund whose create answer was lost is found again. */
export const merchantNoteOf = (refundId: string) => `agape refund ${refundId}`;

/**
 * The provider refund a part of `refundId` made on one transaction: the one carrying our note. A refund
 * has at most one part per payment (UNIQUE (refund_id, payment_id)), so note + transaction name exactly
 * one part. Never matched by amount: a refund of the same amount may be anyone's.
 */
export function ownProviderRefund<P extends ProviderRefund>(
  listed: readonly P[],
  refundId: string,
): P | undefined {
  const note = merchantNoteOf(refundId);
  return listed.filter((p) => p.merchantNote === note).sort((a, b) => a.id - b.id)[0];
}

/**
 * Binds a part to its provider refund (the UNIQUE constraint refuses a provider refund already bound to
 * another part) and records Paystack's status. Call with the refund and part rows locked.
 */
export async function bindPart(trx: Trx, refundId: string, partId: string, provider: ProviderRefund) {
  await trx
    .updateTable('refundParts')
    .set({
      providerRefundId: provider.id,
      providerStatus: provider.status,
      status: 'processing',
      createUncertainSince: null,
    })
    .where('id', '=', partId)
    .execute();
  await trx
    .updateTable('refunds')
    .set({ status: 'processing' })
    .where('id', '=', refundId)
    .where('status', '=', 'pending')
    .execute();
}

/** Locks a refund, then one of its parts (the order every refund path takes after the order's lock). */
export async function lockPart(trx: Trx, refundId: string, partId: string) {
  const refund = await trx
    .selectFrom('refunds')
    .select('id')
    .where('id', '=', refundId)
    .forUpdate()
    .executeTakeFirst();
  if (!refund) return undefined;
  return trx
    .selectFrom('refundParts')
    .innerJoin('payments', 'payments.id', 'refundParts.paymentId')
    .select([
      'refundParts.id',
      'refundParts.amount',
      'refundParts.currency',
      'refundParts.status',
      'refundParts.providerRefundId',
      'payments.reference',
      'payments.providerTransactionId',
      // Milliseconds since a create call for this part went unanswered (null: none did, or it was settled since).
      sql<
        number | null
      >`(extract(epoch from clock_timestamp() - refund_parts.create_uncertain_since) * 1000)::float8`.as(
        'uncertainForMs',
      ),
    ])
    .where('refundParts.id', '=', partId)
    .where('refundParts.refundId', '=', refundId)
    .forUpdate('refundParts')
    .executeTakeFirst();
}
