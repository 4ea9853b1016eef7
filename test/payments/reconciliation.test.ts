import t from 'tap';
import { sql } from 'kysely';
import { tokenFor } from '../support/harness.js';
import {
  createPendingOrder,
  paymentState,
  startPaymentStack,
  until,
} from '../support/payment-fixtures.js';
import { createUser } from '../support/fixtures.js';
import { registerSchedules, RECONCILIATION_SCHEDULER_ID } from '../../worker/schedules.js';

interface RunItem {
  id: string;
  status: string;
  trigger: string;
  counts: Record<string, number>;
  discrepancies: { kind: string; reference: string; orderId: string | null }[];
}

t.test('reconciliation applies missed payments once and records every kind of mismatch', async (t) => {
  const s = await startPaymentStack(t, { queues: ['payment', 'reconciliation'] });
  const staff = await createUser(s.db, { role: 'manager' });
  const auth = { authorization: tokenFor(s.app, 'manager', staff.id) };

  const matched = await createPendingOrder(s.db, { paystack: s.paystack });
  const missed = await createPendingOrder(s.db, { paystack: s.paystack });
  const under = await createPendingOrder(s.db, { paystack: s.paystack });
  const abandoned = await createPendingOrder(s.db, { paystack: s.paystack });
  const cancelled = await createPendingOrder(s.db, { paystack: s.paystack });
  const oursOnly = await createPendingOrder(s.db, { paystack: s.paystack });

  await s.emu.pay(matched.reference);
  await until(
    async () => (await paymentState(s.db, matched.orderId, matched.variantId)).order.status === 'paid',
  );
  // Paid at Paystack, webhooks lost.
  await s.emu.pay(missed.reference, { webhook: false });
  await s.emu.pay(under.reference, { amount: under.total - 5_000, webhook: false });
  await s.db
    .updateTable('inventory')
    .set({ reserved: 0 })
    .where('variantId', '=', cancelled.variantId)
    .execute();
  await s.db
    .updateTable('orders')
    .set({ status: 'cancelled', reservationReleasedAt: new Date() })
    .where('id', '=', cancelled.orderId)
    .execute();
  await s.emu.pay(cancelled.reference, { webhook: false });
  // A transaction we never initialized (another system on the same integration, or a lost row).
  s.emu.createTransaction({ reference: 'STRANGER-1', amount: 990_000 });
  // Our books say paid, Paystack says abandoned.
  await s.db
    .updateTable('payments')
    .set({ status: 'success', paidAt: new Date(), paidAmount: oursOnly.total, paidCurrency: 'NGN' })
    .where('reference', '=', oursOnly.reference)
    .execute();

  t.equal(
    (await s.app.inject({ method: 'POST', url: '/api/v1/admin/reconciliation/run', payload: {} })).statusCode,
    401,
  );
  t.equal(
    (
      await s.app.inject({
        method: 'POST',
        url: '/api/v1/admin/reconciliation/run',
        headers: { authorization: tokenFor(s.app, 'customer') },
        payload: {},
      })
    ).statusCode,
    403,
  );
  const bad = await s.app.inject({
    method: 'POST',
    url: '/api/v1/admin/reconciliation/run',
    headers: auth,
    payload: { from: new Date().toISOString(), to: new Date(Date.now() - 1000).toISOString() },
  });
  t.equal(bad.statusCode, 400);

  const start = await s.app.inject({
    method: 'POST',
    url: '/api/v1/admin/reconciliation/run',
    headers: auth,
    payload: {},
  });
  t.equal(start.statusCode, 202);
  const { runId } = start.json<{ runId: string }>();

  const run = await until(async () => {
    const res = await s.app.inject({
      method: 'GET',
      url: '/api/v1/admin/reconciliation/runs',
      headers: auth,
    });
    const item = res.json<{ items: RunItem[] }>().items.find((r) => r.id === runId);
    return item?.status === 'completed' ? item : undefined;
  });
  t.equal(run.trigger, 'manual');
  t.match(run.counts, {
    listed: 7,
    successful: 5,
    matched: 1,
    applied: 1,
    notSuccessful: 2,
    discrepancies: 4,
  });
  t.same(
    run.discrepancies.map((d) => `${d.kind}:${d.reference}`).sort(),
    [
      `amount_mismatch:${under.reference}`,
      `ours_paid_theirs_not:${oursOnly.reference}`,
      `paid_but_cancelled:${cancelled.reference}`,
      'unknown_reference:STRANGER-1',
    ].sort(),
  );

  const missedState = await paymentState(s.db, missed.orderId, missed.variantId);
  t.equal(missedState.order.status, 'paid', 'the missed payment is applied');
  t.same(missedState.stock, { onHand: 8, reserved: 0 });
  t.equal((await paymentState(s.db, under.orderId, under.variantId)).order.status, 'pending_payment');
  t.equal((await paymentState(s.db, abandoned.orderId, abandoned.variantId)).order.status, 'pending_payment');
  const rows = await s.db.selectFrom('paymentDiscrepancies').select(['kind', 'reference', 'runId']).execute();
  t.equal(rows.length, 4);
  t.ok(
    rows.every((r) => r.runId === runId),
    'discrepancies point at the run',
  );
  const alerts = () =>
    s.db
      .selectFrom('outbox')
      .select('id')
      .where('name', '=', 'email.send')
      .where(sql<string>`payload->>'template'`, '=', 'payment-problem')
      .execute();
  t.equal((await alerts()).length, 4, 'one staff alert per problem');

  // A second run over the same window: nothing applied twice, the same problems listed, no new alerts.
  const second = (
    await s.app.inject({
      method: 'POST',
      url: '/api/v1/admin/reconciliation/run',
      headers: auth,
      payload: {},
    })
  ).json<{ runId: string }>();
  const run2 = await until(async () => {
    const item = (
      await s.app.inject({ method: 'GET', url: '/api/v1/admin/reconciliation/runs?limit=1', headers: auth })
    ).json<{ items: RunItem[]; nextCursor: string | null }>();
    return item.items[0]?.id === second.runId && item.items[0].status === 'completed' ? item : undefined;
  });
  t.match(run2.items[0].counts, { applied: 0, matched: 3, discrepancies: 4 });
  t.ok(run2.nextCursor, 'a cursor to the older run');
  const page2 = (
    await s.app.inject({
      method: 'GET',
      url: `/api/v1/admin/reconciliation/runs?limit=1&cursor=${run2.nextCursor}`,
      headers: auth,
    })
  ).json<{ items: RunItem[]; nextCursor: string | null }>();
  t.equal(page2.items[0].id, runId);
  t.equal(page2.nextCursor, null);
  t.equal((await alerts()).length, 4, 'no repeated alerts');
  t.equal(
    (await paymentState(s.db, missed.orderId, missed.variantId)).sales.length,
    1,
    'stock committed once',
  );
  t.equal(
    (
      await s.app.inject({
        method: 'GET',
        url: '/api/v1/admin/reconciliation/runs?cursor=nonsense',
        headers: auth,
      })
    ).statusCode,
    400,
  );

  // The daily schedule: 02:00 Lagos time, the same job.
  await registerSchedules(s.worker!.deps.queues, s.config, s.worker!.deps.log);
  const scheduler = await s.worker!.deps.queues.reconciliation.getJobScheduler(RECONCILIATION_SCHEDULER_ID);
  t.match(scheduler, {
    pattern: '0 2 * * *',
    tz: 'Africa/Lagos',
    template: { data: { payload: { trigger: 'schedule' } } },
  });
  t.match(scheduler, { name: 'reconciliation.run' });
});

t.test('a scheduled run (no run id) creates its own run row', async (t) => {
  const s = await startPaymentStack(t, { queues: ['reconciliation'] });
  await s.worker!.deps.queues.reconciliation.add('reconciliation.run', { payload: { trigger: 'schedule' } });
  const run = await until(() =>
    s.db.selectFrom('reconciliationRuns').selectAll().where('status', '=', 'completed').executeTakeFirst(),
  );
  t.equal(run.trigger, 'schedule');
  t.ok(run.windowTo.getTime() - run.windowFrom.getTime() === 48 * 3600_000, '48 hour window');
});
