/**
 * Store credit as a tender at checkout (CONTRACT part two, "Store credit"): spent in the checkout transaction
 * (a split tender, Paystack asked for the rest, a full cover paid at once), given back once when an unpaid
 * order is cancelled or expires, never twice when Paystack's money arrives late.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import t from 'tap';
import { checkCreditLedger } from '../../shared/credit/ledger-checks.js';
import { expireOrder } from '../../shared/orders/lifecycle.js';
import { applyVerification } from '../../shared/payments/verify.js';
import { assertLedger, creditSetup as setup, TOTAL } from '../support/credit-fixtures.js';
import { expireReservationOf, stockOf } from '../support/fixtures.js';

t.test('full cover is paid at once; a split asks Paystack for the rest; the order shows both tenders', async (t) => {
  const s = await setup(t);
  const { db } = s;
  await s.grant(1_500_000);

  const full = await s.checkout('max');
  t.equal(full.status, 201, JSON.stringify(full.body));
  t.equal(full.body.payment, null, 'no Paystack transaction for a full cover');
  t.match(full.body.order, { status: 'paid', total: TOTAL, amountPaid: TOTAL });
  t.match(full.body.order.payments, [{ method: 'store_credit', amount: TOTAL, status: 'success', attempt: 0 }]);
  t.equal(full.body.order.payments.length, 1);
  t.equal(s.emu.transactions.size, 0, 'Paystack was never asked');
  t.equal(await s.balance(), 1_500_000 - TOTAL);
  t.match(await stockOf(db, s.variantId), { onHand: 499, reserved: 0 }, 'the reservation was sold');
  const outbox = await db.selectFrom('outbox').select(['name', 'payload']).execute();
  t.ok(outbox.some((o) => o.name === 'invoice.render' && (o.payload as { orderId: string }).orderId === full.body.order.id), 'the invoice is rendered, as for any paid order');
  t.ok(
    outbox.some((o) => o.name === 'email.send' && (o.payload as { template: string }).template === 'order-confirmation'),
    'the confirmation mail goes out',
  );
  const notices = outbox.filter((o) => o.name === 'notify.fanout' && (o.payload as { kind: string }).kind === 'credit.changed');
  t.equal(notices.length, 2, 'credit.changed for the grant and for the spend');
  t.match(notices[1].payload, { userIds: [s.customer.id], data: { kind: 'spend', amount: -TOTAL, balanceAfter: 1_500_000 - TOTAL } });
  const read = await s.call('GET', `/orders/${full.body.order.id}`, { headers: s.auth() });
  t.match(read.body, { status: 'paid', payments: [{ method: 'store_credit', amount: TOTAL }] }, 'GET /orders/:id says the same');

  // 425 000 left: a split tender.
  const split = await s.checkout('max');
  t.equal(split.status, 201, JSON.stringify(split.body));
  const credit = 1_500_000 - TOTAL;
  t.match(split.body.order, { status: 'pending_payment', total: TOTAL, amountPaid: 0 });
  t.match(split.body.order.payments, [
    { method: 'store_credit', amount: credit, status: 'success' },
    { method: 'paystack', amount: TOTAL - credit, status: 'initialized' },
  ]);
  t.equal(s.emu.transactions.get(split.body.payment.reference)?.amount, TOTAL - credit, 'Paystack is asked for total − credit');
  t.equal(await s.balance(), 0);

  const verified = await s.payAtPaystack(split.body.payment.reference, TOTAL - credit);
  t.equal(verified.status, 200, JSON.stringify(verified.body));
  const paid = await db.selectFrom('orders').selectAll().where('id', '=', split.body.order.id).executeTakeFirstOrThrow();
  t.match(paid, { status: 'paid', amountPaid: TOTAL }, 'paid when Paystack verified exactly total − credit; the books hold both tenders');

  // A customer with nothing left: an amount is refused whole, "max" simply spends nothing.
  const refused = await s.checkout(1);
  t.equal(refused.status, 409);
  t.equal(refused.body.code, 'insufficient_credit');
  const none = await s.checkout('max');
  t.equal(none.status, 201);
  t.match(none.body.order.payments, [{ method: 'paystack', amount: TOTAL }]);
  const tooMuch = await s.checkout(TOTAL + 1);
  t.equal(tooMuch.status, 400, 'more credit than the total');
  t.equal((await s.checkout(-5)).status, 400);
  t.equal((await s.checkout(100, { userId: null, email: 'guest@example.test' })).body.code, 'insufficient_credit', 'a guest has no credit');
  t.equal((await s.checkout('max', { userId: null, email: 'guest@example.test' })).status, 201, 'a guest with "max" pays by Paystack');

  await assertLedger(t, db, s.customer.id);
  t.same((await checkCreditLedger(db)).discrepancies, [], 'the nightly check finds nothing');
});

t.test('50 checkouts with "max" racing on one balance: never negative, seq gap-free, each spend one order', async (t) => {
  const s = await setup(t);
  const { db } = s;
  const start = 10 * TOTAL + 500_000;
  await s.grant(start);
  const tokens: string[] = [];
  for (let i = 0; i < 50; i++) tokens.push(await s.cartOf());
  // One customer's checkouts queue on their cart's lock in the database. Twelve in flight at a time keeps
  // that queue (and the balance's) full without making the last of 50 wait past the pool's 5 s connection
  // timeout on a loaded machine; every request still races the others on the same account.
  const answers: Awaited<ReturnType<typeof s.checkout>>[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 12 }, async () => {
      while (next < tokens.length) {
        const i = next++;
        answers[i] = await s.checkout('max', { token: tokens[i] });
      }
    }),
  );
  t.same(
    answers.filter((a) => a.status !== 201).map((a) => [a.status, a.body?.code]),
    [],
    'every checkout answered 201',
  );
  const ids = new Set(answers.map((a) => a.body.order.id));
  t.equal(ids.size, 50, '50 orders');
  const statuses = answers.map((a) => a.body.order.status);
  t.equal(statuses.filter((x) => x === 'paid').length, 10, 'ten were covered whole');
  const rows = await assertLedger(t, db, s.customer.id);
  t.equal(rows.length, 1 + 11, 'the grant and eleven spends (ten whole, one of the rest)');
  t.equal(await s.balance(), 0, 'all of it spent, never more');
  const creditPayments = await db
    .selectFrom('payments')
    .select(['orderId', 'amount'])
    .where('provider', '=', 'store_credit')
    .execute();
  t.equal(creditPayments.reduce((n, p) => n + p.amount, 0), start, 'the orders’ credit payments add up to what was spent');
  const split = answers.find((a) => a.body.order.status === 'pending_payment' && a.body.order.payments.length === 2);
  t.match(split?.body.order.payments, [{ method: 'store_credit', amount: 500_000 }, { method: 'paystack', amount: TOTAL - 500_000 }]);
  const check = await checkCreditLedger(db);
  t.same(check.discrepancies, []);
  t.match(check.counts, { creditSpends: 11, creditSpendsOpen: 1 });
});

t.test('a replayed Idempotency-Key spends once', async (t) => {
  const s = await setup(t);
  const { db } = s;
  await s.grant(500_000);
  const key = randomUUID();
  const token = await s.cartOf();
  const [a, b] = await Promise.all([s.checkout(300_000, { key, token }), s.checkout(300_000, { key, token })]);
  const ok = [a, b].filter((r) => r.status === 201);
  t.ok(ok.length >= 1, 'the first answers 201');
  t.ok([a, b].every((r) => r.status === 201 || (r.status === 409 && r.body.code === 'idempotency_in_progress')), 'the other replays or is told to wait');
  const again = await s.checkout(300_000, { key, token });
  t.equal(again.status, 201);
  t.equal(again.headers.get('idempotent-replayed'), 'true');
  t.equal(again.body.order.id, ok[0].body.order.id, 'the same order');
  t.equal(await s.balance(), 200_000, 'spent once');
  t.equal((await s.entries()).filter((e) => e.kind === 'spend').length, 1, 'one spend entry');
  const other = await s.checkout(100_000, { key, token });
  t.equal(other.status, 422, 'the key with another amount');
  t.equal(await s.balance(), 200_000);
  await assertLedger(t, db, s.customer.id);
});

t.test('cancel and expiry give the credit back once; a late payment after is flagged and refunded, never credited twice', async (t) => {
  const s = await setup(t);
  const { db } = s;
  await s.grant(2_000_000);
  const deps = { paystack: s.paystack, publicUrl: s.config.PUBLIC_URL, source: 'verify' as const };

  const cancelled = await s.checkout(300_000);
  const orderId = cancelled.body.order.id as string;
  t.equal(await s.balance(), 1_700_000);
  const cancel = await s.call('POST', `/orders/${orderId}/cancel`, { headers: s.auth() });
  t.equal(cancel.status, 200, JSON.stringify(cancel.body));
  t.equal(await s.balance(), 2_000_000, 'the credit is back');
  const twice = await s.call('POST', `/orders/${orderId}/cancel`, { headers: s.auth() });
  t.equal(twice.status, 409);
  const reversals = (await s.entries()).filter((e) => e.kind === 'spend_reversal');
  t.match(reversals, [{ amount: 300_000, orderId }], 'one spend_reversal');
  t.equal(reversals.length, 1);
  const view = await s.call('GET', `/orders/${orderId}`, { headers: s.auth() });
  t.match(view.body.payments, [{ method: 'store_credit', status: 'reversed' }, { method: 'paystack' }]);
  await t.rejects(
    sql`INSERT INTO credit_entries (account_id, seq, amount, balance_after, kind, order_id, reason)
        VALUES (${s.customer.id}, 99, 1, 1, 'spend_reversal', ${orderId}, 'again')`.execute(db),
    { code: '23505' },
    'the database refuses a second reversal of one order',
  );

  // Expired first, then Paystack's money arrives: the order stays cancelled, the payment is flagged and
  // refunded to Paystack, the credit is not given again.
  const late = await s.checkout(400_000);
  const lateId = late.body.order.id as string;
  await expireReservationOf(db, lateId);
  t.equal(await expireOrder(db, lateId), true);
  t.equal(await s.balance(), 2_000_000);
  await s.emu.pay(late.body.payment.reference, { webhook: false, amount: TOTAL - 400_000 });
  const result = await applyVerification(db, late.body.payment.reference, deps);
  t.equal(result.outcome, 'paid_but_cancelled', 'not a wrong amount: Paystack was owed total − credit');
  const again = await applyVerification(db, late.body.payment.reference, deps);
  t.equal(again.outcome, 'already_applied');
  const lateOrder = await db.selectFrom('orders').selectAll().where('id', '=', lateId).executeTakeFirstOrThrow();
  t.match(lateOrder, { status: 'cancelled', needsRefund: true, amountPaid: TOTAL - 400_000 });
  t.match(
    await db.selectFrom('paymentDiscrepancies').select(['kind', 'reference']).where('orderId', '=', lateId).execute(),
    [{ kind: 'paid_but_cancelled', reference: late.body.payment.reference }],
    'flagged',
  );
  const parts = await db
    .selectFrom('refundParts')
    .innerJoin('refunds', 'refunds.id', 'refundParts.refundId')
    .innerJoin('payments', 'payments.id', 'refundParts.paymentId')
    .select(['refundParts.amount', 'payments.provider', 'refundParts.creditEntryId'])
    .where('refunds.orderId', '=', lateId)
    .execute();
  t.same(parts, [{ amount: TOTAL - 400_000, provider: 'paystack', creditEntryId: null }], 'Paystack’s money goes back to Paystack');
  t.equal(await s.balance(), 2_000_000, 'the credit came back once');
  t.equal((await s.entries()).filter((e) => e.orderId === lateId).length, 2, 'one spend, one reversal, no refund entry');

  // The race itself, a few times: expiry and the late payment at once. Each ends as exactly one of: paid
  // (credit kept spent) or cancelled with one reversal (and the payment flagged).
  for (let i = 0; i < 4; i++) {
    const o = await s.checkout(100_000);
    const id = o.body.order.id as string;
    await expireReservationOf(db, id);
    await s.emu.pay(o.body.payment.reference, { webhook: false, amount: TOTAL - 100_000 });
    await Promise.all([expireOrder(db, id), applyVerification(db, o.body.payment.reference, deps)]);
    await applyVerification(db, o.body.payment.reference, deps);
    const row = await db.selectFrom('orders').select(['status']).where('id', '=', id).executeTakeFirstOrThrow();
    const kinds = (await s.entries()).filter((e) => e.orderId === id).map((e) => e.kind);
    const flagged = await db.selectFrom('paymentDiscrepancies').select('kind').where('orderId', '=', id).execute();
    if (row.status === 'paid') {
      t.same([kinds, flagged.length], [['spend'], 0], `race ${i}: paid, the credit stays spent`);
    } else {
      t.same([row.status, kinds, flagged.map((f) => f.kind)], ['cancelled', ['spend', 'spend_reversal'], ['paid_but_cancelled']], `race ${i}: expired, one reversal, flagged`);
    }
  }
  await assertLedger(t, db, s.customer.id);
  t.same((await checkCreditLedger(db)).discrepancies, [], 'every spend ended as one paid order or one reversal');
});
