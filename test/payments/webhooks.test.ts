import t from 'tap';
import { signWebhook } from '../../shared/integrations/paystack/client.js';
import { eventually } from '../support/harness.js';
import {
  createPendingOrder,
  paymentState,
  startPaymentStack,
  until,
} from '../support/payment-fixtures.js';
import { createUser } from '../support/fixtures.js';

const post = (url: string, body: string, signature?: string) =>
  fetch(`${url}/api/v1/webhooks/paystack`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(signature ? { 'x-paystack-signature': signature } : {}),
    },
    body,
  });

t.test('charge.success webhook → verify → paid, once; replays and forgeries change nothing', async (t) => {
  const s = await startPaymentStack(t);
  const staff = await createUser(s.db, { role: 'manager' });
  const o = await createPendingOrder(s.db, { paystack: s.paystack, userId: null, quantity: 2 });

  const { delivery } = await s.emu.pay(o.reference);
  t.equal(delivery?.status, 200, 'webhook acknowledged with 200');

  const paid = await until(async () => {
    const st = await paymentState(s.db, o.orderId, o.variantId);
    return st.order.status === 'paid' ? st : undefined;
  });
  t.equal(paid.order.amountPaid, o.total);
  t.ok(paid.order.paidAt);
  t.match(paid.payments, [{ status: 'success', paidAmount: o.total, paidCurrency: 'NGN' }]);
  t.ok(paid.payments[0].providerTransactionId! > 2 ** 31, 'provider id kept as bigint');
  t.same(paid.stock, { onHand: 8, reserved: 0 }, 'reservation turned into a sale');
  t.equal(paid.sales.length, 1);
  t.same(
    paid.history.map((h) => h.toStatus),
    ['pending_payment', 'paid'],
  );
  const names = paid.outbox.map(
    (j) =>
      `${j.name}:${(j.payload as { template?: string; type?: string }).template ?? (j.payload as { type?: string }).type ?? ''}`,
  );
  t.ok(names.includes('email.send:order-confirmation'), 'confirmation mail queued');
  t.ok(names.includes('invoice.render:'), 'invoice queued');
  t.ok(names.includes('system.notify:order.status_changed'), 'websocket notice queued');
  t.notOk(
    names.some((n) => n.includes('payment-problem')),
    'no alert for a good payment',
  );
  t.notOk(paid.outbox.some((j) => (j.payload as { to?: string }).to === staff.email));
  const event = await s.db.selectFrom('webhookEvents').selectAll().executeTakeFirstOrThrow();
  t.match(event, { event: 'charge.success', result: 'paid' });
  t.ok(event.processedAt);

  // The same bytes again (Paystack retries, attackers replay): 200, nothing changes.
  const replay = await post(s.url, delivery!.body, delivery!.signature);
  t.equal(replay.status, 200);
  t.same(await replay.json(), { received: true, duplicate: true });
  // The same event re-serialised differently (whitespace) is still the same event.
  const reformatted = JSON.stringify(JSON.parse(delivery!.body), null, 2);
  const again = await post(s.url, reformatted, signWebhook(reformatted, s.secretKey));
  t.same(await again.json(), { received: true, duplicate: true });
  // A verify job for it anyway (the endpoint, reconciliation) finds it applied.
  const verify = await fetch(`${s.url}/api/v1/payments/${o.reference}/verify`, { method: 'POST' });
  t.match(await verify.json(), { outcome: 'already_applied', orderStatus: 'paid', paymentStatus: 'success' });

  const after = await paymentState(s.db, o.orderId, o.variantId);
  t.same(after.stock, paid.stock, 'stock committed once');
  t.equal(after.history.length, 2, 'one paid history row');
  t.equal(after.order.amountPaid, o.total);
  t.equal(after.outbox.length, paid.outbox.length, 'no second round of jobs');
  t.equal((await s.db.selectFrom('webhookEvents').select('id').execute()).length, 1);

  // Forged (other key) and unsigned webhooks: 401 invalid_signature, nothing stored.
  const forgedBody = JSON.stringify({
    event: 'charge.success',
    data: { id: 1, reference: o.reference, amount: o.total, currency: 'NGN', status: 'success' },
  });
  const forged = await post(s.url, forgedBody, signWebhook(forgedBody, 'sk_test_not_ours'));
  t.equal(forged.status, 401);
  t.match(await forged.json(), { code: 'invalid_signature', status: 401 });
  const unsigned = await post(s.url, forgedBody);
  t.equal(unsigned.status, 401);
  t.match(await unsigned.json(), { code: 'invalid_signature' });
  const garbage = await post(s.url, forgedBody, 'zz');
  t.equal(garbage.status, 401);
  t.equal((await s.db.selectFrom('webhookEvents').select('id').execute()).length, 1, 'forgeries not stored');
});

