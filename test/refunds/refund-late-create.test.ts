import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { createPaystackClient } from '../../shared/integrations/paystack/client.js';
import { executeRefund } from '../../shared/payments/refund-execution.js';
import { createPaidOrder } from '../support/fleet-fixtures.js';
import { providerIdsOf, startPaymentStack, until } from '../support/payment-fixtures.js';
import { idOf, impatient, providerRefundOf, refundRequest, refundRow } from '../support/refund-fixtures.js';

/**
 * A create-refund call whose answer never came may still be worked on at Paystack: the refund can
 * appear after we gave up waiting, and after the retry has listed the transaction's refunds and found
 * nothing. The retry must not refund again while that earlier call may still land (issue 18, item 2:
 * "a retry after a timeout can refund twice"); once it has had time to land and has not, it may.
 */

type Stack = Awaited<ReturnType<typeof startPaymentStack>>;
const ours = (stack: Stack, refundId: string) =>
  [...stack.emu.refunds.values()].filter(
    (p) => p.merchantNote === providerRefundOf(stack.emu, refundId)?.merchantNote,
  );
const partOf = (stack: Stack, refundId: string) =>
  stack.db.selectFrom('refundParts').selectAll().where('refundId', '=', refundId).executeTakeFirstOrThrow();

t.test(
  'a create call that times out and lands at Paystack only after the retry listed: the retry waits, then claims it; never a second refund',
  async (t) => {
    const stack = await startPaymentStack(t, { worker: false, env: { REFUND_RECREATE_AFTER_MS: '20000' } });
    const { db, emu } = stack;
    const order = await createPaidOrder(db, stack, { price: 500_000, quantity: 2 });
    const id = await idOf(refundRequest(stack, order.orderId, { amount: 300_000, reason: 'scuffed shoes' }));

    // Paystack takes the call, but makes the refund 1.2 s later; the client gives up after 0.3 s.
    emu.faultNextRefundCreate({ createAfterMs: 1_200 });
    const first = await executeRefund(db, impatient(stack), id, {
      recreateAfterMs: stack.config.REFUND_RECREATE_AFTER_MS,
    });
    t.match(first, { outcome: 'executed', parts: [{ outcome: 'error' }] }, 'the first attempt timed out');
    t.equal(emu.refunds.size, 0, 'nothing at Paystack yet');

    // The job's retry comes before the refund has landed: the list is empty, and it must not create.
    const retry = await executeRefund(db, impatient(stack), id, {
      recreateAfterMs: stack.config.REFUND_RECREATE_AFTER_MS,
    });
    t.match(
      retry,
      { outcome: 'executed', parts: [{ outcome: 'error' }] },
      'the retry fails, to be retried later',
    );
    t.same(await providerIdsOf(db, id), []);

    await until(async () => emu.refunds.size > 0);
    // A later retry finds the refund the first call made, carrying our note, and binds it.
    const later = await executeRefund(db, impatient(stack), id, {
      recreateAfterMs: stack.config.REFUND_RECREATE_AFTER_MS,
    });
    t.match(later, { outcome: 'executed', parts: [{ outcome: 'claimed' }] });
    t.equal(emu.refunds.size, 1, 'exactly one refund at Paystack');
    t.same(await providerIdsOf(db, id), [ours(stack, id)[0].id]);
    t.equal((await refundRow(db, id)).status, 'processing');
  },
);

t.test(
  'a create call that timed out and never landed: once the wait is over the refund is created again, once',
  async (t) => {
    const stack = await startPaymentStack(t, { worker: false, env: { REFUND_RECREATE_AFTER_MS: '1000' } });
    const { db, emu } = stack;
    const order = await createPaidOrder(db, stack, { price: 500_000, quantity: 2 });
    const id = await idOf(refundRequest(stack, order.orderId, { amount: 300_000, reason: 'torn hem' }));

    // Paystack hangs and answers nothing (the emulator keeps the call open longer than the client waits).
    emu.failNext('refund', { delayMs: 2_000, status: 504 });
    const first = await executeRefund(db, impatient(stack), id, {
      recreateAfterMs: stack.config.REFUND_RECREATE_AFTER_MS,
    });
    t.match(first, { parts: [{ outcome: 'error' }] });
    t.ok((await partOf(stack, id)).createUncertainSince, 'the unknown outcome is recorded');
    const early = await executeRefund(db, impatient(stack), id, {
      recreateAfterMs: stack.config.REFUND_RECREATE_AFTER_MS,
    });
    t.match(early, { parts: [{ outcome: 'error' }] }, 'within the wait: not created again');
    t.equal(emu.refunds.size, 0);

    await new Promise((r) => setTimeout(r, 1_100));
    const late = await executeRefund(db, impatient(stack), id, {
      recreateAfterMs: stack.config.REFUND_RECREATE_AFTER_MS,
    });
    t.match(late, { parts: [{ outcome: 'created' }] }, 'after the wait: created');
    t.equal(emu.refunds.size, 1);
    t.equal((await partOf(stack, id)).createUncertainSince, null, 'an answer clears the mark');
    t.equal((await refundRow(db, id)).status, 'processing');
  },
);

t.test('a refused connection or a 503 is a certain "not made": the retry creates at once', async (t) => {
  const stack = await startPaymentStack(t, { worker: false, env: { REFUND_RECREATE_AFTER_MS: '60000' } });
  const { db, emu } = stack;
  const order = await createPaidOrder(db, stack, { price: 500_000, quantity: 2 });
  const id = await idOf(refundRequest(stack, order.orderId, { amount: 300_000, reason: 'wrong size' }));

  const opts = { recreateAfterMs: stack.config.REFUND_RECREATE_AFTER_MS };
  emu.failNext('refund', { status: 503 });
  t.match(await executeRefund(db, stack.paystack, id, opts), { parts: [{ outcome: 'error' }] });
  t.equal((await partOf(stack, id)).createUncertainSince, null);
  // Only the create call finds the port closed (the list before it got through).
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const { port } = closed.address() as AddressInfo;
  await new Promise((r) => closed.close(r));
  const nowhere = createPaystackClient({ secretKey: stack.secretKey, baseUrl: `http://127.0.0.1:${port}` });
  const refusing = { ...stack.paystack, createRefund: nowhere.createRefund };
  t.match(await executeRefund(db, refusing, id, opts), {
    parts: [{ outcome: 'error', error: { unsent: true } }],
  });
  t.equal((await partOf(stack, id)).createUncertainSince, null, 'a refused connection made nothing');
  t.match(
    await executeRefund(db, stack.paystack, id, { recreateAfterMs: stack.config.REFUND_RECREATE_AFTER_MS }),
    { parts: [{ outcome: 'created' }] },
  );
  t.equal(emu.refunds.size, 1);
});

t.test('executeRefund keeps the wait when not given a config (default: a minute)', async (t) => {
  const stack = await startPaymentStack(t, { worker: false });
  const { db, emu } = stack;
  const order = await createPaidOrder(db, stack, { price: 500_000, quantity: 2 });
  const id = await idOf(refundRequest(stack, order.orderId, { amount: 300_000, reason: 'late' }));
  emu.faultNextRefundCreate({ createAfterMs: 800 });
  await executeRefund(db, impatient(stack), id);
  t.match(await executeRefund(db, impatient(stack), id), { parts: [{ outcome: 'error' }] });
  await until(async () => emu.refunds.size > 0);
  t.match(await executeRefund(db, impatient(stack), id), { parts: [{ outcome: 'claimed' }] });
  t.equal(emu.refunds.size, 1);
});
