import type { Test } from 'tap';
import t from 'tap';
import { registerSchedules, RESERVATION_EXPIRY_SCHEDULER_ID } from '../../worker/schedules.js';
import { commitOrderReservation, releaseOrderReservation, restockOrderItems } from '../../shared/inventory/index.js';
import { canTransition, orderLinkToken, orderStatuses, transitionOrder, type OrderStatus } from '../../shared/orders/index.js';
import { startPaystackEmulator } from '../support/paystack-emulator.js';
import { eventually, startTestWorker, testEnv } from '../support/harness.js';
import { address, createCoupon, createProduct, createShipping, createUser, expireReservationOf, newKey, startServer, stockOf } from '../support/fixtures.js';

async function setup(t: Test) {
  const emu = await startPaystackEmulator({ secretKey: 'sk_test_orders' });
  t.teardown(() => emu.close());
  const { config, db } = await testEnv(t, { PAYSTACK_BASE_URL: emu.url, PAYSTACK_SECRET_KEY: emu.secretKey });
  const server = await startServer(t, config);
  const ship = await createShipping(db);
  /** A guest order of `quantity` units of a fresh variant (optionally with a coupon). */
  async function guestOrder(opts: { onHand?: number; quantity?: number; couponCode?: string; variantId?: string } = {}) {
    const variantId = opts.variantId ?? (await createProduct(db, [{ onHand: opts.onHand ?? 10 }])).variants[0].id;
    const token = (await server.call('POST', '/cart')).body.token as string;
    const h = { 'x-cart-token': token };
    const added = await server.call('POST', '/cart/items', { headers: h, body: { variantId, quantity: opts.quantity ?? 2 } });
    if (added.status !== 200) throw new Error(JSON.stringify(added.body));
    if (opts.couponCode) await server.call('POST', '/cart/coupon', { headers: h, body: { code: opts.couponCode } });
    const res = await server.call('POST', '/checkout', {
      headers: { ...h, 'idempotency-key': newKey() },
      body: { email: 'guest@example.test', shippingAddress: address, shippingMethodId: ship.id },
    });
    if (res.status !== 201) throw new Error(JSON.stringify(res.body));
    return { order: res.body.order, token, variantId };
  }
  return { emu, config, db, ship, guestOrder, ...server };
}

t.test('every transition of the state machine: allowed ones pass with history, others are 409', async (t) => {
  const { db, guestOrder } = await setup(t);
  const { order } = await guestOrder();
  const matrix: [OrderStatus, OrderStatus, boolean][] = [];
  for (const from of orderStatuses) for (const to of orderStatuses) matrix.push([from, to, canTransition(from, to)]);
  const allowed = matrix.filter(([, , ok]) => ok).map(([f, to]) => `${f}>${to}`);
  t.same(allowed.sort(), [
    'delivered>partially_refunded',
    'delivered>refunded',
    'paid>cancelled',
    'paid>partially_refunded',
    'paid>processing',
    'paid>refunded',
    'partially_refunded>refunded',
    'pending_payment>cancelled',
    'pending_payment>paid',
    'processing>cancelled',
    'processing>partially_refunded',
    'processing>refunded',
    'processing>shipped',
    'shipped>delivered',
    'shipped>partially_refunded',
    'shipped>refunded',
  ]);
  // Against the database: force each `from`, try each `to`.
  for (const [from, to, ok] of matrix) {
    await db.updateTable('orders').set({ status: from }).where('id', '=', order.id).execute();
    const before = (await db.selectFrom('orderStatusHistory').select('id').where('orderId', '=', order.id).execute()).length;
    try {
      await db.transaction().execute((trx) => transitionOrder(trx, order.id, to, { note: 'matrix' }));
      t.ok(ok, `${from} → ${to} allowed`);
      const after = await db.selectFrom('orderStatusHistory').select(['fromStatus', 'toStatus']).where('orderId', '=', order.id).orderBy('id', 'desc').executeTakeFirstOrThrow();
      t.same(after, { fromStatus: from, toStatus: to });
    } catch (err) {
      t.notOk(ok, `${from} → ${to} refused`);
      t.equal((err as { code?: string }).code, 'invalid_transition');
      t.equal((await db.selectFrom('orderStatusHistory').select('id').where('orderId', '=', order.id).execute()).length, before, 'no history for a refused transition');
    }
  }
});

