import t from 'tap';
import type { Test } from 'tap';
import { startPaystackEmulator } from '../support/paystack-emulator.js';
import { testEnv } from '../support/harness.js';
import { address, createCoupon, createProduct, createShipping, createUser, newKey, startServer, stockOf } from '../support/fixtures.js';

/** Many shoppers, all from this test's one address: not what the per-address limits are for. */
const manyShoppers = { RATE_LIMIT_ALLOWLIST: '127.0.0.1' };

async function setup(t: Test, env: Record<string, string> = {}) {
  const emu = await startPaystackEmulator({ secretKey: 'sk_test_commerce' });
  t.teardown(() => emu.close());
  const { config, db } = await testEnv(t, { PAYSTACK_BASE_URL: emu.url, PAYSTACK_SECRET_KEY: emu.secretKey, ...env });
  const server = await startServer(t, config);
  return { emu, config, db, ...server };
}

t.test('a guest fills a cart, applies a coupon, checks out and gets a Paystack authorization URL', async (t) => {
  const { db, call, emu } = await setup(t);
  const { variants } = await createProduct(db, [{ price: 1_000_000, onHand: 5 }, { price: 250_050, onHand: 5 }]);
  const ship = await createShipping(db, { price: 250_000 });
  const coupon = await createCoupon(db, { kind: 'percent', value: 10, code: 'WELCOME10' });

  const created = await call('POST', '/cart');
  t.equal(created.status, 201);
  const token = created.body.token as string;
  t.ok(token && token.length >= 40, 'a guest token is returned once');
  const h = { 'x-cart-token': token };

  t.equal((await call('POST', '/cart/items', { headers: h, body: { variantId: variants[0].id, quantity: 2 } })).status, 200);
  const added = await call('POST', '/cart/items', { headers: h, body: { variantId: variants[1].id, quantity: 1 } });
  t.equal(added.body.items.length, 2);
  const applied = await call('POST', '/cart/coupon', { headers: h, body: { code: coupon.code.toLowerCase() } });
  t.equal(applied.status, 200, 'codes are case-insensitive');
  const cart = await call('GET', `/cart?shippingMethodId=${ship.id}`, { headers: h });
  // subtotal 2 250 050; 10% half-up = 225 005; VAT 7.5% of 2 025 045 = 151 878.375 → 151 878
  t.match(cart.body, { subtotal: 2_250_050, discount: 225_005, shipping: 250_000, tax: 151_878, total: 2_250_050 - 225_005 + 250_000 + 151_878, currency: 'NGN' });
  t.match(cart.body.coupon, { code: 'WELCOME10', applied: true, reason: null });

  const key = newKey();
  const body = { email: 'guest@example.test', shippingAddress: address, shippingMethodId: ship.id };
  const res = await call('POST', '/checkout', { headers: { ...h, 'idempotency-key': key }, body });
  t.equal(res.status, 201, JSON.stringify(res.body));
  t.equal(res.body.order.status, 'pending_payment');
  t.match(res.body.order.number, /^AGP-\d{6}$/);
  t.equal(res.body.order.total, cart.body.total);
  t.equal(res.body.order.items.length, 2);
  t.match(res.body.payment, { reference: /^AGP-[0-9a-f]{32}$/, status: 'initialized', message: null });
  t.match(res.body.order, { trackingNumber: null, carrier: null, paidAt: null, couponCode: 'WELCOME10', invoiceUrl: null });
  t.ok(res.body.payment.authorizationUrl, 'authorization URL from Paystack');
  const trx = emu.transactions.get(res.body.payment.reference);
  t.ok(trx, 'Paystack saw our reference');
  t.equal(trx!.amount, res.body.order.total, 'amount in kobo');
  t.equal(trx!.email, 'guest@example.test');

  t.match(await stockOf(db, variants[0].id), { onHand: 5, reserved: 2 });
  const emptied = await call('GET', '/cart', { headers: h });
  t.equal(emptied.body.items.length, 0, 'the cart is emptied');
  const coupons = await db.selectFrom('coupons').select('redemptionsCount').where('id', '=', coupon.id).executeTakeFirstOrThrow();
  t.equal(coupons.redemptionsCount, 1);
  const history = await db.selectFrom('orderStatusHistory').selectAll().where('orderId', '=', res.body.order.id).execute();
  t.same(history.map((r) => [r.fromStatus, r.toStatus]), [[null, 'pending_payment']]);
  const outbox = await db.selectFrom('outbox').select(['name', 'payload']).execute();
  t.ok(outbox.some((o) => o.name === 'system.notify' && (o.payload as { type: string }).type === 'order.created'), 'staff hear of the order');

  // The guest reads the order with the cart token; a stranger cannot.
  t.equal((await call('GET', `/orders/${res.body.order.id}`, { headers: h })).status, 200);
  t.equal((await call('GET', `/orders/${res.body.order.id}`)).status, 404);

  // Replaying the same key and body answers the same order; another body with the key is 422.
  const again = await call('POST', '/checkout', { headers: { ...h, 'idempotency-key': key }, body });
  t.equal(again.status, 201);
  t.equal(again.headers.get('idempotent-replayed'), 'true');
  t.equal(again.body.order.id, res.body.order.id);
  t.equal(again.body.payment.authorizationUrl, res.body.payment.authorizationUrl);
  const conflict = await call('POST', '/checkout', { headers: { ...h, 'idempotency-key': key }, body: { ...body, email: 'other@example.test' } });
  t.equal(conflict.status, 422);
  t.equal(conflict.body.code, 'idempotency_conflict');
  t.equal(await db.selectFrom('orders').select('id').execute().then((r) => r.length), 1, 'still one order');
});

