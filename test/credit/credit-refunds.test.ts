/**
 * Store credit beyond checkout (CONTRACT part two, "Store credit"): refunds to credit settle at once and
 * count toward "never more than was paid"; grants, credit refunds and spends interleave on one balance;
 * the nightly ledger check finds what is wrong, reports it on the reconciliation run, and nothing else.
 */
import { sql } from 'kysely';
import t from 'tap';
import { checkCreditLedger } from '../../shared/credit/ledger-checks.js';
import { startReconciliationRun } from '../../shared/payments/reconciliation-runs.js';
import { runReconciliation } from '../../shared/payments/reconciliation.js';
import { assertLedger, creditSetup as setup, TOTAL } from '../support/credit-fixtures.js';
import { tokenFor } from '../support/harness.js';

t.test('refunds to store credit settle at once; original refunds Paystack first, then credit; Σ refunds ≤ paid', async (t) => {
  const s = await setup(t);
  const { db } = s;
  await s.grant(300_000);
  const mixed = await s.checkout(300_000);
  const orderId = mixed.body.order.id as string;
  await s.payAtPaystack(mixed.body.payment.reference, TOTAL - 300_000);
  t.equal(await s.balance(), 0);

  const toCredit = await s.refund(orderId, { amount: 100_000, reason: 'goodwill', to: 'store_credit' });
  t.equal(toCredit.status, 202, JSON.stringify(toCredit.body));
  t.match(toCredit.body, { amount: 100_000, to: 'store_credit', status: 'processed' });
  t.equal(toCredit.body.parts.length, 1);
  t.ok(toCredit.body.parts[0].creditEntryId, 'the part names its credit entry');
  t.equal(await s.balance(), 100_000, 'credited at once');
  const mail = await db
    .selectFrom('outbox')
    .select('payload')
    .where('name', '=', 'email.send')
    .where(sql<string>`payload->>'template'`, '=', 'refund')
    .execute();
  t.match(mail, [{ payload: { data: { amount: 100_000, storeCredit: 100_000 } } }], 'the refund mail says it is store credit');
  t.match(await db.selectFrom('orders').selectAll().where('id', '=', orderId).executeTakeFirstOrThrow(), {
    status: 'partially_refunded',
    amountRefunded: 100_000,
  });

  const rest = await s.refund(orderId, { reason: 'returned', to: 'original' });
  t.equal(rest.status, 202, JSON.stringify(rest.body));
  t.equal(rest.body.amount, TOTAL - 100_000, 'everything left by default');
  const byMethod = await db
    .selectFrom('refundParts')
    .innerJoin('payments', 'payments.id', 'refundParts.paymentId')
    .select(['payments.provider', 'refundParts.amount', 'refundParts.status'])
    .where('refundParts.refundId', '=', rest.body.id)
    .orderBy('refundParts.createdAt')
    .execute();
  t.same(
    byMethod.map((p) => [p.provider, p.amount, p.status]).sort(),
    [
      ['paystack', TOTAL - 300_000, 'pending'],
      ['store_credit', 200_000, 'processed'],
    ],
    'Paystack is refunded all it took, the rest goes back as credit, at once',
  );
  t.equal(rest.body.status, 'processing');
  t.equal(await s.balance(), 300_000);
  const over = await s.refund(orderId, { amount: 1, reason: 'more', to: 'store_credit' });
  t.equal(over.status, 409);
  t.equal(over.body.code, 'refund_exceeds_paid', 'never more than was paid, credit included');

  // A Paystack-only order refunded wholly to credit: no Paystack refund at all.
  const card = await s.checkout(undefined);
  await s.payAtPaystack(card.body.payment.reference, TOTAL);
  const asCredit = await s.refund(card.body.order.id, { reason: 'store credit instead', to: 'store_credit' });
  t.match(asCredit.body, { amount: TOTAL, status: 'processed', to: 'store_credit' });
  t.equal(s.emu.refunds.size, 0, 'Paystack was not asked');
  t.equal(await s.balance(), 300_000 + TOTAL);
  t.equal((await db.selectFrom('orders').select('status').where('id', '=', card.body.order.id).executeTakeFirstOrThrow()).status, 'refunded');
  t.equal(
    (await db.selectFrom('outbox').select('name').where('name', '=', 'refund.execute').execute()).length,
    1,
    'only the refund with a Paystack part has a job',
  );

  const guest = await s.checkout(undefined, { userId: null, email: 'guest@example.test' });
  await s.payAtPaystack(guest.body.payment.reference, TOTAL);
  const noAccount = await s.refund(guest.body.order.id, { reason: 'x', to: 'store_credit' });
  t.equal(noAccount.status, 409);
  t.equal(noAccount.body.code, 'no_customer_account');

  const kinds = (await s.entries()).map((e) => [e.kind, e.amount]);
  t.same(kinds, [
    ['grant', 300_000],
    ['spend', -300_000],
    ['refund', 100_000],
    ['refund', 200_000],
    ['refund', TOTAL],
  ]);
  await assertLedger(t, db, s.customer.id);
  t.same((await checkCreditLedger(db)).discrepancies, []);
});