t.test('staff move an order along; shipped sends the shipment email; refused moves are 409', async (t) => {
  const { db, call, bearer, guestOrder } = await setup(t);
  const { order } = await guestOrder();
  const manager = await createUser(db, { role: 'manager' });
  const support = await createUser(db, { role: 'support' });
  const staff = { authorization: bearer('manager', manager.id) };
  const patch = (status: string, extra: object = {}, headers = staff) => call('PATCH', `/admin/orders/${order.id}/status`, { headers, body: { status, ...extra } });

  t.equal((await patch('processing')).status, 409, 'unpaid cannot be processed');
  t.equal((await patch('paid')).status, 400, 'paid is never set by hand');
  t.equal((await patch('processing', {}, { authorization: bearer('support', support.id) })).status, 403);
  t.equal((await call('PATCH', `/admin/orders/${order.id}/status`, { body: { status: 'shipped' } })).status, 401);

  await db.transaction().execute(async (trx) => {
    await transitionOrder(trx, order.id, 'paid');
    t.equal(await commitOrderReservation(trx, order.id), 'committed');
  });
  t.equal((await patch('processing')).status, 200);
  const shipped = await patch('shipped', { trackingNumber: 'GIG-123', carrier: 'GIG Logistics' });
  t.equal(shipped.status, 200);
  t.match(shipped.body, { status: 'shipped', trackingNumber: 'GIG-123', carrier: 'GIG Logistics' });
  const mail = await db.selectFrom('outbox').select('payload').where('name', '=', 'email.send').execute();
  const shipMail = mail.map((m) => m.payload as { template: string; to: string; data: Record<string, unknown>; orderLinkOf?: string }).find((p) => p.template === 'order-shipped');
  t.ok(shipMail, 'shipment email enqueued');
  t.equal(shipMail!.to, 'guest@example.test');
  t.match(shipMail!.data, { number: order.number, trackingNumber: 'GIG-123', carrier: 'GIG Logistics' });
  t.match(shipMail, { orderLinkOf: order.id }, 'the worker adds the signed order link when it sends');
  t.notOk(JSON.stringify(shipMail).includes('token='), 'no token in the payload');
  t.equal((await patch('cancelled')).status, 409, 'a shipped order cannot be cancelled');
  t.equal((await patch('delivered')).status, 200);
  const history = (await call('GET', `/orders/${order.id}`, { headers: staff })).body.history.map((h: { to: string }) => h.to);
  t.same(history, ['pending_payment', 'paid', 'processing', 'shipped', 'delivered']);

  const list = await call('GET', `/admin/orders?status=delivered&q=${order.number.slice(-4)}`, { headers: { authorization: bearer('support', support.id) } });
  t.equal(list.status, 200);
  t.same(list.body.items.map((o: { id: string }) => o.id), [order.id]);
  t.equal((await call('GET', '/admin/orders?q=GUEST@EXAMPLE', { headers: staff })).body.items.length, 1, 'q matches the email');
  t.equal((await call('GET', '/admin/orders?q=ada obi', { headers: staff })).body.items.length, 1, 'q matches the name');
  t.equal((await call('GET', '/admin/orders?q=nobody', { headers: staff })).body.items.length, 0);
  t.equal((await call('GET', '/admin/orders', { headers: { authorization: bearer('customer', manager.id) } })).status, 403);
});

