import { sql } from 'kysely';
import type { Db, DbOrTrx, Trx } from '../db/index.js';
import type { PaystackClient } from '../integrations/paystack/client.js';
import { enqueue } from '../outbox.js';
import { decodeCursor, encodeCursor } from '../db/cursor.js';
import { enqueuePaymentProblem } from './notices.js';
import { applyVerification, type VerificationOutcome } from './verify.js';
import type { ReconciliationTrigger, RunDiscrepancy } from './schemas.js';

/**
 * Reconciliation: Paystack's list of transactions for a window against our payments. Successful
 * payments we missed are applied through the same verify path as webhooks (so they are paid once);
 * what cannot be matched is recorded as a discrepancy (one unresolved row per kind and reference, with
 * one staff alert) and listed on the run. Re-running a window is safe: every step is idempotent.
 */

/** How far back a run looks by default: two days, so a late or failed run is covered by the next. */
export const DEFAULT_WINDOW_HOURS = 48;

export type { DiscrepancyKind } from './schemas.js';

export type { RunDiscrepancy } from './schemas.js';

export interface RunCounts {
  /** Transactions Paystack listed for the window. */
  listed: number;
  /** Successful at Paystack. */
  successful: number;
  /** Successful and already applied on our side. */
  matched: number;
  /** Successful payments we had missed, applied by this run. */
  applied: number;
  /** Listed but not successful (abandoned, failed, ...). */
  notSuccessful: number;
  discrepancies: number;
}

export interface ReconcileDeps {
  paystack: Pick<PaystackClient, 'iterateTransactions' | 'verifyTransaction'>;
  publicUrl: string;
}

/** Creates the run row and its job in one transaction (the admin endpoint and the scheduled job). */
export async function startReconciliationRun(
  trx: Trx,
  opts: {
    trigger: ReconciliationTrigger;
    requestedBy?: string | null;
    from?: Date;
    to?: Date;
    enqueueJob?: boolean;
  },
): Promise<string> {
  const to = opts.to ?? new Date();
  const from = opts.from ?? new Date(to.getTime() - DEFAULT_WINDOW_HOURS * 3_600_000);
  const run = await trx
    .insertInto('reconciliationRuns')
    .values({ trigger: opts.trigger, windowFrom: from, windowTo: to, requestedBy: opts.requestedBy ?? null })
    .returning('id')
    .executeTakeFirstOrThrow();
  if (opts.enqueueJob !== false)
    await enqueue(trx, 'reconciliation.run', { runId: run.id, trigger: opts.trigger });
  return run.id;
}

const MISMATCH_OUTCOMES: Partial<Record<VerificationOutcome, true>> = {
  mismatch: true,
  paid_but_cancelled: true,
  paid_twice: true,
};

