import t from 'tap';
import { merchantNoteOf } from '../../shared/payments/refund-binding.js';
import { executeRefund } from '../../shared/payments/refund-execution.js';
import { createPaidOrder } from '../support/fleet-fixtures.js';
import { startTestWorker } from '../support/harness.js';
import { providerIdsOf, startPaymentStack, until } from '../support/payment-fixtures.js';
import {
  idOf,
  impatient,
  orderRow,
  providerRefundOf,
  refundRequest,
  refundRow,
} from '../support/refund-fixtures.js';

/**
 * Which of our refunds a Paystack refund settles. Refund webhooks carry no refund id, amounts repeat,
 * and a create answer can be late or lost: a refund is settled only through the provider refund it is
 * bound to (bound when the create call answers, or claimed by our merchant note), never by amount.
 * Refund jobs are run here by hand (executeRefund, what the `refund.execute` job runs) so each
 * scenario happens in exactly the order it describes; webhooks go through the real API and worker.
 */

type Stack = Awaited<ReturnType<typeof startPaymentStack>>;
/** Waits until `count` stored webhook events whose name starts with `prefix` were handled by the worker. */
const eventsHandled = (stack: Stack, prefix: string, count: number) =>
  until(async () => {
    const rows = await stack.db
      .selectFrom('webhookEvents')
      .select('id')
      .where('event', 'like', `${prefix}%`)
      .where('processedAt', 'is not', null)
      .execute();
    return rows.length >= count;
  });

t.test(
  'two ₦5,000 partial refunds: the second one’s webhook overtakes its create answer and settles it, not the first',
  async (t) => {
    const stack = await startPaymentStack(t, { queues: ['payment'] });
    const { db, emu } = stack;
    const order = await createPaidOrder(db, stack, { price: 500_000, quantity: 2 });
    const r1 = await idOf(refundRequest(stack, order.orderId, { amount: 500_000, reason: 'first dress' }));
    const r2 = await idOf(refundRequest(stack, order.orderId, { amount: 500_000, reason: 'second dress' }));

    // R2's job runs first: Paystack makes R2's refund, processes it and delivers `refund.processed`
    // before its create answer reaches the job.
    let webhookStatus: number | undefined;
    emu.faultNextRefundCreate({
      beforeAnswer: async (p) => {
        webhookStatus = (await emu.settleRefund(p.id, 'processed')).delivery?.status;
      },
      answer: 'late',
      delayMs: 500,
    });
    await executeRefund(db, stack.paystack, r2);
    t.equal(webhookStatus, 200, 'the webhook was accepted while the job still waited for its answer');
    await until(async () => (await refundRow(db, r2)).status === 'processed');
    t.equal((await refundRow(db, r1)).status, 'pending', 'the older refund of the same amount is untouched');
    t.notOk(providerRefundOf(emu, r1), 'and still not sent to Paystack');
    let o = await orderRow(db, order.orderId);
    t.equal(o.amountRefunded, 500_000);
    t.equal(o.status, 'partially_refunded');

    // R1's job runs now: it refunds at Paystack instead of finding itself "already settled".
    await executeRefund(db, stack.paystack, r1);
    const p1 = providerRefundOf(emu, r1);
    t.ok(p1, 'R1 was sent to Paystack');
    await emu.settleRefund(p1!.id, 'processed');
    await until(async () => (await refundRow(db, r1)).status === 'processed');
    o = await orderRow(db, order.orderId);
    const returned = [...emu.refunds.values()]
      .filter((p) => p.transactionReference === order.reference && p.status === 'processed')
      .reduce((sum, p) => sum + p.amount, 0);
    t.equal(emu.refunds.size, 2, 'two refunds at Paystack');
    t.equal(o.amountRefunded, 1_000_000);
    t.equal(o.amountRefunded, returned, 'the books say what the customer got back');
    t.equal(o.status, 'refunded');
  },
);

t.test(
  'refund webhooks out of order, one of them for a refund made in the dashboard: each refund moves only by its own',
  async (t) => {
    const stack = await startPaymentStack(t, { queues: ['payment'] });
    const { db, emu } = stack;
    const order = await createPaidOrder(db, stack, { price: 500_000, quantity: 2 });
    const r1 = await idOf(refundRequest(stack, order.orderId, { amount: 300_000, reason: 'late delivery' }));
    const r2 = await idOf(refundRequest(stack, order.orderId, { amount: 300_000, reason: 'wrong colour' }));
    await executeRefund(db, stack.paystack, r1);
    await executeRefund(db, stack.paystack, r2);
    const p1 = providerRefundOf(emu, r1)!;
    const p2 = providerRefundOf(emu, r2)!;
    // Someone refunded the same amount from the Paystack dashboard: not one of ours.
    const dashboard = await stack.paystack.createRefund({ transaction: order.reference, amount: 300_000 });

    await emu.settleRefund(p1.id, 'failed', { webhook: 'hold' });
    await emu.settleRefund(p2.id, 'processed', { webhook: 'hold' });
    await emu.settleRefund(dashboard.id, 'processed', { webhook: 'hold' });
    const deliveries = await emu.releaseRefundWebhooks({ reverse: true });
    t.same(
      deliveries.map((d) => d?.status),
      [200, 200, 200],
      'the dashboard refund’s event arrives first, ours after, in reverse order',
    );
    await eventsHandled(stack, 'refund.', 3);
    t.equal((await refundRow(db, r1)).status, 'failed', 'R1 failed at Paystack, so it failed here');
    t.equal((await refundRow(db, r2)).status, 'processed');
    const o = await orderRow(db, order.orderId);
    t.equal(o.amountRefunded, 300_000, 'only our processed refund is on the books');
    t.equal(o.status, 'partially_refunded');
  },
);

