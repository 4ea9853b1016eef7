import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import t from 'tap';
import type { Db } from '../../shared/db/index.js';
import { createPaystackClient, PaystackError } from '../../shared/integrations/paystack/client.js';
import { enqueue } from '../../shared/outbox.js';
import { createRefund } from '../../shared/payments/refund-request.js';
import { markUnverified } from '../../shared/payments/verify.js';
import {
  paystackBackoffStrategy,
  paystackRetryDelay,
  PAYSTACK_BACKOFF,
} from '../../shared/queue-registry.js';
import { registerSchedules } from '../../worker/schedules.js';
import { createPaidOrder } from '../support/fleet-fixtures.js';
import { eventually, startTestWorker, testEnv, tokenFor } from '../support/harness.js';
import {
  createPendingOrder,
  providerIdsOf,
  startPaymentStack,
  until,
} from '../support/payment-fixtures.js';
import { createUser } from '../support/fixtures.js';
import { signWebhook, startPaystackEmulator } from '../support/paystack-emulator.js';

/**
 * Paystack outages (issue 18, item 2): jobs that call Paystack outlast them, a sweep re-drives what they
 * left behind, the expiry asks Paystack before it cancels, a payment landing on a cancelled order is
 * refunded once, and what stays stuck is reported. The emulator's outage mode plays Paystack being down.
 */

type Stack = Awaited<ReturnType<typeof startPaymentStack>>;

const orderOf = (db: Db, id: string) =>
  db.selectFrom('orders').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const paymentOf = (db: Db, reference: string) =>
  db.selectFrom('payments').selectAll().where('reference', '=', reference).executeTakeFirstOrThrow();
const stockOf = (db: Db, variantId: string) =>
  db
    .selectFrom('inventory')
    .select(['onHand', 'reserved'])
    .where('variantId', '=', variantId)
    .executeTakeFirstOrThrow();
const refundsOf = (db: Db, orderId: string) =>
  db.selectFrom('refunds').selectAll().where('orderId', '=', orderId).execute();
const expire = (db: Db, orderId: string, minutesAgo = 1) =>
  sql`UPDATE orders SET reservation_expires_at = now() - make_interval(secs => ${minutesAgo * 60}) WHERE id = ${orderId}`.execute(
    db,
  );
const outboxJobs = (db: Db) =>
  db
    .selectFrom('outbox')
    .select(['name', 'payload'])
    .execute()
    .then((rows) =>
      rows.map((r) => ({
        name: r.name,
        payload: r.payload as {
          template?: string;
          type?: string;
          to?: string;
          data?: Record<string, unknown>;
        },
      })),
    );
const problemMails = async (db: Db) =>
  (await outboxJobs(db)).filter((j) => j.payload.template === 'payment-problem');
const problemNotices = async (db: Db) =>
  (await outboxJobs(db)).filter((j) => j.payload.type === 'payment.problem');

/** Runs the minute job once, as its scheduler would, and waits for it to finish. */
async function runExpiry(stack: Stack) {
  const job = await stack.worker!.deps.queues.inventory.add('inventory.expire-reservations', { payload: {} });
  await eventually(async () => (await job.isCompleted()) || (await job.isFailed()), { timeoutMs: 30_000 });
  return job;
}

const verifyCall = (stack: Stack, reference: string) =>
  fetch(`${stack.url}/api/v1/payments/${reference}/verify`, { method: 'POST' }).then(async (r) => ({
    status: r.status,
    body: (await r.json()) as Record<string, unknown>,
  }));

