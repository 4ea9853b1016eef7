import { randomUUID } from 'node:crypto';
import t from 'tap';
import { startPaymentStack, until } from '../support/payment-fixtures.js';
import { assertProblem } from '../support/problems.js';
import { processAtPaystack, refundRequest } from '../support/refund-fixtures.js';
import { auditCount, deliveredOrder, post, returnRow, staff, type Stack } from './helpers.js';

/** A return's refund against Paystack's refusals and against staff refunding the same order by hand. */

async function approvedReturn(stack: Stack, manager: { auth: string }, quantity = 1) {
  const order = await deliveredOrder(stack, { quantity: 2, price: 1_000_000 });
  const asked = await post(stack, `/orders/${order.orderId}/returns`, order.as, {
    items: [{ orderItemId: order.main.id, quantity, reason: 'defective' }],
    resolution: 'refund',
  });
  if (asked.statusCode !== 201) throw new Error(asked.body);
  const ret = asked.json<{ id: string; refundEstimate: { amount: number } }>();
  const approved = await post(stack, `/admin/returns/${ret.id}/approve`, manager.auth, {});
  if (approved.statusCode !== 200) throw new Error(approved.body);
  const receive = { items: [{ orderItemId: order.main.id, quantity, condition: 'resellable' }] };
  return { order, ret, receive };
}

t.test('Paystack refuses the refund: the return stays received with refundStatus failed; a retry refunds once', async (t) => {
  const stack = await startPaymentStack(t, { queues: ['payment', 'refund'] });
  const { db, emu } = stack;
  const manager = await staff(stack);
  const { order, ret, receive } = await approvedReturn(stack, manager);

  emu.failNext('refund', { status: 400, message: 'Refund declined by the bank' });
  const received = await post(stack, `/admin/returns/${ret.id}/receive`, manager.auth, receive);
  t.equal(received.statusCode, 200, received.body);
  const failed = await until(async () => {
    const r = await returnRow(db, ret.id);
    return r.refundStatus === 'failed' && r;
  });
  t.equal(failed.status, 'received', 'still received');
  const view = (await stack.app.inject({ method: 'GET', url: `/api/v1/returns/${ret.id}`, headers: { authorization: order.as } })).json();
  t.match(view, { status: 'received', refundStatus: 'failed', refundFailureReason: String });
  t.equal([...emu.refunds.values()].length, 0, 'nothing was refunded at Paystack');

  const retried = await post(stack, `/admin/returns/${ret.id}/retry-refund`, manager.auth);
  t.equal(retried.statusCode, 200, retried.body);
  t.match(retried.json(), { status: 'received', refundStatus: 'pending' });
  assertProblem(t, await post(stack, `/admin/returns/${ret.id}/retry-refund`, manager.auth), 409, 'refund_not_failed');
  t.equal(await auditCount(db, 'return.refund_retried', ret.id), 1);

  const second = retried.json<{ refundId: string }>().refundId;
  await processAtPaystack(db, emu, second);
  const done = await until(async () => {
    const r = await returnRow(db, ret.id);
    return r.status === 'completed' && r;
  });
  t.equal(done.refundAttempts, 2);
  const refunds = await db.selectFrom('refunds').select(['status', 'amount', 'returnAttempt']).where('returnId', '=', ret.id).orderBy('returnAttempt').execute();
  t.same(refunds, [
    { status: 'failed', amount: ret.refundEstimate.amount, returnAttempt: 1 },
    { status: 'processed', amount: ret.refundEstimate.amount, returnAttempt: 2 },
  ]);
  const o = await db.selectFrom('orders').select('amountRefunded').where('id', '=', order.orderId).executeTakeFirstOrThrow();
  t.equal(o.amountRefunded, ret.refundEstimate.amount, 'refunded exactly once');
  t.equal((await db.selectFrom('inventory').select('onHand').where('variantId', '=', order.variantId).executeTakeFirstOrThrow()).onHand, 9, 'restocked once across attempts');
});

t.test('a return refund racing a full manual refund: never more than was paid', async (t) => {
  const stack = await startPaymentStack(t, { queues: ['payment', 'refund'] });
  const { db, emu } = stack;
  const manager = await staff(stack);
  const rounds = await Promise.all([1, 2, 3, 4].map(() => approvedReturn(stack, manager)));
  // One round where the manual refund surely lands first (the race above usually goes to the receive).
  const first = await approvedReturn(stack, manager);
  t.equal((await refundRequest(stack, first.order.orderId, { reason: 'goodwill: all of it' })).statusCode, 202);
  const late = await post(stack, `/admin/returns/${first.ret.id}/receive`, manager.auth, first.receive);
  t.equal(late.statusCode, 200, 'the units are received all the same');
  t.match(late.json(), { status: 'received', refundStatus: 'failed', refundId: null });
  await Promise.all(
    rounds.map(async ({ order, ret, receive }, i) => {
      const racers = [
        () => post(stack, `/admin/returns/${ret.id}/receive`, manager.auth, receive),
        () => refundRequest(stack, order.orderId, { reason: 'goodwill: all of it' }, randomUUID()),
      ];
      // Both orders of arrival.
      const [received, manual] = i % 2 ? await Promise.all(racers.map((r) => r())) : (await Promise.all(racers.reverse().map((r) => r()))).reverse();
      t.equal(received.statusCode, 200, received.body);
      t.equal(manual.statusCode, 202, manual.body);
    }),
  );
  let sawBoth = 0;
  for (const { order, ret } of [...rounds, first]) {
    const refunds = await db.selectFrom('refunds').select(['id', 'amount', 'status', 'returnId']).where('orderId', '=', order.orderId).execute();
    const paid = order.total;
    const held = refunds.filter((r) => r.status !== 'failed').reduce((s, r) => s + r.amount, 0);
    t.equal(held, paid, 'everything paid is refunded, and no more');
    const r = await returnRow(db, ret.id);
    if (r.refundId) {
      sawBoth++;
      t.equal(refunds.find((f) => f.returnId === ret.id)?.amount, ret.refundEstimate.amount, 'the return refunds its units');
    } else {
      t.equal(r.refundStatus, 'failed', 'the manual refund took it all first: the return shows it');
      t.match(r.refundFailureReason, /can still be given back/);
    }
    for (const f of refunds) await processAtPaystack(db, emu, f.id);
    const o = await until(async () => {
      const row = await db.selectFrom('orders').select(['status', 'amountRefunded', 'amountPaid']).where('id', '=', order.orderId).executeTakeFirstOrThrow();
      return row.status === 'refunded' && row;
    });
    t.equal(o.amountRefunded, o.amountPaid);
  }
  t.ok(sawBoth < rounds.length + 1, 'one return found nothing left');
  t.comment(`the return refunded first in ${sawBoth} of ${rounds.length + 1} rounds`);
});
