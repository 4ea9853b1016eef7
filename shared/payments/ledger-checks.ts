import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import type { PaystackTransaction } from '../integrations/paystack/types.js';
import { enqueuePaymentProblem } from './notices.js';
import type { CreditDiscrepancy } from '../credit/ledger-checks.js';
import type { LedgerDiscrepancyKind } from './schemas.js';

/**
 * The reconciliation run's ledger checks, after it has matched Paystack's list reference by reference:
 *
 * - per order touched in the window: `amount_paid` and `amount_refunded` equal the successful payments
 *   and the processed refund parts of those payments (so paid − refunded is what the ledger tables say);
 * - per day and currency: the sales rollup the reports read (`sales_rollup`) equals the payments and
 *   refund parts it sums, over exactly the same 15-minute slots;
 * - per day and currency: our successful payments equal Paystack's successful (or since reversed)
 *   transactions of the window.
 *
 * References the run already reported (a wrong amount, an unknown reference, ...) are left out of the
 * totals: their money is explained, and staff were told once. What is left is a difference nothing else
 * explains. Each finding goes to the run's report and to staff (mail and socket, once per subject: the
 * order, or the day and currency).
 */

export interface LedgerDiscrepancy {
  kind: LedgerDiscrepancyKind;
  /** What it is about: `order:<number>`, `rollup:<day>:<currency>` or `paystack:<day>:<currency>`. */
  reference: string;
  orderId: string | null;
  /** What the ledger tables (or, for Paystack's list, our payments) say. */
  expected: { amount: number; currency: string };
  /** What the order's books, the rollup, or Paystack say. */
  actual: { amount: number; currency: string; status?: string };
}

export interface LedgerCheckInput {
  from: Date;
  to: Date;
  /** Paystack's transactions for the window, as the run listed them. */
  listed: readonly Pick<PaystackTransaction, 'reference' | 'status' | 'amount' | 'currency' | 'paidAt'>[];
  /** References the run already reported. */
  known: ReadonlySet<string>;
  /** Days are days in this zone (SHOP_TIMEZONE). */
  timeZone: string;
  publicUrl: string;
}

/** Paystack statuses of money that came in: `reversed` is a success refunded or charged back since. */
const MONEY_IN = new Set(['success', 'reversed']);

const dayOf = (at: Date, timeZone: string) =>
  new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);

/** Orders whose books disagree with their payments and refunds. */
async function orderChecks(db: Db, input: LedgerCheckInput): Promise<LedgerDiscrepancy[]> {
  const { rows } = await sql<{
    id: string;
    number: string;
    currency: string;
    status: string;
    amountPaid: number;
    amountRefunded: number;
    paid: number;
    refunded: number;
    references: string[];
  }>`
    WITH touched AS (
      SELECT order_id FROM payments WHERE paid_at BETWEEN ${input.from} AND ${input.to}
      UNION
      SELECT p.order_id FROM refund_parts rp JOIN payments p ON p.id = rp.payment_id
      WHERE rp.settled_at BETWEEN ${input.from} AND ${input.to}
    )
    SELECT o.id, o.number, o.currency, o.status, o.amount_paid AS "amountPaid", o.amount_refunded AS "amountRefunded",
      (SELECT coalesce(sum(coalesce(p.paid_amount, p.amount)), 0) FROM payments p
        WHERE p.order_id = o.id AND p.status = 'success')::int8 AS paid,
      (SELECT coalesce(sum(rp.amount), 0) FROM refund_parts rp JOIN payments p ON p.id = rp.payment_id
        WHERE p.order_id = o.id AND p.status = 'success' AND rp.status = 'processed')::int8 AS refunded,
      ARRAY(SELECT p.reference FROM payments p WHERE p.order_id = o.id) AS "references"
    FROM orders o JOIN touched t ON t.order_id = o.id
    ORDER BY o.number`.execute(db);
  return rows
    .filter((o) => (Number(o.amountPaid) !== Number(o.paid) || Number(o.amountRefunded) !== Number(o.refunded)) && !o.references.some((r) => input.known.has(r)))
    .map((o) => ({
      kind: 'order_ledger_mismatch' as const,
      reference: `order:${o.number}`,
      orderId: o.id,
      expected: { amount: Number(o.paid) - Number(o.refunded), currency: o.currency },
      actual: {
        amount: Number(o.amountPaid) - Number(o.amountRefunded),
        currency: o.currency,
        status: `books: paid ${o.amountPaid}, refunded ${o.amountRefunded}; ledger: paid ${o.paid}, refunded ${o.refunded}`,
      },
    }));
}

