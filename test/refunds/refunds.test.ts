import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import t from 'tap';
import type { Db } from '../../shared/db/index.js';
import { merchantNoteOf } from '../../shared/payments/refund-binding.js';
import { startTestWorker, tokenFor } from '../support/harness.js';
import { providerIdsOf, startPaymentStack, until } from '../support/payment-fixtures.js';
import { createUser } from '../support/fixtures.js';
import { createPaidOrder } from '../support/fleet-fixtures.js';

type Stack = Awaited<ReturnType<typeof startPaymentStack>>;

async function refundRequest(
  stack: Stack,
  orderId: string,
  body: Record<string, unknown>,
  key: string = randomUUID(),
  token?: string,
) {
  return stack.app.inject({
    method: 'POST',
    url: `/api/v1/admin/orders/${orderId}/refunds`,
    headers: { authorization: token ?? tokenFor(stack.app, 'manager'), 'idempotency-key': key },
    payload: body,
  });
}

const refundRow = (db: Db, id: string) =>
  db.selectFrom('refunds').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const orderRow = (db: Db, id: string) =>
  db.selectFrom('orders').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const mails = (db: Db, template: string) =>
  db
    .selectFrom('outbox')
    .select('payload')
    .where('name', '=', 'email.send')
    .where(sql<string>`payload->>'template'`, '=', template)
    .execute()
    .then((rows) => rows.map((r) => r.payload as { to: string; data: Record<string, unknown> }));

/** Waits until the worker has handed the refund to Paystack, and returns the provider's refund id (one part). */
async function providerIdOf(db: Db, refundId: string): Promise<number> {
  return until(async () => (await providerIdsOf(db, refundId))[0] ?? undefined);
}

t.test(
  'partial then full refund, settled by webhooks; over-limit refused; restock returns the items',
  async (t) => {
    const stack = await startPaymentStack(t, { queues: ['payment', 'refund'] });
    const { db, emu } = stack;
    const order = await createPaidOrder(db, stack, { price: 1_000_000, quantity: 2, onHand: 10 });
    t.equal((await orderRow(db, order.orderId)).amountPaid, 2_000_000);

    const unauth = await stack.app.inject({
      method: 'POST',
      url: `/api/v1/admin/orders/${order.orderId}/refunds`,
      payload: {},
    });
    t.equal(unauth.statusCode, 401);
    const customer = await refundRequest(
      stack,
      order.orderId,
      { reason: 'x' },
      randomUUID(),
      tokenFor(stack.app, 'customer'),
    );
    t.equal(customer.statusCode, 403);
    const noKey = await stack.app.inject({
      method: 'POST',
      url: `/api/v1/admin/orders/${order.orderId}/refunds`,
      headers: { authorization: tokenFor(stack.app, 'manager') },
      payload: { reason: 'x' },
    });
    t.equal(noKey.statusCode, 400, 'Idempotency-Key is required');
    t.equal((await refundRequest(stack, randomUUID(), { reason: 'x' })).statusCode, 404);
    t.equal((await refundRequest(stack, order.orderId, { reason: 'x', amount: 0 })).statusCode, 400);

    const over = await refundRequest(stack, order.orderId, { amount: 2_000_001, reason: 'too much' });
    t.equal(over.statusCode, 409);
    t.equal(over.json().code, 'refund_exceeds_paid');

    const partial = await refundRequest(stack, order.orderId, {
      amount: 500_000,
      reason: 'one dress damaged',
    });
    t.equal(partial.statusCode, 202, partial.body);
    t.match(partial.json(), {
      amount: 500_000,
      currency: 'NGN',
      status: 'pending',
      reason: 'one dress damaged',
      restock: false,
    });

    const tooMuchNow = await refundRequest(stack, order.orderId, { amount: 1_500_001, reason: 'x' });
    t.equal(tooMuchNow.statusCode, 409, 'a pending refund already holds its part of the paid amount');

    const partialId = partial.json<{ id: string }>().id;
    const providerId = await providerIdOf(db, partialId);
    t.equal(emu.refunds.get(providerId)?.amount, 500_000, 'Paystack was asked for exactly the refund amount');
    t.equal((await refundRow(db, partialId)).status, 'processing');
    await emu.settleRefund(providerId, 'processed');
    await until(async () => (await refundRow(db, partialId)).status === 'processed');
    let o = await orderRow(db, order.orderId);
    t.equal(o.status, 'partially_refunded');
    t.equal(o.amountRefunded, 500_000);
    const refundMails = await mails(db, 'refund');
    t.equal(refundMails.length, 1, 'the customer gets one refund email');
    t.equal(refundMails[0].to, order.email);
    t.match(refundMails[0].data, { amount: 500_000, currency: 'NGN', orderNumber: order.number });

    // The rest (default amount = what is left), with restock.
    const stockBefore = await db
      .selectFrom('inventory')
      .select('onHand')
      .where('variantId', '=', order.variantId)
      .executeTakeFirstOrThrow();
    const rest = await refundRequest(stack, order.orderId, {
      reason: 'customer returned everything',
      restock: true,
    });
    t.equal(rest.statusCode, 202, rest.body);
    t.equal(rest.json().amount, 1_500_000, 'default amount is what remains');
    const restId = rest.json<{ id: string }>().id;
    await emu.settleRefund(await providerIdOf(db, restId), 'processed');
    await until(async () => (await refundRow(db, restId)).status === 'processed');
    o = await orderRow(db, order.orderId);
    t.equal(o.status, 'refunded');
    t.equal(o.amountRefunded, 2_000_000);
    const stockAfter = await db
      .selectFrom('inventory')
      .select('onHand')
      .where('variantId', '=', order.variantId)
      .executeTakeFirstOrThrow();
    t.equal(stockAfter.onHand, stockBefore.onHand + order.quantity, 'restock put the sold units back');
    const history = await db
      .selectFrom('orderStatusHistory')
      .select('toStatus')
      .where('orderId', '=', order.orderId)
      .orderBy('id')
      .execute();
    t.same(history.map((h) => h.toStatus).slice(-2), ['partially_refunded', 'refunded']);

    const nothingLeft = await refundRequest(stack, order.orderId, { reason: 'again' });
    t.equal(nothingLeft.statusCode, 409);
    t.equal(nothingLeft.json().code, 'refund_exceeds_paid');
    t.equal(emu.refunds.size, 2, 'Paystack received exactly two refunds');
  },
);