t.test('a signed-in customer checks out without an email; Paystack failure keeps the order payable', async (t) => {
  const { db, call, bearer, emu } = await setup(t);
  const user = await createUser(db);
  const auth = { authorization: bearer('customer', user.id) };
  const { variants } = await createProduct(db, [{ price: 600_000, onHand: 3 }]);
  const ship = await createShipping(db);
  t.equal((await call('POST', '/cart/items', { headers: auth, body: { variantId: variants[0].id, quantity: 2 } })).status, 200);

  emu.failNext('initialize', { status: 503 });
  const res = await call('POST', '/checkout', { headers: { ...auth, 'idempotency-key': newKey() }, body: { shippingAddress: address, shippingMethodId: ship.id } });
  t.equal(res.status, 201, JSON.stringify(res.body));
  t.equal(res.body.order.email, user.email);
  t.equal(res.body.order.status, 'pending_payment');
  t.match(res.body.payment, { authorizationUrl: null, status: 'init_failed' });
  t.ok(res.body.payment.message);
  t.match(await stockOf(db, variants[0].id), { reserved: 2 });

  const pay = await call('POST', `/orders/${res.body.order.id}/pay`, { headers: auth });
  t.equal(pay.status, 200, JSON.stringify(pay.body));
  t.match(pay.body.reference, /^AGP-[0-9a-f]{32}$/);
  t.not(pay.body.reference, res.body.payment.reference, 'a new attempt reference');
  t.ok(pay.body.authorizationUrl);
  t.match(await stockOf(db, variants[0].id), { reserved: 2 }, 'paying again never reserves again');
  const attempts = await db.selectFrom('payments').select(['attempt', 'status']).where('orderId', '=', res.body.order.id).orderBy('attempt').execute();
  t.same(attempts, [{ attempt: 1, status: 'init_failed' }, { attempt: 2, status: 'initialized' }]);

  const mine = await call('GET', '/orders', { headers: auth });
  t.equal(mine.body.items.length, 1);
  const other = await createUser(db);
  t.equal((await call('GET', `/orders/${res.body.order.id}`, { headers: { authorization: bearer('customer', other.id) } })).status, 404);
  t.equal((await call('POST', `/orders/${res.body.order.id}/pay`, { headers: { authorization: bearer('customer', other.id) } })).status, 404);
});

t.test('idempotency: a key still in flight answers 409; a missing key 400', async (t) => {
  const { db, call, emu } = await setup(t);
  const { variants } = await createProduct(db, [{ onHand: 5 }]);
  const ship = await createShipping(db);
  const token = (await call('POST', '/cart')).body.token;
  await call('POST', '/cart/items', { headers: { 'x-cart-token': token }, body: { variantId: variants[0].id, quantity: 1 } });
  const body = { email: 'a@example.test', shippingAddress: address, shippingMethodId: ship.id };

  const missing = await call('POST', '/checkout', { headers: { 'x-cart-token': token }, body });
  t.equal(missing.status, 400);

  emu.failNext('initialize', { delayMs: 1500 });
  const key = newKey();
  const first = call('POST', '/checkout', { headers: { 'x-cart-token': token, 'idempotency-key': key }, body });
  // Wait until the first call has committed its order and is talking to Paystack.
  for (let i = 0; i < 200 && !(await db.selectFrom('orders').select('id').executeTakeFirst()); i++) await new Promise((r) => setTimeout(r, 10));
  const second = await call('POST', '/checkout', { headers: { 'x-cart-token': token, 'idempotency-key': key }, body });
  t.equal(second.status, 409);
  t.equal(second.body.code, 'idempotency_in_progress');
  const done = await first;
  t.equal(done.status, 201);
  const third = await call('POST', '/checkout', { headers: { 'x-cart-token': token, 'idempotency-key': key }, body });
  t.equal(third.status, 201);
  t.equal(third.body.order.id, done.body.order.id);
  t.equal((await db.selectFrom('orders').select('id').execute()).length, 1);
});

