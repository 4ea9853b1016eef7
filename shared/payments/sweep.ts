import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import { enqueuePaymentProblem } from './notices.js';
import { HANDLED_EVENTS } from './webhooks.js';

/**
 * The payments sweep: what an outage can leave behind, found in the database (the source of truth) so
 * it is re-driven without anyone's help, and reported when it has been stuck too long. The worker's
 * `payment.sweep` job (a BullMQ job scheduler, every PAYMENT_SWEEP_MS) turns these lists into jobs.
 *  - refunds still `pending` (Paystack never accepted them) or `processing` (accepted, not settled);
 *  - payment attempts whose verification could not reach Paystack (`payments.unverified_since`): a
 *    customer's verify call, or the expiry's check, has no retry of its own;
 *  - stored webhook events not handled yet (their job lost, or out of attempts).
 * Everything here is read-only but the alerts, which are deduplicated (notices.ts).
 */

export interface SweepQuery {
  /** Leave alone what changed more recently than this (its own job is likely still on it). */
  quietMs: number;
  limit?: number;
}

/** Unsettled refunds not touched for `quietMs`, oldest first. */
export async function refundsToRedrive(db: Db, q: SweepQuery): Promise<string[]> {
  const rows = await db
    .selectFrom('refunds')
    .select('id')
    .where('status', 'in', ['pending', 'processing'])
    .where('updatedAt', '<', sql<Date>`now() - make_interval(secs => ${q.quietMs / 1000})`)
    .orderBy('updatedAt')
    .limit(q.limit ?? 500)
    .execute();
  return rows.map((r) => r.id);
}

/** References of payment attempts waiting for an answer Paystack could not give. */
export async function paymentsToReverify(db: Db, q: SweepQuery): Promise<string[]> {
  const rows = await db
    .selectFrom('payments')
    .select('reference')
    .where('unverifiedSince', '<', sql<Date>`now() - make_interval(secs => ${q.quietMs / 1000})`)
    .orderBy('unverifiedSince')
    .limit(q.limit ?? 500)
    .execute();
  return rows.map((r) => r.reference);
}

/** Stored webhook events we act on that are still unhandled after `quietMs`. */
export async function webhooksToRedrive(db: Db, q: SweepQuery): Promise<string[]> {
  const rows = await db
    .selectFrom('webhookEvents')
    .select('id')
    .where('processedAt', 'is', null)
    .where('event', 'in', [...HANDLED_EVENTS])
    .where('receivedAt', '<', sql<Date>`now() - make_interval(secs => ${q.quietMs / 1000})`)
    .orderBy('receivedAt')
    .limit(q.limit ?? 500)
    .execute();
  return rows.map((r) => r.id);
}

export type StuckKind = 'refund' | 'payment' | 'webhook';

/**
 * What has been stuck longer than `stuckMs`, by kind (the worker's `agape_payments_stuck` gauge):
 * refunds Paystack has not accepted (`pending`), payments it could not confirm, webhook events not
 * handled. `processing` refunds are not counted: Paystack has them, and settling takes it days.
 */
export async function stuckCounts(db: Db, stuckMs: number): Promise<Record<StuckKind, number>> {
  const cutoff = sql<Date>`now() - make_interval(secs => ${stuckMs / 1000})`;
  const { rows } = await sql<Record<StuckKind, number>>`
    SELECT
      (SELECT count(*) FROM refunds WHERE status = 'pending' AND created_at < ${cutoff})::int AS refund,
      (SELECT count(*) FROM payments WHERE unverified_since < ${cutoff})::int AS payment,
      (SELECT count(*) FROM webhook_events
        WHERE processed_at IS NULL AND event IN (${sql.join([...HANDLED_EVENTS])}) AND received_at < ${cutoff})::int AS webhook
  `.execute(db);
  return rows[0] ?? { refund: 0, payment: 0, webhook: 0 };
}

/**
 * Tells staff (mail, `payment.problem` notice) about every refund and payment stuck longer than
 * `stuckMs`: once per refund, and once per payment reference for "unconfirmed" (a held order, a failed
 * customer verify and an unhandled `charge.success` of one payment are one problem). Returns how many
 * new alerts went out.
 */
export async function reportStuck(db: Db, opts: { stuckMs: number; publicUrl: string }): Promise<number> {
  const cutoff = sql<Date>`now() - make_interval(secs => ${opts.stuckMs / 1000})`;
  const refunds = await db
    .selectFrom('refunds as r')
    .innerJoin('orders as o', 'o.id', 'r.orderId')
    .leftJoin('paymentProblemNotices as n', (j) =>
      j.on('n.subject', '=', sql<string>`'refund:' || r.id`).on('n.problem', '=', 'refund_stuck'),
    )
    .select(['r.id', 'r.amount', 'r.currency', 'r.createdAt', 'o.id as orderId', 'o.number'])
    // A refund spanning payments has one part per payment: the first part's reference names it to staff.
    .select(
      sql<string>`(SELECT p.reference FROM refund_parts rp JOIN payments p ON p.id = rp.payment_id
        WHERE rp.refund_id = r.id ORDER BY rp.created_at LIMIT 1)`.as('reference'),
    )
    .where('r.status', '=', 'pending')
    .where('r.createdAt', '<', cutoff)
    .where('n.subject', 'is', null)
    .limit(200)
    .execute();
  const payments = await db
    .selectFrom('payments as p')
    .innerJoin('orders as o', 'o.id', 'p.orderId')
    .leftJoin('paymentProblemNotices as n', (j) =>
      j.onRef('n.subject', '=', 'p.reference').on('n.problem', '=', 'unconfirmed'),
    )
    .select([
      'p.reference',
      'p.amount',
      'p.currency',
      'p.unverifiedSince',
      'o.id as orderId',
      'o.number',
      'o.status',
    ])
    .where('p.unverifiedSince', '<', cutoff)
    .where('n.subject', 'is', null)
    .limit(200)
    .execute();
  const since = (d: Date | null) => (d ? new Date(d).toISOString() : 'a while');

  let sent = 0;
  for (const r of refunds) {
    const ok = await db.transaction().execute((trx) =>
      enqueuePaymentProblem(
        trx,
        {
          kind: 'refund_stuck',
          reference: r.reference,
          orderId: r.orderId,
          orderNumber: r.number,
          expected: null,
          actual: null,
          refundId: r.id,
          amount: r.amount,
          currency: r.currency,
          detail: `Paystack has not accepted this refund since ${since(r.createdAt)}; it is retried automatically.`,
        },
        opts.publicUrl,
      ),
    );
    if (ok) sent++;
  }
  for (const p of payments) {
    const ok = await db.transaction().execute((trx) =>
      enqueuePaymentProblem(
        trx,
        {
          kind: 'payment_unconfirmed',
          reference: p.reference,
          orderId: p.orderId,
          orderNumber: p.number,
          expected: { amount: p.amount, currency: p.currency },
          actual: null,
          detail: `Paystack could not be asked about this payment since ${since(p.unverifiedSince)} (order ${p.status}); it is asked again automatically.`,
        },
        opts.publicUrl,
      ),
    );
    if (ok) sent++;
  }
  return sent;
}