t.test(
  'a create call that times out after Paystack made the refund: the retry claims it by merchant note, never one of the same amount, never refunds twice',
  async (t) => {
    const stack = await startPaymentStack(t, { worker: false });
    const { db, emu } = stack;
    const order = await createPaidOrder(db, stack, { price: 500_000, quantity: 2 });
    // Staff refunded ₦3,000 from the Paystack dashboard earlier: same amount as ours, not ours.
    const dashboard = await stack.paystack.createRefund({
      transaction: order.reference,
      amount: 300_000,
      merchantNote: 'goodwill, by phone',
    });
    const id = await idOf(refundRequest(stack, order.orderId, { amount: 300_000, reason: 'scuffed shoes' }));

    emu.faultNextRefundCreate({ answer: 'late', delayMs: 1_500 });
    await executeRefund(db, impatient(stack), id).catch(() => undefined);
    const ours = providerRefundOf(emu, id);
    t.ok(ours, 'Paystack made our refund although the call timed out');
    t.equal(emu.refunds.size, 2);
    t.same(await providerIdsOf(db, id), [], 'nothing is bound without an answer');
    t.equal((await refundRow(db, id)).status, 'pending');

    // The job's retry.
    await executeRefund(db, impatient(stack), id);
    t.same(await providerIdsOf(db, id), [ours!.id], 'the retry claimed the refund carrying our note');
    t.not(ours!.id, dashboard.id);
    t.equal(emu.refunds.size, 2, 'no second refund at Paystack');

    // Paystack processes it; the real worker polls it (no webhook) and settles.
    await emu.settleRefund(ours!.id, 'processed', { webhook: 'none' });
    await startTestWorker(t, stack.config, { queues: ['refund'] });
    await until(async () => (await refundRow(db, id)).status === 'processed');
    t.equal((await orderRow(db, order.orderId)).amountRefunded, 300_000);
    t.equal(emu.refunds.size, 2, 'still exactly one refund of ours at Paystack');
  },
);

t.test('two refund jobs at once never adopt one provider refund', async (t) => {
  const stack = await startPaymentStack(t, { worker: false });
  const { db, emu } = stack;
  const order = await createPaidOrder(db, stack, { price: 500_000, quantity: 2 });
  const ra = await idOf(refundRequest(stack, order.orderId, { amount: 300_000, reason: 'a' }));
  const rb = await idOf(refundRequest(stack, order.orderId, { amount: 300_000, reason: 'b' }));
  // RA's first attempt made its refund at Paystack, but the answer never came back.
  emu.faultNextRefundCreate({ answer: 'late', delayMs: 1_500 });
  await executeRefund(db, impatient(stack), ra).catch(() => undefined);
  const pa = providerRefundOf(emu, ra)!;
  t.ok(pa);

  // Both jobs list the transaction's refunds at the same moment, and both see PA unbound.
  emu.gateRefundLists(2);
  await Promise.all([executeRefund(db, stack.paystack, ra), executeRefund(db, stack.paystack, rb)]);
  const [a] = await providerIdsOf(db, ra);
  const [b] = await providerIdsOf(db, rb);
  t.equal(a, pa.id, 'RA claimed its own refund');
  t.ok(b, 'RB is bound');
  t.not(b, a, 'RB did not adopt RA’s refund');
  t.equal(emu.refunds.get(b)?.merchantNote, merchantNoteOf(rb), 'RB made its own, with its own note');
  t.equal(emu.refunds.size, 2);

  // The database refuses a second binding, whatever the code does.
  const dup = await db
    .updateTable('refundParts')
    .set({ providerRefundId: a })
    .where('refundId', '=', rb)
    .execute()
    .catch((err: unknown) => err);
  t.match(dup, { code: '23505' }, 'a provider refund binds to one part only');
});

t.test(
  'a webhook after a lost create answer binds the refund by its note and settles it; a same-amount refund’s webhook does not',
  async (t) => {
    const stack = await startPaymentStack(t, { queues: ['payment'] });
    const { db, emu } = stack;
    const order = await createPaidOrder(db, stack, { price: 500_000, quantity: 2 });
    const dashboard = await stack.paystack.createRefund({ transaction: order.reference, amount: 300_000 });
    const id = await idOf(refundRequest(stack, order.orderId, { amount: 300_000, reason: 'torn hem' }));

    emu.faultNextRefundCreate({ answer: 'drop' });
    await executeRefund(db, stack.paystack, id).catch(() => undefined);
    const ours = providerRefundOf(emu, id)!;
    t.ok(ours, 'made at Paystack, answer lost');

    await emu.settleRefund(dashboard.id, 'processed');
    await eventsHandled(stack, 'refund.processed', 1);
    t.not(
      (await refundRow(db, id)).status,
      'processed',
      'another refund of the same amount settles nothing of ours',
    );
    t.equal((await orderRow(db, order.orderId)).amountRefunded, 0);
    t.same(await providerIdsOf(db, id), [ours.id], 'the signal bound ours by its note meanwhile');

    await emu.settleRefund(ours.id, 'processed');
    await until(async () => (await refundRow(db, id)).status === 'processed');
    t.same(await providerIdsOf(db, id), [ours.id]);
    t.equal((await orderRow(db, order.orderId)).amountRefunded, 300_000);

    // The job's retry finds it settled and asks Paystack for nothing more.
    await executeRefund(db, stack.paystack, id);
    t.equal(emu.refunds.size, 2, 'no second refund at Paystack');
  },
);