t.test('20 concurrent full refunds: exactly one is accepted', async (t) => {
  const stack = await startPaymentStack(t, { queues: [], worker: false });
  const order = await createPaidOrder(stack.db, stack);
  const answers = await Promise.all(
    Array.from({ length: 20 }, () => refundRequest(stack, order.orderId, { reason: 'race' })),
  );
  const codes = answers.map((a) => a.statusCode).sort();
  t.same(codes, [202, ...Array<number>(19).fill(409)], 'one 202, nineteen 409');
  t.ok(answers.filter((a) => a.statusCode === 409).every((a) => a.json().code === 'refund_exceeds_paid'));
  const rows = await stack.db
    .selectFrom('refunds')
    .select('amount')
    .where('orderId', '=', order.orderId)
    .execute();
  t.equal(rows.length, 1);
  t.equal(rows[0].amount, order.total);
  const jobs = await stack.db
    .selectFrom('outbox')
    .select('id')
    .where('name', '=', 'refund.execute')
    .execute();
  t.equal(jobs.length, 1, 'one refund.execute job');
});

t.test('Idempotency-Key: same key replays, other body conflicts', async (t) => {
  const stack = await startPaymentStack(t, { worker: false });
  const order = await createPaidOrder(stack.db, stack);
  const key = randomUUID();
  const first = await refundRequest(stack, order.orderId, { amount: 100_000, reason: 'late delivery' }, key);
  const again = await refundRequest(stack, order.orderId, { amount: 100_000, reason: 'late delivery' }, key);
  t.equal(first.statusCode, 202);
  t.equal(again.statusCode, 202);
  t.equal(again.json().id, first.json().id, 'the same refund is returned');
  t.equal(again.headers['idempotent-replayed'], 'true');
  const other = await refundRequest(stack, order.orderId, { amount: 200_000, reason: 'late delivery' }, key);
  t.equal(other.statusCode, 422);
  t.equal(other.json().code, 'idempotency_conflict');
  const count = await stack.db
    .selectFrom('refunds')
    .select('id')
    .where('orderId', '=', order.orderId)
    .execute();
  t.equal(count.length, 1, 'one refund row');
  // A refused request does not burn its key: fixing the body and retrying with the same key works.
  const key2 = randomUUID();
  t.equal(
    (await refundRequest(stack, order.orderId, { amount: 99_999_999, reason: 'x' }, key2)).statusCode,
    409,
  );
  t.equal((await refundRequest(stack, order.orderId, { amount: 50_000, reason: 'x' }, key2)).statusCode, 202);
});