t.test('cancel: the owner while unpaid releases stock and the coupon; staff cancel a paid order (restock, needs refund)', async (t) => {
  const { db, call, bearer, guestOrder, config } = await setup(t);
  const coupon = await createCoupon(db, { kind: 'fixed', value: 1_000, maxRedemptions: 1 });
  const { order, token, variantId } = await guestOrder({ onHand: 5, quantity: 3, couponCode: coupon.code });
  t.match(await stockOf(db, variantId), { onHand: 5, reserved: 3 });
  t.equal((await db.selectFrom('coupons').select('redemptionsCount').where('id', '=', coupon.id).executeTakeFirstOrThrow()).redemptionsCount, 1);

  t.equal((await call('POST', `/orders/${order.id}/cancel`)).status, 404, 'a stranger does not see it');
  const other = await createUser(db);
  t.equal((await call('POST', `/orders/${order.id}/cancel`, { headers: { authorization: bearer('customer', other.id) } })).status, 404);
  const cancelled = await call('POST', `/orders/${order.id}/cancel`, { headers: { 'x-cart-token': token } });
  t.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
  t.equal(cancelled.body.status, 'cancelled');
  t.match(await stockOf(db, variantId), { onHand: 5, reserved: 0 });
  t.equal((await db.selectFrom('coupons').select('redemptionsCount').where('id', '=', coupon.id).executeTakeFirstOrThrow()).redemptionsCount, 0, 'coupon given back');
  const again = await call('POST', `/orders/${order.id}/cancel`, { headers: { 'x-cart-token': token } });
  t.match({ status: again.status, code: again.body.code }, { status: 409, code: 'invalid_transition' }, 'cancelled is not cancellable again by the customer');
  t.equal((await call('POST', `/orders/${order.id}/pay`, { headers: { 'x-cart-token': token } })).status, 409, 'not payable once cancelled');
  // Idempotent helpers: a second release changes nothing.
  t.equal(await db.transaction().execute((trx) => releaseOrderReservation(trx, order.id, 'again')), false);
  t.match(await stockOf(db, variantId), { reserved: 0 });

  // The signed link from the mail opens the order too.
  t.equal((await call('GET', `/orders/${order.id}?token=${orderLinkToken(config, order.id)}`)).status, 200);
  t.equal((await call('GET', `/orders/${order.id}?token=${'x'.repeat(43)}`)).status, 404);

  const paid = await guestOrder({ variantId, quantity: 2 });
  await db.transaction().execute(async (trx) => {
    await transitionOrder(trx, paid.order.id, 'paid');
    await commitOrderReservation(trx, paid.order.id);
  });
  t.match(await stockOf(db, variantId), { onHand: 3, reserved: 0 }, 'sold');
  t.equal(await db.transaction().execute((trx) => commitOrderReservation(trx, paid.order.id)), 'already_committed');
  const refused = await call('POST', `/orders/${paid.order.id}/cancel`, { headers: { 'x-cart-token': paid.token } });
  t.match({ status: refused.status, code: refused.body.code }, { status: 409, code: 'invalid_transition' }, 'customers cannot cancel a paid order (contract: 409)');
  const manager = await createUser(db, { role: 'manager' });
  const byStaff = await call('POST', `/orders/${paid.order.id}/cancel`, { headers: { authorization: bearer('manager', manager.id) } });
  t.equal(byStaff.status, 200);
  t.match(await stockOf(db, variantId), { onHand: 5, reserved: 0 }, 'restocked');
  t.equal((await db.selectFrom('orders').select('needsRefund').where('id', '=', paid.order.id).executeTakeFirstOrThrow()).needsRefund, true);
  t.equal(await db.transaction().execute((trx) => restockOrderItems(trx, paid.order.id, null)), false, 'restocks once');
  const reasons = (await db.selectFrom('inventoryMovements').select(['reason']).where('orderId', '=', paid.order.id).orderBy('id').execute()).map((r) => r.reason);
  t.same(reasons, ['reserve', 'sale', 'restock']);
});