t.test('grants, credit refunds and spends interleaved: balance = Σ entries', async (t) => {
  const s = await setup(t);
  const { db } = s;
  await s.grant(5 * TOTAL);
  const paid = [];
  for (let i = 0; i < 5; i++) paid.push((await s.checkout('max')).body.order.id as string);
  t.equal(await s.balance(), 0);
  const tokens = [];
  for (let i = 0; i < 12; i++) tokens.push(await s.cartOf());
  const moves = [
    ...Array.from({ length: 10 }, () => s.grant(250_000).then(() => 201)),
    ...paid.map((id) => s.refund(id, { amount: 500_000, reason: 'credit back', to: 'store_credit' }).then((r) => r.status)),
    ...tokens.map((token, i) => s.checkout(i % 2 ? 'max' : 200_000, { token }).then((r) => (r.status === 409 ? r.body.code : r.status))),
  ];
  const results = await Promise.all(moves);
  t.ok(
    results.every((r) => r === 201 || r === 202 || r === 'insufficient_credit'),
    `only 201, 202 or insufficient_credit (${JSON.stringify(results)})`,
  );
  await assertLedger(t, db, s.customer.id);
  const check = await checkCreditLedger(db);
  t.same(check.discrepancies, []);
});

t.test('the nightly check finds planted inconsistencies and reports them on the run', async (t) => {
  const s = await setup(t);
  const { db } = s;
  await s.grant(1_000_000);
  const a = await s.checkout(200_000);
  const b = await s.checkout(300_000);
  t.same((await checkCreditLedger(db)).discrepancies, [], 'clean before');

  // A balance moved without an entry; an order cancelled behind the ledger's back.
  await sql`UPDATE credit_accounts SET balance = balance + 1 WHERE user_id = ${s.customer.id}`.execute(db);
  await sql`UPDATE orders SET status = 'cancelled' WHERE id = ${b.body.order.id}`.execute(db);
  const found = await checkCreditLedger(db);
  t.same(
    found.discrepancies.map((d) => [d.kind, d.orderId ?? d.userId]).sort(),
    [
      ['balance_mismatch', s.customer.id],
      ['spend_unresolved', b.body.order.id],
    ].sort(),
  );
  t.match(found.counts, { creditSpends: 2, creditSpendsOpen: 1, creditDiscrepancies: 2 });
  t.ok(a.body.order.id);

  const runId = await db.transaction().execute((trx) => startReconciliationRun(trx, { trigger: 'manual', enqueueJob: false }));
  await runReconciliation(db, runId, { paystack: s.paystack, publicUrl: s.config.PUBLIC_URL });
  const runs = await s.call('GET', '/admin/reconciliation/runs', { headers: { authorization: tokenFor(s.app, 'admin') } });
  t.equal(runs.status, 200, JSON.stringify(runs.body));
  const run = runs.body.items.find((r: { id: string }) => r.id === runId);
  t.match(run, { status: 'completed', counts: { creditDiscrepancies: 2, creditSpends: 2 } });
  t.same(run.creditDiscrepancies.map((d: { kind: string }) => d.kind).sort(), ['balance_mismatch', 'spend_unresolved']);

  // Staff are told about each finding once: the next night's run finds the same and stays quiet.
  const notices = () =>
    db.selectFrom('paymentProblemNotices').select(['subject', 'problem']).where('kind', '=', 'credit_ledger_mismatch').orderBy('subject').execute();
  t.same(await notices(), [
    { subject: `credit:balance_mismatch:${s.customer.id}`, problem: 'ledger_mismatch' },
    { subject: `credit:spend_unresolved:${(await db.selectFrom('creditEntries').select('id').where('orderId', '=', b.body.order.id).where('kind', '=', 'spend').executeTakeFirstOrThrow()).id}`, problem: 'ledger_mismatch' },
  ]);
  const again = await db.transaction().execute((trx) => startReconciliationRun(trx, { trigger: 'manual', enqueueJob: false }));
  await runReconciliation(db, again, { paystack: s.paystack, publicUrl: s.config.PUBLIC_URL });
  t.equal((await notices()).length, 2, 'told once');
});
