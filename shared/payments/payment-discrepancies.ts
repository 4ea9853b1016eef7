import { creditTendered } from '../credit/tender.js';
import type { Db } from '../db/index.js';
import { enqueuePaymentProblem } from './notices.js';
import type { VerificationOutcome } from './verify.js';

/**
 * Payment discrepancies a reconciliation run finds: one unresolved `payment_discrepancies` row per kind and
 * reference (with one staff alert when it is new), and the list a run reports.
 */

export type DiscrepancyKind =
  | 'amount_mismatch'
  | 'currency_mismatch'
  | 'unknown_reference'
  | 'paid_but_cancelled'
  | 'ours_paid_theirs_not';

export interface RunDiscrepancy {
  kind: DiscrepancyKind | 'paid_twice';
  reference: string;
  orderId: string | null;
  expected: { amount: number; currency: string } | null;
  actual: { amount: number; currency: string; status: string } | null;
}

const MISMATCH_OUTCOMES: Partial<Record<VerificationOutcome, true>> = {
  mismatch: true,
  paid_but_cancelled: true,
  paid_twice: true,
};

/** Verify outcomes that are a problem for staff (recorded by the verify path itself; the run lists them). */
export const isVerifiedProblem = (outcome: VerificationOutcome) => MISMATCH_OUTCOMES[outcome] === true;

/** Ties the unresolved discrepancies of a reference that no run has listed yet to this run. */
export async function attachDiscrepanciesToRun(db: Db, runId: string, reference: string) {
  await db
    .updateTable('paymentDiscrepancies')
    .set({ runId })
    .where('reference', '=', reference)
    .where('runId', 'is', null)
    .where('resolvedAt', 'is', null)
    .execute();
}

/** Unresolved discrepancies already recorded for a reference, as a run lists them. */
export async function openDiscrepancies(db: Db, reference: string): Promise<RunDiscrepancy[]> {
  const rows = await db
    .selectFrom('paymentDiscrepancies')
    .select(['kind', 'reference', 'orderId', 'expected', 'actual'])
    .where('reference', '=', reference)
    .where('resolvedAt', 'is', null)
    .execute();
  return rows.map((r) => ({
    kind: r.kind,
    reference,
    orderId: r.orderId,
    expected: r.expected as RunDiscrepancy['expected'],
    actual: r.actual as RunDiscrepancy['actual'],
  }));
}

export async function describeVerifiedProblem(
  db: Db,
  outcome: VerificationOutcome,
  reference: string,
  orderId: string,
  actual: RunDiscrepancy['actual'],
): Promise<RunDiscrepancy> {
  const order = await db
    .selectFrom('orders')
    .select(['total', 'currency'])
    .where('id', '=', orderId)
    .executeTakeFirstOrThrow();
  const kind: RunDiscrepancy['kind'] =
    outcome === 'mismatch'
      ? actual?.currency !== order.currency
        ? 'currency_mismatch'
        : 'amount_mismatch'
      : outcome === 'paid_twice'
        ? 'paid_twice'
        : 'paid_but_cancelled';
  // What Paystack was owed: the total less the store credit the checkout spent (a split tender).
  const { tendered } = await creditTendered(db, orderId);
  return { kind, reference, orderId, expected: { amount: order.total - tendered, currency: order.currency }, actual };
}

/** One unresolved row per kind and reference; the staff alert goes out only when the row is new. */
export async function recordRunDiscrepancy(db: Db, runId: string, d: RunDiscrepancy, publicUrl: string) {
  if (d.kind === 'paid_twice') return;
  const kind = d.kind;
  await db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('paymentDiscrepancies')
      .values({
        kind,
        orderId: d.orderId,
        reference: d.reference,
        expected: d.expected ? JSON.stringify(d.expected) : null,
        actual: d.actual ? JSON.stringify(d.actual) : null,
        runId,
      })
      .onConflict((oc) => oc.columns(['kind', 'reference']).where('resolvedAt', 'is', null).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) return;
    const order = d.orderId
      ? await trx.selectFrom('orders').select('number').where('id', '=', d.orderId).executeTakeFirst()
      : undefined;
    await enqueuePaymentProblem(
      trx,
      {
        kind,
        reference: d.reference,
        orderId: d.orderId,
        orderNumber: order?.number ?? null,
        expected: d.expected,
        actual: d.actual,
      },
      publicUrl,
    );
  });
}