/** Days on which the reports' rollup disagrees with the payments and refund parts it sums. */
async function rollupChecks(db: Db, input: LedgerCheckInput): Promise<LedgerDiscrepancy[]> {
  const slots = sql`BETWEEN sales_slot(${input.from}) AND sales_slot(${input.to})`;
  const day = (at: ReturnType<typeof sql>) => sql`to_char(${at} AT TIME ZONE ${input.timeZone}, 'YYYY-MM-DD')`;
  const { rows } = await sql<{ day: string; currency: string; gross: number; refunded: number; rollupGross: number; rollupRefunded: number }>`
    WITH raw AS (
      SELECT ${day(sql`sales_slot(paid_at)`)} AS day, coalesce(paid_currency, currency) AS currency,
             coalesce(paid_amount, amount) AS gross, 0::int8 AS refunded
      FROM payments WHERE status = 'success' AND paid_at IS NOT NULL AND sales_slot(paid_at) ${slots}
      UNION ALL
      SELECT ${day(sql`sales_slot(rp.settled_at)`)}, rp.currency, 0, rp.amount
      FROM refund_parts rp JOIN payments p ON p.id = rp.payment_id AND p.status = 'success'
      WHERE rp.status = 'processed' AND rp.settled_at IS NOT NULL AND sales_slot(rp.settled_at) ${slots}
    ), ledger AS (
      SELECT day, currency::text, sum(gross)::int8 AS gross, sum(refunded)::int8 AS refunded FROM raw GROUP BY 1, 2
    ), rollup AS (
      SELECT ${day(sql`slot`)} AS day, currency::text, sum(gross)::int8 AS gross, sum(refunded)::int8 AS refunded
      FROM sales_rollup WHERE slot ${slots} GROUP BY 1, 2
    )
    SELECT coalesce(l.day, r.day) AS day, coalesce(l.currency, r.currency) AS currency,
           coalesce(l.gross, 0) AS gross, coalesce(l.refunded, 0) AS refunded,
           coalesce(r.gross, 0) AS "rollupGross", coalesce(r.refunded, 0) AS "rollupRefunded"
    FROM ledger l FULL JOIN rollup r ON r.day = l.day AND r.currency = l.currency
    WHERE coalesce(l.gross, 0) <> coalesce(r.gross, 0) OR coalesce(l.refunded, 0) <> coalesce(r.refunded, 0)
    ORDER BY 1, 2`.execute(db);
  return rows.map((r) => ({
    kind: 'rollup_mismatch' as const,
    reference: `rollup:${r.day}:${r.currency.trim()}`,
    orderId: null,
    expected: { amount: Number(r.gross) - Number(r.refunded), currency: r.currency.trim() },
    actual: {
      amount: Number(r.rollupGross) - Number(r.rollupRefunded),
      currency: r.currency.trim(),
      status: `rollup: gross ${r.rollupGross}, refunded ${r.rollupRefunded}; ledger: gross ${r.gross}, refunded ${r.refunded}`,
    },
  }));
}

/**
 * Days on which our successful payments and Paystack's list disagree. Both sides are the transactions
 * created in the window (Paystack lists by creation) and paid in it, by the day they were paid.
 */
async function paystackChecks(db: Db, input: LedgerCheckInput): Promise<LedgerDiscrepancy[]> {
  const totals = new Map<string, { day: string; currency: string; ours: number; theirs: number }>();
  const add = (day: string, currency: string, side: 'ours' | 'theirs', amount: number) => {
    const key = `${day}:${currency}`;
    const t = totals.get(key) ?? { day, currency, ours: 0, theirs: 0 };
    t[side] += amount;
    totals.set(key, t);
  };
  for (const tx of input.listed) {
    if (!MONEY_IN.has(tx.status) || !tx.paidAt || input.known.has(tx.reference)) continue;
    const paidAt = new Date(tx.paidAt);
    if (paidAt < input.from || paidAt > input.to) continue;
    add(dayOf(paidAt, input.timeZone), tx.currency, 'theirs', tx.amount);
  }
  const ours = await db
    .selectFrom('payments')
    .select(['reference', 'paidAt', 'paidAmount', 'amount', 'paidCurrency', 'currency'])
    .where('status', '=', 'success')
    .where('createdAt', '>=', input.from)
    .where('createdAt', '<=', input.to)
    .where('paidAt', '>=', input.from)
    .where('paidAt', '<=', input.to)
    .execute();
  for (const p of ours) {
    if (input.known.has(p.reference) || !p.paidAt) continue;
    add(dayOf(p.paidAt, input.timeZone), p.paidCurrency ?? p.currency, 'ours', p.paidAmount ?? p.amount);
  }
  return [...totals.values()]
    .filter((t) => t.ours !== t.theirs)
    .sort((a, b) => (a.day + a.currency).localeCompare(b.day + b.currency))
    .map((t) => ({
      kind: 'paystack_daily_mismatch' as const,
      reference: `paystack:${t.day}:${t.currency}`,
      orderId: null,
      expected: { amount: t.ours, currency: t.currency },
      actual: { amount: t.theirs, currency: t.currency, status: 'paystack' },
    }));
}

/** Runs the three checks and tells staff about each finding (once per subject). */
export async function checkPaymentLedger(db: Db, input: LedgerCheckInput): Promise<LedgerDiscrepancy[]> {
  const found = [...(await orderChecks(db, input)), ...(await rollupChecks(db, input)), ...(await paystackChecks(db, input))];
  for (const d of found) {
    await db.transaction().execute(async (trx) => {
      const order = d.orderId ? await trx.selectFrom('orders').select('number').where('id', '=', d.orderId).executeTakeFirst() : undefined;
      await enqueuePaymentProblem(
        trx,
        {
          kind: d.kind,
          reference: d.reference,
          orderId: d.orderId,
          orderNumber: order?.number ?? null,
          expected: d.expected,
          actual: d.actual,
          detail: d.actual.status,
        },
        input.publicUrl,
      );
    });
  }
  return found;
}

/**
 * Tells staff about each finding, once per finding: the subject names the kind and the entry (or the
 * account), so tomorrow's run finding the same thing again stays quiet and a new finding is told.
 */
export async function alertCreditDiscrepancies(db: Db, found: readonly CreditDiscrepancy[], publicUrl: string): Promise<void> {
  for (const d of found) {
    await db.transaction().execute(async (trx) => {
      const order = d.orderId ? await trx.selectFrom('orders').select('number').where('id', '=', d.orderId).executeTakeFirst() : undefined;
      await enqueuePaymentProblem(
        trx,
        {
          kind: 'credit_ledger_mismatch',
          reference: `credit:${d.kind}:${d.entryId ?? d.userId ?? d.orderId}`,
          orderId: d.orderId,
          orderNumber: order?.number ?? null,
          expected: null,
          actual: null,
          detail: `${d.kind}: ${d.detail}`,
        },
        publicUrl,
      );
    });
  }
}
