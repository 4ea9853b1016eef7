import { sql } from 'kysely';
import t from 'tap';
import type { Db } from '../../shared/db/index.js';
import { recordProblem } from '../../shared/payments/verify.js';
import { testEnv } from '../support/harness.js';
import { createPendingOrder } from '../support/payment-fixtures.js';
import { createUser } from '../support/fixtures.js';

/**
 * Issue 18, item 21: staff get one payment-problem mail (and one `payment.problem` notice) per payment
 * reference and problem, whichever kind or code path reported it: an amount mismatch and a currency
 * mismatch of one payment are one problem ("this payment does not match its order"), paid twice is
 * reported once however often it is noticed, and a different problem of the same payment is mailed.
 */

const alerts = async (db: Db) => {
  const rows = await db.selectFrom('outbox').select(['name', 'payload']).execute();
  const payloads = rows.map(
    (r) =>
      r.payload as {
        template?: string;
        type?: string;
        to?: string;
        data?: { kind?: string; reference?: string };
      },
  );
  return {
    mails: payloads.filter((p) => p.template === 'payment-problem'),
    notices: payloads.filter((p) => p.type === 'payment.problem'),
  };
};

t.test('one payment-problem mail per reference and problem, across kinds', async (t) => {
  const { db } = await testEnv(t);
  const staff = await createUser(db, { role: 'manager' });
  const a = await createPendingOrder(db);
  const b = await createPendingOrder(db);
  const order = async (o: { orderId: string; number: string }) => ({ id: o.orderId, number: o.number });
  const money = (amount: number, currency = 'NGN') => ({ amount, currency });
  const report = (kind: Parameters<typeof recordProblem>[1], o: typeof a, actual = money(1)) =>
    db
      .transaction()
      .execute(async (trx) =>
        recordProblem(trx, kind, await order(o), o.reference, money(o.total), actual, 'http://shop.test'),
      );

  // Payment A does not match its order, noticed first as an amount problem, then as a currency one.
  t.equal(await report('amount_mismatch', a, money(100)), true, 'first report of A: mailed');
  t.equal(
    await report('currency_mismatch', a, money(a.total, 'USD')),
    false,
    'the same problem of A under another kind: not mailed again',
  );
  // Payment B: paid twice, noticed by two paths.
  t.equal(await report('paid_twice', b), true);
  t.equal(await report('paid_twice', b), false, 'paid twice noticed again: not mailed again');
  t.equal(await report('paid_but_cancelled', b), false, 'money to give back, whichever way it was noticed');
  // A different problem of payment A is news.
  t.equal(await report('ours_paid_theirs_not', a, money(a.total)), true);

  const { mails, notices } = await alerts(db);
  t.equal(mails.length, 3, 'three problems, three mails');
  t.ok(mails.every((m) => m.to === staff.email));
  t.same(
    mails.map((m) => `${m.data?.reference}:${m.data?.kind}`).sort(),
    [
      `${a.reference}:amount_mismatch`,
      `${a.reference}:ours_paid_theirs_not`,
      `${b.reference}:paid_twice`,
    ].sort(),
  );
  t.equal(notices.length, 3, 'and three staff socket notices');
  // The record keeps every kind (a discrepancy row each), whatever was mailed.
  const kinds = await db
    .selectFrom('paymentDiscrepancies')
    .select('kind')
    .where('reference', '=', a.reference)
    .orderBy(sql`kind`)
    .execute();
  t.same(
    kinds.map((k) => k.kind),
    ['amount_mismatch', 'currency_mismatch', 'ours_paid_theirs_not'],
  );
});
