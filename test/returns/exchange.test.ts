import { randomUUID } from 'node:crypto';
import t from 'tap';
import { enqueue } from '../../shared/outbox.js';
import { expireReturns } from '../../shared/returns/staff.js';
import { address, createShipping } from '../support/fixtures.js';
import { startPaymentStack, until } from '../support/payment-fixtures.js';
import { assertProblem } from '../support/problems.js';
import { deliveredOrder, post, returnRow, staff, stock, type Stack } from './helpers.js';

/** Exchanges: another size of the same product at the same price, held at approval, sold as a zero-total order. */

async function askExchange(stack: Stack, order: Awaited<ReturnType<typeof deliveredOrder>>, variantId = order.otherVariantId) {
  return post(stack, `/orders/${order.orderId}/returns`, order.as, {
    items: [{ orderItemId: order.main.id, quantity: 1, reason: 'wrong_size' }],
    resolution: 'exchange',
    exchange: [{ orderItemId: order.main.id, variantId }],
  });
}

t.test('an exchange: held at approval, released on cancel, sold as a zero-total paid order on receipt', async (t) => {
  const stack = await startPaymentStack(t, { worker: false });
  const { db } = stack;
  const manager = await staff(stack);
  const order = await deliveredOrder(stack, { quantity: 1, otherSizeOnHand: 3 });

  // Only another variant of the same product at the same price.
  const other = await deliveredOrder(stack, { quantity: 1 });
  assertProblem(t, await askExchange(stack, order, other.variantId), 400, 'validation_failed');
  assertProblem(t, await askExchange(stack, order, order.variantId), 400, 'validation_failed');
  await db.updateTable('productVariants').set({ price: 1_200_000 }).where('id', '=', order.otherVariantId).execute();
  assertProblem(t, await askExchange(stack, order), 400, 'validation_failed');
  await db.updateTable('productVariants').set({ price: 1_000_000 }).where('id', '=', order.otherVariantId).execute();

  const first = (await askExchange(stack, order)).json();
  t.match(first, { status: 'requested', resolution: 'exchange', items: [{ exchangeVariantId: order.otherVariantId }] });
  t.same(await stock(db, order.otherVariantId), { onHand: 3, reserved: 0 }, 'nothing held before approval');
  t.equal((await post(stack, `/admin/returns/${first.id}/approve`, manager.auth, {})).statusCode, 200);
  t.same(await stock(db, order.otherVariantId), { onHand: 3, reserved: 1 }, 'held at approval');
  t.equal((await post(stack, `/returns/${first.id}/cancel`, order.as)).statusCode, 200);
  t.same(await stock(db, order.otherVariantId), { onHand: 3, reserved: 0 }, 'released on cancel, once');

  const second = (await askExchange(stack, order)).json();
  t.equal((await post(stack, `/admin/returns/${second.id}/approve`, manager.auth, {})).statusCode, 200);
  const received = await post(stack, `/admin/returns/${second.id}/receive`, manager.auth, {
    items: [{ orderItemId: order.main.id, quantity: 1, condition: 'resellable' }],
  });
  t.equal(received.statusCode, 200, received.body);
  const done = received.json();
  t.match(done, { status: 'completed', exchangeOrderId: String, refundId: null });
  t.same(await stock(db, order.otherVariantId), { onHand: 2, reserved: 0 }, 'the held unit is sold');
  t.same(await stock(db, order.variantId), { onHand: 10, reserved: 0 }, 'the returned unit is back');
  const swap = await db.selectFrom('orders').selectAll().where('id', '=', done.exchangeOrderId).executeTakeFirstOrThrow();
  t.match(swap, { status: 'paid', total: 0, amountPaid: 0, userId: order.customer.id, subtotal: 1_000_000, discount: 1_000_000 });
  const lines = await db.selectFrom('orderItems').select(['variantId', 'quantity', 'unitPrice']).where('orderId', '=', swap.id).execute();
  t.same(lines, [{ variantId: order.otherVariantId, quantity: 1, unitPrice: 1_000_000 }]);
  t.equal((await db.selectFrom('refunds').select('id').where('orderId', '=', order.orderId).execute()).length, 0, 'no money moved');
});

