/**
 * Store credit as a tender (CONTRACT part two, "Store credit"): spent in the checkout transaction (a split
 * tender, Paystack asked for the rest, a full cover paid at once), given back once when an unpaid order is
 * cancelled or expires, never twice when Paystack's money arrives late; refunds to credit settle at once;
 * the nightly ledger check finds what is wrong and nothing else.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import t, { type Test } from 'tap';
import { checkCreditLedger } from '../../shared/credit/ledger-checks.js';
import type { Db } from '../../shared/db/index.js';
import { expireOrder } from '../../shared/orders/lifecycle.js';
import { startReconciliationRun } from '../../shared/payments/reconciliation-runs.js';
import { runReconciliation } from '../../shared/payments/reconciliation.js';
import { applyVerification } from '../../shared/payments/verify.js';
import { address, createProduct, createShipping, createUser, expireReservationOf, stockOf } from '../support/fixtures.js';
import { tokenFor } from '../support/harness.js';
import { startPaymentStack } from '../support/payment-fixtures.js';

async function setup(t: Test) {
  const stack = await startPaymentStack(t, {
    worker: false,
    // Many checkouts of one customer from this test's one address: not what the per-client caps are for.
    // Twenty connections: racing checkouts of one customer hold theirs while they queue on the cart lock.
    env: { RATE_LIMIT_ALLOWLIST: '127.0.0.1', MAX_OPEN_ORDERS_PER_CLIENT: '1000', DATABASE_POOL_SIZE: '20' },
  });
  const { db, app } = stack;
  const base = `${stack.url}/api/v1`;
  async function call(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  }
  const customer = await createUser(db, { role: 'customer' });
  const auth = (id = customer.id) => ({ authorization: tokenFor(app, 'customer', id) });
  const ship = await createShipping(db, { price: 0 });
  const { variants } = await createProduct(db, [{ price: 1_000_000, onHand: 500 }]);
  const variantId = variants[0].id;

  const grant = async (amount: number, userId = customer.id) => {
    const res = await call('POST', `/admin/users/${userId}/credit`, {
      headers: { authorization: tokenFor(app, 'admin'), 'idempotency-key': randomUUID() },
      body: { amount, reason: 'test grant' },
    });
    if (res.status !== 201) throw new Error(`grant: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  /** A guest cart holding `quantity` of the variant; a signed-in checkout with its token checks it out. */
  const cartOf = async (quantity = 1) => {
    const token = (await call('POST', '/cart')).body.token as string;
    const added = await call('POST', '/cart/items', { headers: { 'x-cart-token': token }, body: { variantId, quantity } });
    if (added.status !== 200) throw new Error(`cart: ${added.status}`);
    return token;
  };
  const checkout = async (
    storeCredit: number | 'max' | undefined,
    o: { key?: string; token?: string; userId?: string | null; email?: string } = {},
  ) => {
    const token = o.token ?? (await cartOf());
    const signedIn = o.userId === null ? {} : auth(o.userId ?? customer.id);
    return call('POST', '/checkout', {
      headers: { ...signedIn, 'x-cart-token': token, 'idempotency-key': o.key ?? randomUUID() },
      body: {
        shippingAddress: address,
        shippingMethodId: ship.id,
        ...(o.email ? { email: o.email } : {}),
        ...(storeCredit === undefined ? {} : { storeCredit }),
      },
    });
  };
  const balance = async (userId = customer.id) =>
    (await db.selectFrom('creditAccounts').select('balance').where('userId', '=', userId).executeTakeFirst())?.balance ?? 0;
  const entries = (userId = customer.id) =>
    db.selectFrom('creditEntries').selectAll().where('accountId', '=', userId).orderBy('seq').execute();
  const refund = (orderId: string, body: Record<string, unknown>) =>
    call('POST', `/admin/orders/${orderId}/refunds`, {
      headers: { authorization: tokenFor(app, 'manager'), 'idempotency-key': randomUUID() },
      body,
    });
  const payAtPaystack = async (reference: string, amount: number) => {
    await stack.emu.pay(reference, { webhook: false, amount });
    return call('POST', `/payments/${reference}/verify`);
  };
  return { ...stack, call, customer, auth, ship, variantId, grant, cartOf, checkout, balance, entries, refund, payAtPaystack };
}

/** The ledger's invariants for one account: seq 1..n, each balanceAfter the running sum (never < 0), balance = Σ. */
async function assertLedger(t: Test, db: Db, userId: string) {
  const rows = await db.selectFrom('creditEntries').select(['seq', 'amount', 'balanceAfter']).where('accountId', '=', userId).orderBy('seq').execute();
  t.same(
    rows.map((e) => e.seq),
    rows.map((_, i) => i + 1),
    'seq is 1..n without a gap',
  );
  let running = 0;
  let ok = true;
  for (const e of rows) {
    running += e.amount;
    if (e.balanceAfter !== running || running < 0) ok = false;
  }
  t.ok(ok, 'every balanceAfter is the running sum and never negative');
  const account = await db.selectFrom('creditAccounts').select('balance').where('userId', '=', userId).executeTakeFirstOrThrow();
  t.equal(account.balance, running, 'balance = Σ entries = the last balanceAfter');
  return rows;
}

const TOTAL = 1_075_000; // 1 000 000 + 7.5% VAT, free shipping

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
  for (let i = 0; i < 6; i++) {
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
});