t.test('failed at the provider: refund failed, amount released, staff alerted', async (t) => {
  const stack = await startPaymentStack(t, { queues: ['payment', 'refund'] });
  const { db, emu } = stack;
  const staff = await createUser(db, { role: 'manager' });
  const order = await createPaidOrder(db, stack);
  const res = await refundRequest(stack, order.orderId, { reason: 'wrong size' });
  t.equal(res.statusCode, 202);
  const id = res.json<{ id: string }>().id;
  await emu.settleRefund(await providerIdOf(db, id), 'failed');
  await until(async () => (await refundRow(db, id)).status === 'failed');
  const o = await orderRow(db, order.orderId);
  t.equal(o.status, 'paid', 'the order is unchanged');
  t.equal(o.amountRefunded, 0);
  const alerts = await mails(db, 'payment-problem');
  t.ok(
    alerts.some((m) => m.to === staff.email && m.data.kind === 'refund_failed'),
    'staff mailed about the failed refund',
  );
  t.equal((await mails(db, 'refund')).length, 0, 'no refund email to the customer');
  const notices = await db
    .selectFrom('outbox')
    .select('payload')
    .where('name', '=', 'system.notify')
    .execute();
  t.ok(
    notices.some((n) => (n.payload as { type: string }).type === 'payment.problem'),
    'staff websocket notice',
  );
  const retry = await refundRequest(stack, order.orderId, { reason: 'second try' });
  t.equal(retry.statusCode, 202, 'the released amount can be refunded again');
  t.equal(retry.json().amount, order.total);
});

t.test('a missed webhook: polling settles the refund', async (t) => {
  const stack = await startPaymentStack(t, { queues: ['payment', 'refund'], env: { REFUND_POLL_MS: '100' } });
  const { db, emu } = stack;
  const order = await createPaidOrder(db, stack);
  const res = await refundRequest(stack, order.orderId, { reason: 'poll me' });
  const id = res.json<{ id: string }>().id;
  const providerId = await providerIdOf(db, id);
  emu.setWebhookUrl(undefined); // the webhook never arrives
  await emu.settleRefund(providerId, 'processed');
  await until(async () => (await refundRow(db, id)).status === 'processed');
  t.equal((await orderRow(db, order.orderId)).status, 'refunded');
  t.equal((await mails(db, 'refund')).length, 1);
});

t.test(
  'a retry after a lost answer finds the refund Paystack already made instead of refunding twice',
  async (t) => {
    const stack = await startPaymentStack(t, { worker: false });
    const { db, emu, paystack } = stack;
    const order = await createPaidOrder(db, stack);
    const res = await refundRequest(stack, order.orderId, { amount: 300_000, reason: 'lost answer' });
    const id = res.json<{ id: string }>().id;
    // Our first attempt reached Paystack but its answer never came back (timeout, crash): Paystack holds a
    // refund our row does not know about, carrying our note. Unrelated refunds sit there too, one of the
    // same amount (made in the dashboard): only the note says which one is ours.
    await paystack.createRefund({ transaction: order.reference, amount: 300_000, merchantNote: 'dashboard' });
    const made = await paystack.createRefund({
      transaction: order.reference,
      amount: 300_000,
      merchantNote: merchantNoteOf(id),
    });
    await paystack.createRefund({ transaction: order.reference, amount: 100_000 });
    await startTestWorker(t, stack.config, { queues: ['refund'] });
    t.equal(await providerIdOf(db, id), made.id, 'the existing provider refund was adopted');
    t.equal(emu.refunds.size, 3, 'no further refund was created at Paystack');
  },
);

t.test('staff cancelling a paid order refunds it in full', async (t) => {
  const stack = await startPaymentStack(t, { queues: ['payment', 'refund'] });
  const { db, emu, app } = stack;
  const order = await createPaidOrder(db, stack);
  const res = await app.inject({
    method: 'PATCH',
    url: `/api/v1/admin/orders/${order.orderId}/status`,
    headers: { authorization: tokenFor(app, 'manager') },
    payload: { status: 'cancelled' },
  });
  t.equal(res.statusCode, 200, res.body);
  const [refund] = await db.selectFrom('refunds').selectAll().where('orderId', '=', order.orderId).execute();
  t.ok(refund, 'a refund was created with the cancellation');
  t.equal(refund.amount, order.total, 'for everything paid');
  t.equal((await orderRow(db, order.orderId)).needsRefund, true, 'flagged until the refund settles');
  await emu.settleRefund(await providerIdOf(db, refund.id), 'processed');
  await until(async () => (await refundRow(db, refund.id)).status === 'processed');
  const o = await orderRow(db, order.orderId);
  t.equal(o.status, 'cancelled', 'the order stays cancelled');
  t.equal(o.amountRefunded, order.total);
  t.equal(o.needsRefund, false, 'nothing left to refund');
  const again = await refundRequest(stack, order.orderId, { reason: 'double' });
  t.equal(again.statusCode, 409, 'nothing more can be refunded');
});