/** Runs (or re-runs, after a crash) one reconciliation. Returns the stored counts. */
export async function runReconciliation(db: Db, runId: string, deps: ReconcileDeps): Promise<RunCounts> {
  const run = await db
    .selectFrom('reconciliationRuns')
    .selectAll()
    .where('id', '=', runId)
    .executeTakeFirst();
  if (!run) throw new Error(`reconciliation run ${runId} not found`);
  if (run.status === 'completed') return run.counts as unknown as RunCounts;
  await db
    .updateTable('reconciliationRuns')
    .set({ status: 'running', error: null })
    .where('id', '=', runId)
    .execute();

  const counts: RunCounts = {
    listed: 0,
    successful: 0,
    matched: 0,
    applied: 0,
    notSuccessful: 0,
    discrepancies: 0,
  };
  const found: RunDiscrepancy[] = [];
  const seenSuccess = new Set<string>();

  try {
    for await (const tx of deps.paystack.iterateTransactions({ from: run.windowFrom, to: run.windowTo })) {
      counts.listed++;
      if (tx.status !== 'success') {
        counts.notSuccessful++;
        continue;
      }
      counts.successful++;
      seenSuccess.add(tx.reference);
      const payment = await db
        .selectFrom('payments')
        .select(['id', 'status', 'orderId'])
        .where('reference', '=', tx.reference)
        .executeTakeFirst();
      const actual = { amount: tx.amount, currency: tx.currency, status: tx.status };

      if (!payment) {
        const d: RunDiscrepancy = {
          kind: 'unknown_reference',
          reference: tx.reference,
          orderId: null,
          expected: null,
          actual,
        };
        await recordRunDiscrepancy(db, runId, d, deps.publicUrl);
        found.push(d);
        continue;
      }
      if (payment.status === 'success') {
        counts.matched++;
        // Applied earlier but still a problem (paid for a cancelled order, not yet refunded): keep listing it.
        found.push(...(await openDiscrepancies(db, tx.reference)));
        continue;
      }
      // A success we did not apply (missed webhook, crashed job): the same path as the webhook, which
      // verifies with the API again rather than trusting the list.
      const result = await applyVerification(db, tx.reference, {
        paystack: deps.paystack,
        publicUrl: deps.publicUrl,
        source: 'reconciliation',
      });
      if (result.outcome === 'paid') counts.applied++;
      else if (result.outcome === 'already_applied') counts.matched++;
      if (MISMATCH_OUTCOMES[result.outcome]) {
        const d = await describeVerifiedProblem(db, result.outcome, tx.reference, payment.orderId, actual);
        await db
          .updateTable('paymentDiscrepancies')
          .set({ runId })
          .where('reference', '=', tx.reference)
          .where('runId', 'is', null)
          .where('resolvedAt', 'is', null)
          .execute();
        found.push(d);
      }
    }

    // Ours paid, theirs not: payments we consider successful in the window that Paystack did not list
    // as successful. Each is asked directly (the list filters by creation time, not payment time).
    const ours = await db
      .selectFrom('payments')
      .innerJoin('orders', 'orders.id', 'payments.orderId')
      .select([
        'payments.reference',
        'payments.orderId',
        'payments.paidAmount',
        'payments.paidCurrency',
        'orders.total',
        'orders.currency',
      ])
      .where('payments.status', '=', 'success')
      .where('payments.paidAt', '>=', run.windowFrom)
      .where('payments.paidAt', '<=', run.windowTo)
      .execute();
    for (const p of ours) {
      if (seenSuccess.has(p.reference)) continue;
      const tx = await deps.paystack.verifyTransaction(p.reference);
      // `reversed` is a refunded (or charged back) success: still money that moved.
      if (tx && (tx.status === 'success' || tx.status === 'reversed')) continue;
      const d: RunDiscrepancy = {
        kind: 'ours_paid_theirs_not',
        reference: p.reference,
        orderId: p.orderId,
        expected: { amount: p.paidAmount ?? p.total, currency: p.paidCurrency ?? p.currency },
        actual: tx ? { amount: tx.amount, currency: tx.currency, status: tx.status } : null,
      };
      await recordRunDiscrepancy(db, runId, d, deps.publicUrl);
      found.push(d);
    }

    counts.discrepancies = found.length;
    await db
      .updateTable('reconciliationRuns')
      .set({
        status: 'completed',
        counts: JSON.stringify(counts),
        discrepancies: JSON.stringify(found),
        finishedAt: sql<Date>`now()`,
      })
      .where('id', '=', runId)
      .execute();
    return counts;
  } catch (err) {
    await db
      .updateTable('reconciliationRuns')
      .set({
        status: 'failed',
        error: err instanceof Error ? err.message.slice(0, 500) : 'failed',
        counts: JSON.stringify(counts),
      })
      .where('id', '=', runId)
      .execute();
    throw err;
  }
}

/** Unresolved discrepancies already recorded for a reference, as a run lists them. */
async function openDiscrepancies(db: Db, reference: string): Promise<RunDiscrepancy[]> {
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

async function describeVerifiedProblem(
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
  return { kind, reference, orderId, expected: { amount: order.total, currency: order.currency }, actual };
}

/** One unresolved row per kind and reference; the staff alert goes out only when the row is new. */
async function recordRunDiscrepancy(db: Db, runId: string, d: RunDiscrepancy, publicUrl: string) {
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

export async function listReconciliationRuns(db: DbOrTrx, q: { limit: number; cursor?: string }) {
  // The cursor keeps the timestamp at full (microsecond) precision so keyset paging never skips a row.
  let query = db
    .selectFrom('reconciliationRuns')
    .selectAll()
    .select(
      sql<string>`to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('startedKey'),
    )
    .orderBy('startedAt', 'desc')
    .orderBy('id', 'desc')
    .limit(q.limit + 1);
  if (q.cursor) {
    const [startedAt, id] = decodeCursor(q.cursor, ['timestamptz', 'uuid']);
    query = query.where(sql<boolean>`(started_at, id) < (${startedAt}::timestamptz, ${id}::uuid)`);
  }
  const rows = await query.execute();
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return {
    items: page.map((r) => ({
      id: r.id,
      trigger: r.trigger,
      status: r.status,
      windowFrom: r.windowFrom.toISOString(),
      windowTo: r.windowTo.toISOString(),
      counts: r.counts as Record<string, number>,
      discrepancies: r.discrepancies as unknown as RunDiscrepancy[],
      error: r.error,
      requestedBy: r.requestedBy,
      startedAt: r.startedAt.toISOString(),
      finishedAt: r.finishedAt ? r.finishedAt.toISOString() : null,
    })),
    nextCursor: rows.length > q.limit && last ? encodeCursor([last.startedKey, last.id]) : null,
  };
}