t.test("a signed webhook's word is not enough: Paystack's verify decides", async (t) => {
  const s = await startPaymentStack(t);
  const o = await createPendingOrder(s.db, { paystack: s.paystack });
  // Correctly signed (e.g. a leaked key, or a test-mode event) but Paystack says the payment is abandoned.
  const body = JSON.stringify({
    event: 'charge.success',
    data: { id: 77, reference: o.reference, amount: o.total, currency: 'NGN', status: 'success' },
  });
  const res = await post(s.url, body, signWebhook(body, s.secretKey));
  t.equal(res.status, 200);
  await eventually(
    async () =>
      (await s.db.selectFrom('webhookEvents').select('result').executeTakeFirst())?.result === 'not_paid',
  );
  const st = await paymentState(s.db, o.orderId, o.variantId);
  t.equal(st.order.status, 'pending_payment');
  t.equal(st.payments[0].status, 'abandoned');
  t.same(st.stock, { onHand: 10, reserved: 2 });

  // Unknown references (other shops on the integration) are accepted and ignored.
  const other = JSON.stringify({
    event: 'charge.success',
    data: { id: 78, reference: 'SOMEONE-ELSE', amount: 5000, currency: 'NGN' },
  });
  t.equal((await post(s.url, other, signWebhook(other, s.secretKey))).status, 200);
  await eventually(
    async () =>
      (
        await s.db
          .selectFrom('webhookEvents')
          .select('result')
          .where('eventKey', '=', 'charge.success:78')
          .executeTakeFirst()
      )?.result === 'unknown_reference',
  );
  // Events we do not act on are stored and answered 200.
  const transfer = JSON.stringify({ event: 'transfer.success', data: { id: 5 } });
  t.equal((await post(s.url, transfer, signWebhook(transfer, s.secretKey))).status, 200);
  t.match(
    await s.db
      .selectFrom('webhookEvents')
      .selectAll()
      .where('event', '=', 'transfer.success')
      .executeTakeFirst(),
    { result: 'ignored' },
  );
  const bad = '{"not":"an event"}';
  t.equal((await post(s.url, bad, signWebhook(bad, s.secretKey))).status, 400);
});

t.test('underpaid and wrong-currency payments are not paid; staff alerted once', async (t) => {
  const s = await startPaymentStack(t);
  const staff = await createUser(s.db, { role: 'manager' });
  const under = await createPendingOrder(s.db, { paystack: s.paystack });
  const wrongCurrency = await createPendingOrder(s.db, { paystack: s.paystack });

  await s.emu.pay(under.reference, { amount: under.total - 100 });
  await s.emu.pay(wrongCurrency.reference, { currency: 'USD' });

  for (const [o, kind] of [
    [under, 'amount_mismatch'],
    [wrongCurrency, 'currency_mismatch'],
  ] as const) {
    const st = await until(async () => {
      const x = await paymentState(s.db, o.orderId, o.variantId);
      return x.payments[0].status === 'mismatch' ? x : undefined;
    });
    t.equal(st.order.status, 'pending_payment', `${kind}: order stays unpaid`);
    t.equal(st.order.amountPaid, 0);
    t.same(st.stock, { onHand: 10, reserved: 2 }, `${kind}: nothing sold`);
    t.match(st.discrepancies, [{ kind, reference: o.reference }]);
  }
  const { outbox } = await paymentState(s.db, under.orderId, under.variantId);
  const alerts = outbox.filter((j) => (j.payload as { template?: string }).template === 'payment-problem');
  t.equal(alerts.length, 2, 'one staff mail per problem');
  t.ok(alerts.every((a) => (a.payload as { to: string }).to === staff.email));
  t.equal(outbox.filter((j) => (j.payload as { type?: string }).type === 'payment.problem').length, 2);
  t.notOk(outbox.some((j) => (j.payload as { template?: string }).template === 'order-confirmation'));

  // Verifying again changes nothing and alerts nobody again.
  const res = await fetch(`${s.url}/api/v1/payments/${under.reference}/verify`, { method: 'POST' });
  t.match(await res.json(), {
    outcome: 'mismatch',
    orderStatus: 'pending_payment',
    paymentStatus: 'mismatch',
  });
  t.equal((await paymentState(s.db, under.orderId, under.variantId)).outbox.length, outbox.length);
});

