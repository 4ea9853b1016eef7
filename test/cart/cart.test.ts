import t from 'tap';
import { testEnv } from '../support/harness.js';
import { createCoupon, createProduct, createShipping, createUser, startServer } from '../support/fixtures.js';

t.test('cart: lines, price snapshots, stock and quantity limits, coupon reasons', async (t) => {
  const { config, db } = await testEnv(t);
  const { call } = await startServer(t, config);
  const { variants } = await createProduct(db, [{ price: 500_000, onHand: 3 }, { price: 100_000, onHand: 200 }]);
  const [a, b] = variants as [(typeof variants)[0], (typeof variants)[0]];
  const draft = await createProduct(db, [{ onHand: 5 }], { status: 'draft' });
  const ship = await createShipping(db, { price: 150_000, freeOver: 1_000_000 });

  t.equal((await call('GET', '/cart')).status, 404, 'a guest without a token has no cart');
  t.equal((await call('GET', '/cart', { headers: { 'x-cart-token': 'not-a-real-token-at-all' } })).status, 404);
  const token = (await call('POST', '/cart')).body.token as string;
  const h = { 'x-cart-token': token };

  const tooMany = await call('POST', '/cart/items', { headers: h, body: { variantId: a.id, quantity: 4 } });
  t.equal(tooMany.status, 409);
  t.equal(tooMany.body.code, 'insufficient_stock');
  t.match(tooMany.body.lines, [{ variantId: a.id, requested: 4, available: 3 }]);
  t.equal((await call('POST', '/cart/items', { headers: h, body: { variantId: a.id, quantity: 2 } })).status, 200);
  t.equal((await call('POST', '/cart/items', { headers: h, body: { variantId: a.id, quantity: 2 } })).status, 409, 'quantities add up against stock');
  t.equal((await call('POST', '/cart/items', { headers: h, body: { variantId: draft.variants[0].id, quantity: 1 } })).status, 404, 'unpublished products are not sold');
  t.equal((await call('POST', '/cart/items', { headers: h, body: { variantId: b.id, quantity: 100 } })).status, 400, 'at most 99');
  t.equal((await call('POST', '/cart/items', { headers: h, body: { variantId: b.id, quantity: 0 } })).status, 400);
  t.equal((await call('POST', '/cart/items', { headers: h, body: { variantId: 'nope', quantity: 1 } })).status, 400);
  t.equal((await call('POST', '/cart/items', { headers: h, body: { variantId: b.id, quantity: 1.5 } })).status, 400);
  t.equal((await call('POST', '/cart/items', { headers: h, body: { variantId: b.id, quantity: 98 } })).status, 200);
  const over = await call('POST', '/cart/items', { headers: h, body: { variantId: b.id, quantity: 2 } });
  t.equal(over.status, 400, '98 + 2 > 99');

  // The price changes after the line was added: the cart shows both and totals use the current price.
  await db.updateTable('productVariants').set({ price: 550_000 }).where('id', '=', a.id).execute();
  let cart = (await call('GET', `/cart?shippingMethodId=${ship.id}`, { headers: h })).body;
  const lineA = cart.items.find((l: { variantId: string }) => l.variantId === a.id);
  t.match(lineA, { unitPrice: 500_000, price: 550_000, priceChanged: true, lineTotal: 1_100_000, quantity: 2 });
  t.equal(cart.subtotal, 1_100_000 + 98 * 100_000);
  t.equal(cart.shipping, 0, 'free above freeOver');
  t.equal(cart.tax, Math.round(cart.subtotal * 0.075));
  t.equal(cart.total, cart.subtotal + cart.tax);

  const itemB = cart.items.find((l: { variantId: string }) => l.variantId === b.id);
  const patched = await call('PATCH', `/cart/items/${itemB.id}`, { headers: h, body: { quantity: 1 } });
  t.equal(patched.status, 200);
  t.equal(patched.body.items.find((l: { id: string }) => l.id === itemB.id).quantity, 1);
  t.equal((await call('PATCH', `/cart/items/${lineA.id}`, { headers: h, body: { quantity: 5 } })).status, 409);
  const refreshed = await call('PATCH', `/cart/items/${lineA.id}`, { headers: h, body: { quantity: 1 } });
  t.match(refreshed.body.items.find((l: { id: string }) => l.id === lineA.id), { unitPrice: 550_000, priceChanged: false }, 'changing a line takes the current price');

  // Coupons: reasons.
  const past = await createCoupon(db, { endsAt: new Date(Date.now() - 60_000) });
  const future = await createCoupon(db, { startsAt: new Date(Date.now() + 3_600_000) });
  const min = await createCoupon(db, { minSubtotal: 5_000_000 });
  const used = await createCoupon(db, { maxRedemptions: 0 });
  for (const [code, reason] of [[past.code, 'expired'], [future.code, 'not_started'], [min.code, 'minimum_not_met'], [used.code, 'used_up'], ['NOPE-NOT-HERE', 'not_found']] as const) {
    const r = await call('POST', '/cart/coupon', { headers: h, body: { code } });
    t.equal(r.status, 400, code);
    t.match(r.body, { code: 'invalid_coupon', reason });
  }
  const ok = await createCoupon(db, { kind: 'fixed', value: 100_000, minSubtotal: 600_000 });
  t.equal((await call('POST', '/cart/coupon', { headers: h, body: { code: ok.code } })).body.discount, 100_000);
  // Dropping below the minimum: the coupon stays on the cart but says why it stopped applying.
  await call('DELETE', `/cart/items/${itemB.id}`, { headers: h });
  cart = (await call('GET', '/cart', { headers: h })).body;
  t.match(cart.coupon, { code: ok.code, applied: false, reason: 'minimum_not_met' });
  t.equal(cart.discount, 0);
  t.equal((await call('DELETE', '/cart/coupon', { headers: h })).body.coupon, null);
  t.equal((await call('DELETE', `/cart/items/${itemB.id}`, { headers: h })).status, 404);
});

