import { sql } from 'kysely';
import type { DbOrTrx } from '../db/index.js';
import { ledgerDiscrepancies } from './ledger.js';
import type { CreditDiscrepancy, CreditDiscrepancyKind } from './schemas.js';

export type { CreditDiscrepancy } from './schemas.js';

/**
 * The nightly checks of the store-credit ledger (CONTRACT part two, "Store credit": "all checked nightly"),
 * run by the reconciliation job and reported on its run. Read-only. What the database enforces already
 * (balance ≥ 0, unique seq, one spend and one reversal per order, immutable entries) is not re-checked;
 * these are the sums and the lives of spends that no single constraint can hold:
 *  - every balance = Σ its entries = its last balance_after, and its seq has no gap;
 *  - every `spend` ended as exactly one of: a paid order, or one `spend_reversal` of the same amount (an
 *    order still awaiting payment is open, not wrong); its credit payment row says the same;
 *  - no `spend_reversal` without a spend; every refund part paid as credit is a `refund` entry of its amount.
 */

export interface CreditLedgerCounts {
  creditAccounts: number;
  creditSpends: number;
  /** Spends of orders still awaiting payment: neither paid nor reversed yet. */
  creditSpendsOpen: number;
  creditDiscrepancies: number;
}

interface SpendRow {
  id: string;
  accountId: string;
  orderId: string | null;
  spent: number;
  orderStatus: string | null;
  everPaid: boolean;
  reversalId: string | null;
  reversed: number | null;
  paymentAmount: number | null;
  paymentStatus: string | null;
}

/** One pass over the ledger; returns the counts for the run and what is wrong. */
export async function checkCreditLedger(db: DbOrTrx): Promise<{ counts: CreditLedgerCounts; discrepancies: CreditDiscrepancy[] }> {
  const found: CreditDiscrepancy[] = [];
  const add = (kind: CreditDiscrepancyKind, d: Omit<CreditDiscrepancy, 'kind'>) => found.push({ kind, ...d });

  for (const a of await ledgerDiscrepancies(db)) {
    add('balance_mismatch', {
      userId: a.userId,
      orderId: null,
      entryId: null,
      detail: `balance ${a.balance}, Σ entries ${a.sum}, last balance_after ${a.lastBalanceAfter ?? 'none'}, ${a.entries} entries, last_seq ${a.lastSeq}`,
    });
  }

  // "Ended as a paid order": the order went through `paid` (a late payment on a cancelled order sets
  // paid_at but never that transition).
  const { rows: spends } = await sql<SpendRow>`
    SELECT s.id, s.account_id AS "accountId", s.order_id AS "orderId", -s.amount AS spent,
           o.status AS "orderStatus",
           EXISTS (SELECT 1 FROM order_status_history h WHERE h.order_id = s.order_id AND h.to_status = 'paid') AS "everPaid",
           r.id AS "reversalId", r.amount AS reversed,
           p.amount AS "paymentAmount", p.status AS "paymentStatus"
    FROM credit_entries s
    LEFT JOIN orders o ON o.id = s.order_id
    LEFT JOIN credit_entries r ON r.order_id = s.order_id AND r.kind = 'spend_reversal'
    LEFT JOIN payments p ON p.credit_entry_id = s.id
    WHERE s.kind = 'spend'
  `.execute(db);
  let open = 0;
  for (const s of spends) {
    const at = { userId: s.accountId, orderId: s.orderId, entryId: s.id };
    const spent = Number(s.spent);
    if (!s.orderId) {
      add('spend_without_order', { ...at, detail: `spend of ${spent} names no order` });
      continue;
    }
    if (s.paymentAmount === null || Number(s.paymentAmount) !== spent) {
      add('spend_payment_mismatch', {
        ...at,
        detail: s.paymentAmount === null ? `spend of ${spent} has no credit payment` : `spend of ${spent}, credit payment of ${s.paymentAmount}`,
      });
    } else if ((s.paymentStatus === 'reversed') !== (s.reversalId !== null)) {
      add('spend_payment_mismatch', {
        ...at,
        detail: `credit payment is ${s.paymentStatus} but the ledger has ${s.reversalId ? 'a' : 'no'} reversal`,
      });
    }
    if (s.reversalId !== null && Number(s.reversed) !== spent) {
      add('reversal_amount_mismatch', { ...at, detail: `spent ${spent}, reversed ${s.reversed}` });
    }
    if (s.everPaid && s.reversalId !== null) {
      add('spend_resolved_twice', { ...at, detail: `order paid and its ${spent} of credit reversed too` });
    } else if (!s.everPaid && s.reversalId === null) {
      if (s.orderStatus === 'pending_payment') open++;
      else add('spend_unresolved', { ...at, detail: `order ${s.orderStatus ?? 'missing'}, never paid, ${spent} of credit not reversed` });
    }
  }

  const { rows: orphans } = await sql<{ id: string; accountId: string; orderId: string | null; amount: number }>`
    SELECT r.id, r.account_id AS "accountId", r.order_id AS "orderId", r.amount
    FROM credit_entries r
    WHERE r.kind = 'spend_reversal'
      AND NOT EXISTS (SELECT 1 FROM credit_entries s WHERE s.kind = 'spend' AND s.order_id = r.order_id)
  `.execute(db);
  for (const r of orphans) {
    add('reversal_without_spend', { userId: r.accountId, orderId: r.orderId, entryId: r.id, detail: `reversal of ${r.amount} without a spend` });
  }

  const { rows: parts } = await sql<{ partId: string; accountId: string; orderId: string; entryId: string; partAmount: number; amount: number; kind: string; status: string }>`
    SELECT rp.id AS "partId", e.account_id AS "accountId", rf.order_id AS "orderId", e.id AS "entryId",
           rp.amount AS "partAmount", e.amount, e.kind, rp.status
    FROM refund_parts rp
    JOIN refunds rf ON rf.id = rp.refund_id
    JOIN credit_entries e ON e.id = rp.credit_entry_id
    WHERE e.kind <> 'refund' OR e.amount <> rp.amount OR rp.status <> 'processed' OR e.order_id IS DISTINCT FROM rf.order_id
  `.execute(db);
  for (const p of parts) {
    add('refund_entry_mismatch', {
      userId: p.accountId,
      orderId: p.orderId,
      entryId: p.entryId,
      detail: `refund part ${p.partId} of ${p.partAmount} (${p.status}) paid as ${p.kind} entry of ${p.amount}`,
    });
  }

  const accounts = await db.selectFrom('creditAccounts').select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow();
  return {
    counts: { creditAccounts: accounts.n, creditSpends: spends.length, creditSpendsOpen: open, creditDiscrepancies: found.length },
    discrepancies: found,
  };
}