t.test('a payment for an order that expired meanwhile is recorded and flagged for refund', async (t) => {
  const s = await startPaymentStack(t);
  await createUser(s.db, { role: 'manager' });
  const o = await createPendingOrder(s.db, { paystack: s.paystack });
  // Expiry as the inventory job does it: release, cancel.
  await s.db.updateTable('inventory').set({ reserved: 0 }).where('variantId', '=', o.variantId).execute();
  await s.db
    .updateTable('orders')
    .set({ status: 'cancelled', cancelledAt: new Date(), reservationReleasedAt: new Date() })
    .where('id', '=', o.orderId)
    .execute();

  await s.emu.pay(o.reference);
  const st = await until(async () => {
    const x = await paymentState(s.db, o.orderId, o.variantId);
    return x.payments[0].status === 'success' ? x : undefined;
  });
  t.equal(st.order.status, 'cancelled', 'a cancelled order is not revived');
  t.equal(st.order.needsRefund, true);
  t.equal(st.order.amountPaid, o.total, 'the money is on the books');
  t.match(st.discrepancies, [{ kind: 'paid_but_cancelled', reference: o.reference }]);
  t.same(st.stock, { onHand: 10, reserved: 0 }, 'nothing sold');
  t.ok(st.outbox.some((j) => (j.payload as { template?: string }).template === 'payment-problem'));
});

t.test('a missed webhook is found by the verify endpoint; many calls at once apply it once', async (t) => {
  const s = await startPaymentStack(t, { worker: false });
  const o = await createPendingOrder(s.db, { paystack: s.paystack });

  const before = await fetch(`${s.url}/api/v1/payments/${o.reference}/verify`, { method: 'POST' });
  t.match(await before.json(), {
    outcome: 'not_paid',
    orderStatus: 'pending_payment',
    providerStatus: 'abandoned',
  });

  await s.emu.pay(o.reference, { webhook: false });
  const answers = await Promise.all(
    Array.from({ length: 8 }, () =>
      fetch(`${s.url}/api/v1/payments/${o.reference}/verify`, { method: 'POST' }).then(
        (r) => r.json() as Promise<{ outcome: string; orderStatus: string }>,
      ),
    ),
  );
  t.equal(answers.filter((a) => a.outcome === 'paid').length, 1, 'exactly one call applied it');
  t.ok(answers.every((a) => a.orderStatus === 'paid' || a.outcome === 'paid'));
  const st = await paymentState(s.db, o.orderId, o.variantId);
  t.equal(st.order.status, 'paid');
  t.same(st.stock, { onHand: 8, reserved: 0 });
  t.equal(st.sales.length, 1);
  t.equal(st.history.filter((h) => h.toStatus === 'paid').length, 1);
  t.equal(st.outbox.filter((j) => j.name === 'invoice.render').length, 1);

  t.equal((await fetch(`${s.url}/api/v1/payments/NOPE-1/verify`, { method: 'POST' })).status, 404);
  t.equal((await fetch(`${s.url}/api/v1/payments/bad%20ref/verify`, { method: 'POST' })).status, 400);
  s.emu.failNext('verify', { status: 500, times: 5 });
  const down = await fetch(`${s.url}/api/v1/payments/${o.reference}/verify`, { method: 'POST' });
  t.equal(down.status, 502);
  t.match(await down.json(), { code: 'payment_provider_unavailable' });
});