t.test('an exchange reservation racing checkouts for the last unit: exactly one gets it', async (t) => {
  const stack = await startPaymentStack(t, { worker: false, env: { RATE_LIMIT_ALLOWLIST: '127.0.0.1' } });
  const { db, app } = stack;
  const manager = await staff(stack);
  const ship = await createShipping(db, { price: 0 });
  for (let round = 0; round < 3; round++) {
    const order = await deliveredOrder(stack, { quantity: 1, otherSizeOnHand: 1 });
    const ret = (await askExchange(stack, order)).json();
    // Shoppers with the last unit in their carts, checking out while staff approve the swap.
    const carts = await Promise.all(
      [1, 2, 3].map(async () => {
        const cart = await app.inject({ method: 'POST', url: '/api/v1/cart' });
        const token = cart.json<{ token: string }>().token;
        const added = await app.inject({ method: 'POST', url: '/api/v1/cart/items', headers: { 'x-cart-token': token }, payload: { variantId: order.otherVariantId, quantity: 1 } });
        if (added.statusCode !== 200) throw new Error(added.body);
        return token;
      }),
    );
    const [approve, ...checkouts] = await Promise.all([
      post(stack, `/admin/returns/${ret.id}/approve`, manager.auth, {}),
      ...carts.map((token) =>
        app.inject({
          method: 'POST',
          url: '/api/v1/checkout',
          headers: { 'x-cart-token': token, 'idempotency-key': randomUUID() },
          payload: { email: `shopper-${randomUUID().slice(0, 8)}@example.test`, shippingAddress: address, shippingMethodId: ship.id },
        }),
      ),
    ]);
    const winners = [approve, ...checkouts].filter((r) => r.statusCode === 200 || r.statusCode === 201);
    t.equal(winners.length, 1, `round ${round}: one of ${[approve, ...checkouts].map((r) => r.statusCode).join(', ')}`);
    for (const r of [approve, ...checkouts]) if (r.statusCode === 409) t.equal(r.json<{ code: string }>().code, 'insufficient_stock');
    t.same(await stock(db, order.otherVariantId), { onHand: 1, reserved: 1 }, 'one unit, held once');
    t.equal((await returnRow(db, ret.id)).status, approve.statusCode === 200 ? 'approved' : 'requested');
  }
});

t.test('approved returns not received within RETURN_SHIP_DAYS expire and release the exchange hold, once', async (t) => {
  const stack = await startPaymentStack(t, { queues: ['returns-expire'], env: { RETURN_SHIP_DAYS: '3' } });
  const { db } = stack;
  const manager = await staff(stack);
  const order = await deliveredOrder(stack, { quantity: 2 });
  const ret = (await askExchange(stack, order)).json();
  const approved = (await post(stack, `/admin/returns/${ret.id}/approve`, manager.auth, {})).json();
  const days = (Date.parse(approved.expiresAt) - Date.now()) / 86_400_000;
  t.ok(days > 2.9 && days <= 3, `expires in RETURN_SHIP_DAYS (${days.toFixed(3)})`);
  const requested = (
    await post(stack, `/orders/${order.orderId}/returns`, order.as, {
      items: [{ orderItemId: order.main.id, quantity: 1, reason: 'other' }],
      resolution: 'refund',
    })
  ).json();

  t.equal(await expireReturns(db), 0, 'nothing is due yet');
  await db.updateTable('returns').set({ expiresAt: new Date(Date.now() - 1000) }).where('id', '=', ret.id).execute();
  t.equal(await expireReturns(db), 1);
  t.equal(await expireReturns(db), 0, 'a second run finds nothing');
  t.match(await returnRow(db, ret.id), { status: 'expired', exchangeHeld: false, expiredAt: Date });
  t.same(await stock(db, order.otherVariantId), { onHand: 5, reserved: 0 }, 'the hold is released once');
  t.equal((await returnRow(db, requested.id)).status, 'requested', 'a request staff have not decided does not expire');
  assertProblem(
    t,
    await post(stack, `/admin/returns/${ret.id}/receive`, manager.auth, { items: [{ orderItemId: order.main.id, quantity: 1, condition: 'damaged' }] }),
    409,
    'invalid_transition',
  );
  const anew = (await askExchange(stack, order)).json();
  t.ok(anew.id, 'the expired return’s unit can be asked back again');
  assertProblem(t, await askExchange(stack, order), 409, 'return_quantity_exceeded');

  // The hourly job does the same, and drops photos no return named within a day.
  t.equal((await post(stack, `/admin/returns/${anew.id}/approve`, manager.auth, {})).statusCode, 200);
  t.same(await stock(db, order.otherVariantId), { onHand: 5, reserved: 1 });
  await db.updateTable('returns').set({ expiresAt: new Date(Date.now() - 1000) }).where('id', '=', anew.id).execute();
  const stale = await db
    .insertInto('returnAttachments')
    .values({ uploaderId: order.customer.id, key: `returns/2026/${randomUUID()}.png`, mime: 'image/png', size: 1, filename: 'x.png', createdAt: new Date(Date.now() - 25 * 3600_000) })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db.transaction().execute((trx) => enqueue(trx, 'returns.expire', {}));
  await until(async () => (await returnRow(db, anew.id)).status === 'expired');
  t.same(await stock(db, order.otherVariantId), { onHand: 5, reserved: 0 });
  await until(async () => !(await db.selectFrom('returnAttachments').select('id').where('id', '=', stale.id).executeTakeFirst()));
});