t.test('reservation expiry: the minute job releases stock and coupons; a hold counts until released', async (t) => {
  const { db, call, bearer, guestOrder, config } = await setup(t);
  const coupon = await createCoupon(db, { kind: 'percent', value: 5, maxRedemptions: 10 });
  const a = await guestOrder({ onHand: 4, quantity: 3, couponCode: coupon.code });
  const manager = await createUser(db, { role: 'manager' });
  const inventory = async () => (await call('GET', `/inventory?limit=100`, { headers: { authorization: bearer('manager', manager.id) } })).body.items.find((i: { variantId: string }) => i.variantId === a.variantId);
  t.match(await inventory(), { onHand: 4, reserved: 3, available: 1 });

  await expireReservationOf(db, a.order.id);
  t.match(await inventory(), { reserved: 3, available: 1 }, 'expired but not yet released: still held (available = onHand - reserved)');

  // Lazy expiry: a buyer who needs the units (adding to the cart) releases the expired reservation itself.
  const b = await guestOrder({ variantId: a.variantId, quantity: 4 });
  t.equal(b.order.status, 'pending_payment');
  t.match(await stockOf(db, a.variantId), { onHand: 4, reserved: 4 });
  const first = await call('GET', `/orders/${a.order.id}`, { headers: { 'x-cart-token': a.token } });
  t.equal(first.body.status, 'cancelled');
  t.equal(first.body.history.at(-1).note, 'reservation expired');

  // The job: expire b through the database clock, run the worker's job, watch it release.
  await expireReservationOf(db, b.order.id);
  const worker = await startTestWorker(t, config, { queues: ['inventory'] });
  await worker.deps.queues.inventory.add('inventory.expire-reservations', { payload: {} });
  await eventually(async () => (await db.selectFrom('orders').select('status').where('id', '=', b.order.id).executeTakeFirstOrThrow()).status === 'cancelled');
  t.match(await stockOf(db, a.variantId), { onHand: 4, reserved: 0 });
  t.equal((await db.selectFrom('coupons').select('redemptionsCount').where('id', '=', coupon.id).executeTakeFirstOrThrow()).redemptionsCount, 0, 'coupon redemption given back');
  // Running it again changes nothing.
  await worker.deps.queues.inventory.add('inventory.expire-reservations', { payload: {} });
  await eventually(async () => (await worker.deps.queues.inventory.getCompletedCount()) >= 2);
  t.match(await stockOf(db, a.variantId), { onHand: 4, reserved: 0 });
  t.equal((await db.selectFrom('orderStatusHistory').select('id').where('orderId', '=', b.order.id).execute()).length, 2);

  await registerSchedules(worker.deps.queues, config, worker.deps.log);
  const schedulers = await worker.deps.queues.inventory.getJobSchedulers();
  t.ok(schedulers.some((s) => s.key === RESERVATION_EXPIRY_SCHEDULER_ID && s.pattern === '* * * * *'), 'scheduled every minute');
});

t.test('customers list their own orders with a cursor', async (t) => {
  const { db, call, bearer, ship } = await setup(t);
  const user = await createUser(db);
  const auth = { authorization: bearer('customer', user.id) };
  const { variants } = await createProduct(db, [{ onHand: 50 }]);
  for (let i = 0; i < 3; i++) {
    await call('POST', '/cart/items', { headers: auth, body: { variantId: variants[0].id, quantity: 1 } });
    const r = await call('POST', '/checkout', { headers: { ...auth, 'idempotency-key': newKey() }, body: { shippingAddress: address, shippingMethodId: ship.id } });
    t.equal(r.status, 201);
  }
  const page1 = await call('GET', '/orders?limit=2', { headers: auth });
  t.equal(page1.body.items.length, 2);
  t.ok(page1.body.nextCursor);
  const page2 = await call('GET', `/orders?limit=2&cursor=${page1.body.nextCursor}`, { headers: auth });
  t.equal(page2.body.items.length, 1);
  t.equal(page2.body.nextCursor, null);
  const all = [...page1.body.items, ...page2.body.items].map((o: { id: string }) => o.id);
  t.equal(new Set(all).size, 3);
  t.equal((await call('GET', '/orders?cursor=garbage', { headers: auth })).status, 400);
  t.equal((await call('GET', '/orders')).status, 401);
  const stranger = await createUser(db);
  t.equal((await call('GET', '/orders', { headers: { authorization: bearer('customer', stranger.id) } })).body.items.length, 0);
});