t.test(
  'emulator outage mode: 5xx for a window, connection refused, late answers; webhooks wait for the end',
  async (t) => {
    const secretKey = `sk_test_${randomUUID().replace(/-/g, '')}`;
    const received: string[] = [];
    const hook = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push(Buffer.concat(chunks).toString());
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise<void>((r) => hook.close(() => r())));
    const emu = await startPaystackEmulator({
      secretKey,
      webhookUrl: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`,
    });
    t.teardown(() => emu.close());
    const client = createPaystackClient({ secretKey, baseUrl: emu.url, retries: 0, timeoutMs: 1_000 });
    await client.initializeTransaction({
      email: 'a@example.test',
      amount: 500_000,
      currency: 'NGN',
      reference: 'OUT-1',
    });

    await emu.startOutage();
    t.equal(emu.down, true);
    const err = await client.verifyTransaction('OUT-1').catch((e: unknown) => e);
    t.ok(
      err instanceof PaystackError && err.status === 503 && err.retryable,
      'every call answers 503 (retryable)',
    );
    t.match(
      await client.listRefunds({ transaction: 'OUT-1' }).catch((e: unknown) => e),
      { status: 503 },
      'refund calls too',
    );
    // Webhooks are held back while Paystack is down, and sent when it returns.
    t.equal((await emu.pay('OUT-1')).delivery, undefined, 'no delivery during the outage');
    await new Promise((r) => setTimeout(r, 100));
    t.equal(received.length, 0);
    // A window that ends by itself.
    await emu.startOutage({ durationMs: 200 });
    await eventually(() => !emu.down, { timeoutMs: 3_000 });
    t.match(await client.verifyTransaction('OUT-1'), { status: 'success' }, 'the window ended by itself');
    await eventually(() => received.length === 1);
    t.match(JSON.parse(received[0]), { event: 'charge.success', data: { reference: 'OUT-1' } });

    await emu.startOutage({ mode: 'refuse' });
    const refused = await client.verifyTransaction('OUT-1').catch((e: unknown) => e);
    t.ok(
      refused instanceof PaystackError && refused.status === 0 && refused.code === 'network_error',
      'connection refused',
    );
    await emu.endOutage();
    t.match(
      await client.verifyTransaction('OUT-1'),
      { status: 'success' },
      'listening again on the same port',
    );

    emu.setLatency(300);
    const started = Date.now();
    await client.verifyTransaction('OUT-1');
    t.ok(Date.now() - started >= 290, 'a slow answer');
    const impatient = createPaystackClient({ secretKey, baseUrl: emu.url, retries: 0, timeoutMs: 100 });
    t.match(
      await impatient.verifyTransaction('OUT-1').catch((e: unknown) => e),
      { code: 'timeout' },
      'late enough to time out',
    );
    emu.setLatency(0);
    t.equal(
      emu.stats.failedByOutage,
      2,
      'the calls an error-mode outage answered (refused ones never arrive)',
    );
  },
);

t.test('jobs that call Paystack retry for 24 h with a capped backoff; other jobs keep theirs', async (t) => {
  const { config, db } = await testEnv(t);
  t.equal(config.PAYSTACK_RETRY_HOURS, 24);
  t.equal(config.PAYSTACK_RETRY_MAX_DELAY_MS, 60_000);
  const worker = await startTestWorker(t, config, { queues: ['system'] });
  const ids = await db.transaction().execute(async (trx) => ({
    refund: await enqueue(trx, 'refund.execute', { refundId: randomUUID() }),
    verify: await enqueue(trx, 'payment.verify', { reference: 'NOPE-1' }),
    webhook: await enqueue(trx, 'payment.webhook', { eventId: randomUUID() }),
    reconcile: await enqueue(trx, 'reconciliation.run', { trigger: 'manual' }),
    mail: await enqueue(trx, 'email.send', { template: 'x', to: 'a@b.c', data: {} }),
  }));
  const { queues } = worker.deps;
  const jobOf = (queue: keyof typeof queues, id: string) =>
    until(async () => (await queues[queue].getJob(id)) ?? undefined);
  const strategy = paystackBackoffStrategy(config);
  for (const [queue, id] of [
    ['refund', ids.refund],
    ['payment', ids.verify],
    ['payment', ids.webhook],
    ['reconciliation', ids.reconcile],
  ] as const) {
    const job = await jobOf(queue, id);
    const attempts = job.opts.attempts ?? 1;
    t.equal(
      job.opts.backoff && typeof job.opts.backoff === 'object' ? job.opts.backoff.type : undefined,
      PAYSTACK_BACKOFF,
      `${job.name}: capped backoff`,
    );
    let shortest = 0;
    let longest = 0;
    for (let n = 1; n < attempts; n++) {
      shortest += paystackRetryDelay(n, config.PAYSTACK_RETRY_MAX_DELAY_MS, 0);
      longest = Math.max(longest, await strategy(n, PAYSTACK_BACKOFF, new Error('503')));
    }
    t.ok(
      shortest >= 24 * 3_600_000,
      `${job.name}: retries span at least 24 h (${(shortest / 3_600_000).toFixed(1)} h over ${attempts} attempts)`,
    );
    t.ok(longest <= 60_000, `${job.name}: never more than the cap between attempts`);
  }
  t.equal(
    await strategy(1, PAYSTACK_BACKOFF, Object.assign(new Error('429'), { retryAfterMs: 30_000 })),
    30_000,
    'a 429 Retry-After is honoured',
  );
  const mail = await jobOf('email', ids.mail);
  t.match(mail.opts, { attempts: 6, backoff: { type: 'exponential' } }, 'non-Paystack jobs keep the default');
});

t.test(
  'before the expiry cancels, it asks Paystack: paid orders are applied, unpaid cancelled, in-progress kept',
  async (t) => {
    const stack = await startPaymentStack(t, { queues: ['inventory'] });
    const { db, emu, paystack } = stack;
    const paid = await createPendingOrder(db, { paystack });
    const abandoned = await createPendingOrder(db, { paystack });
    const ongoing = await createPendingOrder(db, { paystack });
    const neverStarted = await createPendingOrder(db); // initialization never reached Paystack
    await db
      .updateTable('payments')
      .set({ status: 'init_failed' })
      .where('reference', '=', neverStarted.reference)
      .execute();
    // The customer paid just before the reservation ran out; the webhook is late.
    await emu.pay(paid.reference, { webhook: false });
    await emu.pay(ongoing.reference, { status: 'ongoing', webhook: false });
    for (const o of [paid, abandoned, ongoing, neverStarted]) await expire(db, o.orderId);

    await runExpiry(stack);
    const after = async (o: { orderId: string }) => (await orderOf(db, o.orderId)).status;
    t.equal(await after(paid), 'paid', 'paid at Paystack: the payment is applied, not cancelled');
    t.same(await stockOf(db, paid.variantId), { onHand: 8, reserved: 0 }, 'and its reservation sold');
    t.equal((await paymentOf(db, paid.reference)).status, 'success');
    t.equal(await after(abandoned), 'cancelled', 'not paid: cancelled');
    t.same(await stockOf(db, abandoned.variantId), { onHand: 10, reserved: 0 });
    t.equal(await after(ongoing), 'pending_payment', 'payment in progress at Paystack: kept for now');
    t.same(await stockOf(db, ongoing.variantId), { onHand: 10, reserved: 2 });
    t.equal(
      await after(neverStarted),
      'cancelled',
      'an attempt that never reached Paystack needs no question',
    );
    t.equal(emu.refunds.size, 0, 'nothing to refund');
  },
);

t.test(
  'Paystack down at expiry: the order is kept up to PAYMENT_HOLD_MINUTES; a payment landing after is refunded once and reported',
  async (t) => {
    const stack = await startPaymentStack(t, {
      queues: ['inventory', 'refund'],
      env: { PAYMENT_HOLD_MINUTES: '10' },
    });
    const { db, emu, paystack } = stack;
    const staff = await createUser(db, { role: 'manager' });
    const o = await createPendingOrder(db, { paystack });
    await emu.pay(o.reference, { webhook: false });
    await emu.startOutage();
    await expire(db, o.orderId, 1);

    await runExpiry(stack);
    t.equal(
      (await orderOf(db, o.orderId)).status,
      'pending_payment',
      'Paystack unreachable: not cancelled yet',
    );
    t.same(await stockOf(db, o.variantId), { onHand: 10, reserved: 2 }, 'its stock still held');
    t.ok(
      (await paymentOf(db, o.reference)).unverifiedSince,
      'the attempt is marked as waiting for an answer',
    );

    // Past the bound the order is cancelled anyway: an outage never holds stock for good.
    await expire(db, o.orderId, 11);
    await runExpiry(stack);
    t.equal(
      (await orderOf(db, o.orderId)).status,
      'cancelled',
      'cancelled once held PAYMENT_HOLD_MINUTES past its reservation',
    );
    t.same(await stockOf(db, o.variantId), { onHand: 10, reserved: 0 });

    // Paystack returns; the payment the customer made lands on the cancelled order.
    await emu.endOutage();
    const answers = await Promise.all([
      verifyCall(stack, o.reference),
      verifyCall(stack, o.reference),
      verifyCall(stack, o.reference),
    ]);
    t.same(
      answers.map((a) => a.status),
      [200, 200, 200],
    );
    t.same(
      answers.map((a) => a.body.outcome).sort(),
      ['already_applied', 'already_applied', 'paid_but_cancelled'],
      'applied once',
    );
    const refunds = await refundsOf(db, o.orderId);
    t.equal(refunds.length, 1, 'one refund, created automatically');
    t.match(refunds[0], { amount: o.total, currency: 'NGN' });
    await until(async () => (await providerIdsOf(db, (await refundsOf(db, o.orderId))[0].id))[0]);
    const atPaystack = [...emu.refunds.values()].filter((r) => r.transactionReference === o.reference);
    t.equal(atPaystack.length, 1, 'sent to Paystack once');
    t.equal(atPaystack[0].amount, o.total);
    t.equal(
      (await verifyCall(stack, o.reference)).body.outcome,
      'already_applied',
      'verifying again changes nothing',
    );
    t.equal((await refundsOf(db, o.orderId)).length, 1);
    const order = await orderOf(db, o.orderId);
    t.match(order, { status: 'cancelled', amountPaid: o.total, needsRefund: true });
    t.equal((await paymentOf(db, o.reference)).unverifiedSince, null, 'answered: no longer waiting');
    // A verify that failed at Paystack while another call settled the payment must not mark it as waiting.
    await markUnverified(db, (await paymentOf(db, o.reference)).id);
    t.equal((await paymentOf(db, o.reference)).unverifiedSince, null, 'a settled payment is never marked as waiting');
    const mails = await problemMails(db);
    t.equal(mails.length, 1, 'staff told once');
    t.match(mails[0].payload, {
      to: staff.email,
      data: { kind: 'paid_but_cancelled', reference: o.reference, detail: /Refunded automatically/ },
    });
    t.equal((await problemNotices(db)).length, 1, 'one payment.problem notice');
  },
);

t.test(
  'the sweep re-drives a refund whose job is gone, a payment whose verify failed, and an unhandled webhook',
  async (t) => {
    const stack = await startPaymentStack(t, {
      queues: ['payment', 'refund'],
      env: { PAYMENT_SWEEP_MS: '300', PAYSTACK_RETRY_MAX_DELAY_MS: '200' },
    });
    const { db, emu, paystack, config } = stack;

    // A refund whose job gave up long ago (or was lost with Redis): no job drives it any more.
    const paid = await createPaidOrder(db, stack);
    const payment = await paymentOf(db, paid.reference);
    const lost = await db
      .insertInto('refunds')
      .values({
        orderId: paid.orderId,
        amount: 300_000,
        currency: 'NGN',
        reason: 'damaged',
        createdAt: sql<Date>`now() - interval '2 minutes'`,
        updatedAt: sql<Date>`now() - interval '2 minutes'`,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('refundParts')
      .values({ refundId: lost.id, paymentId: payment.id, amount: 300_000, currency: 'NGN' })
      .execute();

    // A customer's verify that failed during an outage: nothing retries a request, and the webhook is lost.
    const unverified = await createPendingOrder(db, { paystack });
    await emu.pay(unverified.reference, { webhook: false });
    await emu.startOutage();
    t.equal((await verifyCall(stack, unverified.reference)).status, 502);
    await emu.endOutage();
    t.equal((await orderOf(db, unverified.orderId)).status, 'pending_payment');

    // A stored charge.success whose job was lost.
    const unhandled = await createPendingOrder(db, { paystack });
    await emu.pay(unhandled.reference, { webhook: false });
    const event = await db
      .insertInto('webhookEvents')
      .values({
        eventKey: `charge.success:${unhandled.reference}`,
        event: 'charge.success',
        payload: JSON.stringify({ event: 'charge.success', data: { reference: unhandled.reference } }),
        receivedAt: sql<Date>`now() - interval '1 minute'`,
      })
      .returning('id')
      .executeTakeFirstOrThrow();

    await registerSchedules(stack.worker!.deps.queues, config, stack.worker!.deps.log);
    // Provider ids first, then the row: read the other way round, the row could predate the binding's commit.
    const refund = await until(async () =>
      (await providerIdsOf(db, lost.id)).length
        ? await db.selectFrom('refunds').selectAll().where('id', '=', lost.id).executeTakeFirstOrThrow()
        : undefined,
    );
    t.equal(refund.status, 'processing', 'the refund reached Paystack');
    t.equal(
      [...emu.refunds.values()].filter((r) => r.transactionReference === paid.reference).length,
      1,
      'once',
    );
    await until(async () => (await orderOf(db, unverified.orderId)).status === 'paid');
    t.equal((await paymentOf(db, unverified.reference)).unverifiedSince, null);
    await until(async () => (await orderOf(db, unhandled.orderId)).status === 'paid');
    // The job marks the event handled after the payment's own commit: wait for that second write.
    const handled = await until(
      async () =>
        (
          await db
            .selectFrom('webhookEvents')
            .select('processedAt')
            .where('id', '=', event.id)
            .executeTakeFirstOrThrow()
        ).processedAt,
    );
    t.ok(handled, 'the stored event is marked handled');

    // Later sweeps leave a refund alone while its status poll is waiting: still one refund at Paystack.
    await new Promise((r) => setTimeout(r, 1_500));
    t.equal([...emu.refunds.values()].filter((r) => r.transactionReference === paid.reference).length, 1);
    const refundJobs = await stack.worker!.deps.queues.refund.getJobs(['waiting', 'delayed', 'active']);
    t.ok(refundJobs.length <= 2, `no pile of re-driven jobs (${refundJobs.length})`);
  },
);

t.test(
  'stuck past PAYMENT_STUCK_MINUTES: one mail per staff and problem, a payment.problem notice, a metric',
  async (t) => {
    const stack = await startPaymentStack(t, {
      queues: ['payment', 'refund'],
      env: { PAYMENT_SWEEP_MS: '200', PAYSTACK_RETRY_MAX_DELAY_MS: '200', PAYMENT_STUCK_MINUTES: '1' },
    });
    const { db, emu, paystack, config } = stack;
    const [manager, admin] = [await createUser(db, { role: 'manager' }), await createUser(db, { role: 'admin' })];
    const paid = await createPaidOrder(db, stack);
    const pending = await createPendingOrder(db, { paystack });
    await emu.pay(pending.reference, { webhook: false });
    await emu.startOutage();

    // A refund Paystack has not accepted for two minutes, and a payment it has not confirmed for as long.
    const refund = await db
      .transaction()
      .execute((trx) => createRefund(trx, { orderId: paid.orderId, reason: 'late parcel' }));
    await sql`UPDATE refunds SET created_at = now() - interval '2 minutes' WHERE id = ${refund.id}`.execute(
      db,
    );
    t.equal((await verifyCall(stack, pending.reference)).status, 502);
    await sql`UPDATE payments SET unverified_since = now() - interval '2 minutes' WHERE reference = ${pending.reference}`.execute(
      db,
    );

    await registerSchedules(stack.worker!.deps.queues, config, stack.worker!.deps.log);
    await until(async () => (await problemMails(db)).length >= 4);
    // Several more sweeps: nothing is reported twice.
    const sweeps = async () =>
      (await stack.worker!.deps.queues.payment.getJobs(['completed'])).filter(
        (j) => j.name === 'payment.sweep',
      ).length;
    const seen = await sweeps();
    await until(async () => (await sweeps()) >= seen + 3);
    const mails = await problemMails(db);
    t.equal(mails.length, 4, 'two problems, two staff: four mails');
    for (const who of [manager, admin]) {
      const theirs = mails.filter((m) => m.payload.to === who.email).map((m) => m.payload.data);
      t.match(
        theirs.sort((a, b) => String(a?.kind).localeCompare(String(b?.kind))),
        [
          { kind: 'payment_unconfirmed', reference: pending.reference, orderId: pending.orderId },
          { kind: 'refund_stuck', refundId: refund.id, orderId: paid.orderId },
        ],
      );
    }
    const notices = await problemNotices(db);
    t.equal(notices.length, 2, 'one staff socket notice per problem');

    const metrics = await (await fetch(`http://127.0.0.1:${stack.worker!.port}/metrics`)).text();
    t.match(metrics, /agape_payments_stuck\{kind="refund"\} 1/);
    t.match(metrics, /agape_payments_stuck\{kind="payment"\} 1/);
    t.match(metrics, /agape_payments_stuck\{kind="webhook"\} 0/);

    // Paystack returns: both settle with no staff action, and the metric drops to zero.
    await emu.endOutage();
    await until(async () => (await orderOf(db, pending.orderId)).status === 'paid');
    await until(async () => (await providerIdsOf(db, refund.id))[0]);
    const after = await (await fetch(`http://127.0.0.1:${stack.worker!.port}/metrics`)).text();
    t.match(after, /agape_payments_stuck\{kind="refund"\} 0/);
    t.match(after, /agape_payments_stuck\{kind="payment"\} 0/);
  },
);

t.test(
  'a short outage: everything pending settles within two minutes of Paystack returning, no staff action',
  async (t) => {
    // Production pace scaled down: backoff capped at 500 ms (60 s), sweep every 500 ms (60 s).
    const stack = await startPaymentStack(t, {
      queues: ['payment', 'refund', 'inventory'],
      env: { PAYSTACK_RETRY_MAX_DELAY_MS: '500', PAYMENT_SWEEP_MS: '500' },
    });
    const { db, emu, paystack, config } = stack;
    const staff = await createUser(db, { role: 'manager' });
    await registerSchedules(stack.worker!.deps.queues, config, stack.worker!.deps.log);

    const toRefund = await createPaidOrder(db, stack);
    const paysDuring = await createPendingOrder(db, { paystack });
    const expiresDuring = await createPendingOrder(db, { paystack });
    const webhookDuring = await createPendingOrder(db, { paystack });

    await emu.startOutage({ mode: 'refuse' });
    const outageStarted = Date.now();
    // Staff refund during the outage: its job fails and keeps retrying.
    const refundRes = await stack.app.inject({
      method: 'POST',
      url: `/api/v1/admin/orders/${toRefund.orderId}/refunds`,
      headers: { authorization: tokenFor(stack.app, 'manager', staff.id), 'idempotency-key': randomUUID() },
      payload: { reason: 'changed mind' },
    });
    t.equal(refundRes.statusCode, 202);
    const refundId = refundRes.json<{ id: string }>().id;
    // A customer pays; the browser's verify gets 502 and the webhook never comes.
    await emu.pay(paysDuring.reference, { webhook: false });
    t.equal((await verifyCall(stack, paysDuring.reference)).status, 502);
    // Another paid at the last second and the reservation runs out during the outage.
    await emu.pay(expiresDuring.reference, { webhook: false });
    await expire(db, expiresDuring.orderId);
    await runExpiry(stack);
    t.equal(
      (await orderOf(db, expiresDuring.orderId)).status,
      'pending_payment',
      'the expiry does not cancel what it cannot check',
    );
    // A webhook reaches us, but its verification cannot.
    await emu.pay(webhookDuring.reference, { webhook: false });
    const body = JSON.stringify({
      event: 'charge.success',
      data: { reference: webhookDuring.reference, id: 1 },
    });
    const hook = await fetch(`${stack.url}/api/v1/webhooks/paystack`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-paystack-signature': signWebhook(body, stack.secretKey),
      },
      body,
    });
    t.equal(hook.status, 200);

    // Two minutes of outage, played as a few seconds.
    await new Promise((r) => setTimeout(r, Math.max(0, 4_000 - (Date.now() - outageStarted))));
    await emu.endOutage();
    const returned = Date.now();
    // The minute job keeps running on its schedule (here: by the test, every 500 ms).
    const ticker = setInterval(
      () => void stack.worker!.deps.queues.inventory.add('inventory.expire-reservations', { payload: {} }),
      500,
    );
    t.teardown(() => clearInterval(ticker));

    const settled = await until(async () => {
      const [refund, a, b, c] = await Promise.all([
        db.selectFrom('refunds').selectAll().where('id', '=', refundId).executeTakeFirstOrThrow(),
        orderOf(db, paysDuring.orderId),
        orderOf(db, expiresDuring.orderId),
        orderOf(db, webhookDuring.orderId),
      ]);
      return (await providerIdsOf(db, refund.id)).length && a.status === 'paid' && b.status === 'paid' && c.status === 'paid'
        ? Date.now()
        : undefined;
    }, 30_000);
    clearInterval(ticker);
    const tookMs = settled - returned;
    t.ok(
      tookMs < 10_000,
      `settled ${tookMs} ms after Paystack returned (two minutes at production pace: 120 s ≙ 10 s here)`,
    );
    t.equal(
      [...emu.refunds.values()].filter((r) => r.transactionReference === toRefund.reference).length,
      1,
      'the refund was sent once',
    );
    t.same(
      await stockOf(db, expiresDuring.variantId),
      { onHand: 8, reserved: 0 },
      'the late payment sold its reservation',
    );
    t.equal((await problemMails(db)).length, 0, 'nothing was stuck long enough to bother staff');
    const unverified = await db
      .selectFrom('payments')
      .select('reference')
      .where('unverifiedSince', 'is not', null)
      .execute();
    t.same(unverified, [], 'no payment left waiting for an answer');
  },
);
