import { randomUUID } from 'node:crypto';
import t from 'tap';
import { enqueue } from '../../shared/outbox.js';
import { buildTestApp, eventually, startTestWorker, testEnv, tokenFor } from '../support/harness.js';
import { createPendingOrder, providerIdsOf, startPaymentStack, until } from '../support/payment-fixtures.js';
import { createPaidOrder } from '../support/fleet-fixtures.js';

t.test(
  'a job that fails for good stays in the failed set, is counted in /metrics and is retried from the dashboard',
  async (t) => {
    const { config, db } = await testEnv(t);
    const app = await buildTestApp(t, config);
    const worker = await startTestWorker(t, config, { queues: ['invoice'] });
    const queue = worker.deps.queues.invoice;

    // An invoice for an order that is not paid can never render: the job fails at once, unrecoverably.
    const order = await createPendingOrder(db);
    const jobId = await db
      .transaction()
      .execute((trx) => enqueue(trx, 'invoice.render', { orderId: order.orderId }));
    await eventually(async () => (await queue.getFailedCount()) === 1);
    const failed = await queue.getJob(jobId);
    t.equal(await failed?.getState(), 'failed', 'the job is kept in the failed set');
    t.match(failed?.failedReason, /not been paid/);

    const metrics = await (await fetch(`http://127.0.0.1:${worker.port}/metrics`)).text();
    t.match(
      metrics,
      /agape_jobs_total\{queue="invoice",name="invoice\.render",outcome="failed"\} 1/,
      'final failure counted',
    );
    t.match(metrics, /agape_queue_jobs\{queue="invoice",state="failed"\} 1/, 'failed set size exported');

    // The dashboard's retry is admin-only.
    const retryUrl = `/admin/queues/api/queues/invoice/${jobId}/retry`;
    const asManager = await app.inject({
      method: 'PUT',
      url: retryUrl,
      headers: { authorization: tokenFor(app, 'manager') },
    });
    t.equal(asManager.statusCode, 403);
    t.equal(await failed?.getState(), 'failed');

    // Once the cause is fixed (the order got paid), an admin retries it from the dashboard and it completes.
    await db
      .updateTable('orders')
      .set({ status: 'paid', paidAt: new Date(), amountPaid: order.total })
      .where('id', '=', order.orderId)
      .execute();
    const asAdmin = await app.inject({
      method: 'PUT',
      url: retryUrl,
      headers: { authorization: tokenFor(app, 'admin') },
    });
    t.ok(asAdmin.statusCode < 300, `retry accepted (${asAdmin.statusCode})`);
    await eventually(async () => (await queue.getJob(jobId))?.getState().then((s) => s === 'completed'));
    const invoice = await db
      .selectFrom('invoices')
      .selectAll()
      .where('orderId', '=', order.orderId)
      .executeTakeFirst();
    t.ok(invoice?.renderedAt, 'the retried job rendered the invoice');
    t.equal(await queue.getFailedCount(), 0);
  },
);

t.test('graceful shutdown lets the active job finish', async (t) => {
  const stack = await startPaymentStack(t, { worker: false });
  const { db, emu } = stack;
  const order = await createPaidOrder(db, stack);
  const res = await stack.app.inject({
    method: 'POST',
    url: `/api/v1/admin/orders/${order.orderId}/refunds`,
    headers: { authorization: tokenFor(stack.app, 'manager'), 'idempotency-key': randomUUID() },
    payload: { reason: 'shutdown test' },
  });
  const refundId = res.json<{ id: string }>().id;
  // Paystack answers slowly: the refund job is still in flight when the worker is told to stop.
  emu.failNext('listRefunds', { delayMs: 1_500 });
  const worker = await startTestWorker(t, stack.config, { queues: ['refund'] });
  const queue = worker.deps.queues.refund;
  await until(async () => (await queue.getActiveCount()) === 1);
  await worker.close();
  const refund = await db
    .selectFrom('refunds')
    .selectAll()
    .where('id', '=', refundId)
    .executeTakeFirstOrThrow();
  t.equal((await providerIdsOf(db, refundId)).length, 1, 'the in-flight job finished before the worker stopped');
  t.equal(refund.status, 'processing');
  t.equal(emu.refunds.size, 1, 'one refund at Paystack');
});
