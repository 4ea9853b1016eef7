import t from 'tap';
import { startPaystackEmulator } from '../support/paystack-emulator.js';
import { testEnv } from '../support/harness.js';
import { address, createProduct, createShipping, createUser, newKey, startServer, stockOf } from '../support/fixtures.js';

/**
 * One customer firing 50 checkouts at once (a double-clicking script, a retry storm with fresh keys) used to
 * take every pool connection while the 50 transactions queued on the one cart's row lock, and the API
 * answered 500 when the pool's wait ran out, for this customer and everyone else. Checkouts of one cart now
 * wait their turn in the process before they take a connection: one order, and the rest are told the cart
 * is empty, while another customer's checkout goes through meanwhile.
 */
t.test('50 simultaneous checkouts by one customer: one order, the rest 409 cart_empty, no 5xx', async (t) => {
  const emu = await startPaystackEmulator({ secretKey: 'sk_test_commerce' });
  t.teardown(() => emu.close());
  const { config, db } = await testEnv(t, { PAYSTACK_BASE_URL: emu.url, PAYSTACK_SECRET_KEY: emu.secretKey, RATE_LIMIT_ALLOWLIST: '127.0.0.1' });
  const { call, bearer } = await startServer(t, config);
  const { variants } = await createProduct(db, [{ onHand: 100, price: 500_000 }]);
  const ship = await createShipping(db);
  const user = await createUser(db);
  const auth = { authorization: bearer('customer', user.id) };
  t.equal((await call('POST', '/cart/items', { headers: auth, body: { variantId: variants[0].id, quantity: 2 } })).status, 200);
  const other = (await call('POST', '/cart')).body.token as string;
  t.equal((await call('POST', '/cart/items', { headers: { 'x-cart-token': other }, body: { variantId: variants[0].id, quantity: 1 } })).status, 200);

  // Something holds the customer's cart past the pool's 5 s wait for a connection (here the test itself):
  // the 50 must not sit on pool connections meanwhile.
  const body = { shippingAddress: address, shippingMethodId: ship.id };
  let strangerDoneAt = 0;
  let releasedAt = 0;
  const holder = db.transaction().execute(async (trx) => {
    await trx.selectFrom('carts').select('id').where('userId', '=', user.id).forUpdate().execute();
    const fired = Promise.all(Array.from({ length: 50 }, () => call('POST', '/checkout', { headers: { ...auth, 'idempotency-key': newKey() }, body })));
    const stranger = call('POST', '/checkout', { headers: { 'x-cart-token': other, 'idempotency-key': newKey() }, body: { ...body, email: 'other@example.test' } }).then(
      (r) => ((strangerDoneAt = Date.now()), r),
    );
    await new Promise((r) => setTimeout(r, 6_000));
    releasedAt = Date.now();
    return { fired, stranger };
  });
  const { fired, stranger: strangerAnswer } = await holder;
  const [results, stranger] = await Promise.all([fired, strangerAnswer]);
  t.ok(strangerDoneAt > 0 && strangerDoneAt < releasedAt, 'another customer is not kept waiting behind the held cart');
  const statuses = results.map((r) => r.status);
  t.notOk(statuses.some((s) => s >= 500), `no 5xx (${statuses.filter((s) => s >= 500).length})`);
  t.equal(statuses.filter((s) => s === 201).length, 1, 'one order');
  t.ok(
    results.filter((r) => r.status !== 201).every((r) => r.status === 409 && r.body.code === 'cart_empty'),
    'the rest: 409 cart_empty',
  );
  t.equal(stranger.status, 201, 'another customer checks out meanwhile');
  t.match(await stockOf(db, variants[0].id), { onHand: 100, reserved: 3 });
  t.equal((await db.selectFrom('orders').select('id').where('userId', '=', user.id).execute()).length, 1);
  const keys = await db.selectFrom('idempotencyKeys').select(['state']).where('owner', '=', `user:${user.id}`).execute();
  t.same(keys.map((k) => k.state), ['done'], 'only the order’s key is kept; refused requests forget theirs');
});
