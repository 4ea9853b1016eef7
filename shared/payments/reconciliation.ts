import { sql } from 'kysely';
import { checkCreditLedger } from '../credit/ledger-checks.js';
import type { Db } from '../db/index.js';
import type { PaystackClient } from '../integrations/paystack/client.js';
import type { PaystackTransaction } from '../integrations/paystack/types.js';
import { alertCreditDiscrepancies, checkPaymentLedger, type LedgerDiscrepancy } from './ledger-checks.js';
import {
  attachDiscrepanciesToRun,
  describeVerifiedProblem,
  isVerifiedProblem,
  openDiscrepancies,
  recordRunDiscrepancy,
  type RunDiscrepancy,
} from './payment-discrepancies.js';
import { applyVerification } from './verify.js';

/**
 * Reconciliation: Paystack's list of transactions for a window against our payments. Successful
 * payments we missed are applied through the same verify path as webhooks (so they are paid once);
 * what cannot be matched is recorded as a discrepancy (one unresolved row per kind and reference, with
 * one staff alert) and listed on the run. Re-running a window is safe: every step is idempotent.
 */

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
  /** SHOP_TIMEZONE: the days of the ledger checks. */
  timeZone?: string;
}

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
  const found: (RunDiscrepancy | LedgerDiscrepancy)[] = [];
  const listed: PaystackTransaction[] = [];
  const seenSuccess = new Set<string>();

  try {
    for await (const tx of deps.paystack.iterateTransactions({ from: run.windowFrom, to: run.windowTo })) {
      counts.listed++;
      listed.push(tx);
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
      if (isVerifiedProblem(result.outcome)) {
        const d = await describeVerifiedProblem(db, result.outcome, tx.reference, payment.orderId, actual);
        await attachDiscrepanciesToRun(db, runId, tx.reference);
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
      .where('payments.provider', '=', 'paystack')
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

    const known = new Set(found.map((d) => d.reference));
    const { windowFrom: from, windowTo: to } = run;
    const timeZone = deps.timeZone ?? 'Africa/Lagos';
    found.push(...(await checkPaymentLedger(db, { from, to, listed, known, timeZone, publicUrl: deps.publicUrl })));

    counts.discrepancies = found.length;
    // The store-credit ledger's own checks (no Paystack in them), reported beside the payments'.
    const credit = await checkCreditLedger(db);
    await alertCreditDiscrepancies(db, credit.discrepancies, deps.publicUrl);
    await db
      .updateTable('reconciliationRuns')
      .set({
        status: 'completed',
        counts: JSON.stringify({ ...counts, ...credit.counts }),
        discrepancies: JSON.stringify(found),
        creditDiscrepancies: JSON.stringify(credit.discrepancies),
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
