import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { DbOrTrx, Trx } from '../db/index.js';
import { ValidationError } from '../errors.js';
import { CREDIT_CURRENCY, InsufficientCreditError, postEntry } from './ledger.js';
import type { StoreCreditRequest } from './schemas.js';

/**
 * Store credit as a tender (CONTRACT part two, "Store credit": POST /checkout extended). The credit an
 * order spends is a `payments` row with `provider = 'store_credit'`, written with its `spend` entry in the
 * checkout transaction: the order's payments show both tenders (`method`), refunds draw on it like on any
 * payment, and Paystack is asked only for `total − credit`. Cancelling the unpaid order gives it back as
 * one `spend_reversal` (the row becomes `reversed`; a unique index holds "one" even if the code is wrong).
 */

/** A credit payment's reference: not sent to Paystack, shown on the order and its refund parts. */
const newCreditReference = () => `CRD-${randomBytes(16).toString('hex')}`;

export interface SpendRequest {
  userId: string | null;
  orderId: string;
  orderNumber: string;
  total: number;
  currency: string;
  want: StoreCreditRequest | undefined;
}

/**
 * In the checkout transaction, after the order row is written: spends `want` (kobo, or "max" = as much of
 * the balance as the total takes) from the customer's account. The account row is locked first (FOR UPDATE),
 * so "max" reads the balance it then spends; the spend itself is the ledger's conditional update. Returns
 * the credit payment row, or null when nothing is spent. 409 `insufficient_credit` when the balance (0 for
 * a guest) is smaller than an amount asked for; 400 when the amount is larger than the order's total.
 */
export async function spendAtCheckout(trx: Trx, req: SpendRequest) {
  const { want } = req;
  if (want === undefined || want === 0) return null;
  if (typeof want === 'number' && want > req.total) {
    throw new ValidationError('storeCredit is larger than the order total', [
      { path: '/storeCredit', message: `at most the order total (${req.total})` },
    ]);
  }
  if (req.currency !== CREDIT_CURRENCY) {
    throw new ValidationError(`Store credit is kept in ${CREDIT_CURRENCY}`, [
      { path: '/storeCredit', message: `only for ${CREDIT_CURRENCY} orders` },
    ]);
  }
  if (!req.userId) {
    if (want === 'max') return null;
    throw new InsufficientCreditError();
  }
  const account = await trx
    .selectFrom('creditAccounts')
    .select('balance')
    .where('userId', '=', req.userId)
    .forUpdate()
    .executeTakeFirst();
  const balance = account?.balance ?? 0;
  const amount = want === 'max' ? Math.min(balance, req.total) : want;
  if (amount <= 0) return null;
  if (amount > balance) throw new InsufficientCreditError();
  const entry = await postEntry(trx, {
    userId: req.userId,
    amount: -amount,
    kind: 'spend',
    orderId: req.orderId,
    reason: `order ${req.orderNumber}`,
    actorId: req.userId,
  });
  return trx
    .insertInto('payments')
    .values({
      orderId: req.orderId,
      reference: newCreditReference(),
      attempt: 0,
      provider: 'store_credit',
      status: 'success',
      amount,
      currency: req.currency,
      paidAmount: amount,
      paidCurrency: req.currency,
      paidAt: sql<Date>`now()`,
      creditEntryId: entry.id,
    })
    .returning(['id', 'reference', 'attempt', 'provider', 'status', 'amount', 'currency', 'authorizationUrl', 'paidAt', 'createdAt'])
    .executeTakeFirstOrThrow();
}

/**
 * The credit an order's tender split put on store credit (spent, whether or not given back since): what
 * Paystack is asked for is `total − this`, and what it verifies must be exactly that.
 */
export async function creditTendered(db: DbOrTrx, orderId: string): Promise<{ tendered: number; held: number }> {
  const row = await db
    .selectFrom('payments')
    .select([
      sql<number>`coalesce(sum(amount) FILTER (WHERE status IN ('success', 'reversed')), 0)::int8`.as('tendered'),
      sql<number>`coalesce(sum(amount) FILTER (WHERE status = 'success'), 0)::int8`.as('held'),
    ])
    .where('orderId', '=', orderId)
    .where('provider', '=', 'store_credit')
    .executeTakeFirstOrThrow();
  return { tendered: Number(row.tendered), held: Number(row.held) };
}

/**
 * An unpaid order was cancelled (by its customer, staff or reservation expiry): in that transaction, under
 * the order's row lock, its spent credit goes back as one `spend_reversal` and the credit payment becomes
 * `reversed`. Idempotent: a payment already reversed is not found again, and the unique index on
 * (order, spend_reversal) refuses a second entry. Returns what was given back.
 */
export async function reverseOrderSpend(trx: Trx, orderId: string, reason: string): Promise<number> {
  const spent = await trx
    .selectFrom('payments as p')
    .innerJoin('orders as o', 'o.id', 'p.orderId')
    .select(['p.id', 'p.amount', 'o.userId', 'o.number'])
    .where('p.orderId', '=', orderId)
    .where('p.provider', '=', 'store_credit')
    .where('p.status', '=', 'success')
    .forUpdate('p')
    .execute();
  let given = 0;
  for (const p of spent) {
    if (!p.userId) throw new Error(`order ${orderId}: store credit spent without a customer account`);
    await postEntry(trx, {
      userId: p.userId,
      amount: p.amount,
      kind: 'spend_reversal',
      orderId,
      reason: `order ${p.number} ${reason}`,
    });
    await trx.updateTable('payments').set({ status: 'reversed' }).where('id', '=', p.id).execute();
    given += p.amount;
  }
  return given;
}

/**
 * A refund part paid back as store credit (a refund `to: store_credit`, or the credit-paid part of an
 * order refunded to its original tenders): one `refund` entry on the order's customer, named by the part.
 * The caller settles the part as processed in the same transaction (credit settles at once), before this,
 * so the account's row lock is taken after any inventory lock a restock takes (as checkout and cancel do).
 */
export async function creditRefundPart(
  trx: Trx,
  part: { id: string; amount: number; userId: string; orderId: string; orderNumber: string; reason: string; actorId: string | null },
) {
  const entry = await postEntry(trx, {
    userId: part.userId,
    amount: part.amount,
    kind: 'refund',
    orderId: part.orderId,
    reason: `refund of order ${part.orderNumber}: ${part.reason}`.slice(0, 500),
    actorId: part.actorId,
  });
  await trx.updateTable('refundParts').set({ creditEntryId: entry.id }).where('id', '=', part.id).execute();
  return entry;
}