t.test('40 simultaneous checkouts for the last 8 units: exactly 8 orders, no 5xx, never negative', async (t) => {
  const { db, call, bearer } = await setup(t, manyShoppers);
  const { variants } = await createProduct(db, [{ onHand: 8, price: 500_000 }]);
  const ship = await createShipping(db);
  const tokens: string[] = [];
  for (let i = 0; i < 40; i++) {
    const token = (await call('POST', '/cart')).body.token as string;
    t.equal((await call('POST', '/cart/items', { headers: { 'x-cart-token': token }, body: { variantId: variants[0].id, quantity: 1 } })).status, 200);
    tokens.push(token);
  }
  const results = await Promise.all(
    tokens.map((token, i) =>
      call('POST', '/checkout', {
        headers: { 'x-cart-token': token, 'idempotency-key': newKey() },
        body: { email: `buyer${i}@example.test`, shippingAddress: address, shippingMethodId: ship.id },
      }),
    ),
  );
  const statuses = results.map((r) => r.status);
  t.equal(statuses.filter((s) => s === 201).length, 8, 'exactly 8 orders');
  t.equal(statuses.filter((s) => s === 409).length, 32, 'the rest are told the stock ran out');
  t.notOk(statuses.some((s) => s >= 500), 'no 5xx');
  t.ok(results.filter((r) => r.status === 409).every((r) => r.body.code === 'insufficient_stock' && r.body.lines[0].variantId === variants[0].id));
  const stock = await stockOf(db, variants[0].id);
  t.match(stock, { onHand: 8, reserved: 8 });
  t.equal((await db.selectFrom('orders').select('id').execute()).length, 8);
  const manager = await createUser(db, { role: 'manager' });
  const inv = await call('GET', `/inventory?sku=${variants[0].sku}`, { headers: { authorization: bearer('manager', manager.id) } });
  t.equal(inv.status, 200);
  t.match(inv.body.items[0], { sku: variants[0].sku, onHand: 8, reserved: 8, available: 0 });
  const movements = await db.selectFrom('inventoryMovements').select(['deltaReserved']).where('variantId', '=', variants[0].id).execute();
  t.equal(movements.length, 8, 'one movement per reservation');
});

t.test('30 simultaneous checkouts against a coupon with 5 redemptions left: exactly 5 discounted orders', async (t) => {
  const { db, call } = await setup(t, manyShoppers);
  const { variants } = await createProduct(db, [{ onHand: 100, price: 1_000_000 }]);
  const ship = await createShipping(db);
  const coupon = await createCoupon(db, { kind: 'fixed', value: 100_000, maxRedemptions: 5 });
  const tokens: string[] = [];
  for (let i = 0; i < 30; i++) {
    const token = (await call('POST', '/cart')).body.token as string;
    await call('POST', '/cart/items', { headers: { 'x-cart-token': token }, body: { variantId: variants[0].id, quantity: 1 } });
    t.equal((await call('POST', '/cart/coupon', { headers: { 'x-cart-token': token }, body: { code: coupon.code } })).status, 200);
    tokens.push(token);
  }
  const results = await Promise.all(
    tokens.map((token, i) =>
      call('POST', '/checkout', {
        headers: { 'x-cart-token': token, 'idempotency-key': newKey() },
        body: { email: `c${i}@example.test`, shippingAddress: address, shippingMethodId: ship.id },
      }),
    ),
  );
  t.notOk(results.some((r) => r.status >= 500), 'no 5xx');
  const ok = results.filter((r) => r.status === 201);
  t.equal(ok.length, 5, 'exactly 5 orders with the coupon');
  t.ok(ok.every((r) => r.body.order.discount === 100_000));
  const refused = results.filter((r) => r.status === 400);
  t.equal(refused.length, 25);
  t.ok(refused.every((r) => r.body.code === 'invalid_coupon' && r.body.reason === 'used_up'));
  const row = await db.selectFrom('coupons').select('redemptionsCount').where('id', '=', coupon.id).executeTakeFirstOrThrow();
  t.equal(row.redemptionsCount, 5);
  t.match(await stockOf(db, variants[0].id), { reserved: 5 }, 'refused checkouts reserved nothing');
});