t.test('signing in with a guest token merges the guest cart into the user’s (capped at available)', async (t) => {
  const { config, db } = await testEnv(t);
  const { call, bearer } = await startServer(t, config);
  const { variants } = await createProduct(db, [{ onHand: 5 }, { onHand: 10 }]);
  const [a, b] = variants as [(typeof variants)[0], (typeof variants)[0]];
  const user = await createUser(db);
  const auth = { authorization: bearer('customer', user.id) };
  const coupon = await createCoupon(db);

  t.equal((await call('POST', '/cart/items', { headers: auth, body: { variantId: a.id, quantity: 3 } })).status, 200);
  const token = (await call('POST', '/cart')).body.token as string;
  await call('POST', '/cart/items', { headers: { 'x-cart-token': token }, body: { variantId: a.id, quantity: 4 } });
  await call('POST', '/cart/items', { headers: { 'x-cart-token': token }, body: { variantId: b.id, quantity: 2 } });
  await call('POST', '/cart/coupon', { headers: { 'x-cart-token': token }, body: { code: coupon.code } });

  const merged = await call('GET', '/cart', { headers: { ...auth, 'x-cart-token': token } });
  t.equal(merged.status, 200);
  const qty = Object.fromEntries(merged.body.items.map((l: { variantId: string; quantity: number }) => [l.variantId, l.quantity]));
  t.same(qty, { [a.id]: 5, [b.id]: 2 }, '3 + 4 capped at the 5 available; new lines added');
  t.equal(merged.body.coupon.code, coupon.code, 'the guest coupon comes along');
  t.equal((await call('GET', '/cart', { headers: { 'x-cart-token': token } })).body.items.length, 0, 'the guest cart is emptied');
  const again = await call('GET', '/cart', { headers: { ...auth, 'x-cart-token': token } });
  t.same(again.body.items.map((l: { quantity: number }) => l.quantity).sort(), [2, 5], 'merging twice adds nothing');
  t.equal((await db.selectFrom('carts').select('id').where('userId', '=', user.id).execute()).length, 1, 'one cart per user');
  const created = await call('POST', '/cart', { headers: auth });
  t.equal(created.status, 201);
  t.equal(created.body.id, merged.body.id, 'POST /cart signed in answers the user’s cart');
  t.equal(created.body.token, null);
  t.equal((await call('GET', '/cart', { headers: { authorization: 'Bearer nonsense' } })).status, 401);
});
