import t from 'tap';
import { startPaystackEmulator } from '../support/paystack-emulator.js';
import { buildTestApp, testEnv } from '../support/harness.js';
import { address, createCoupon, createProduct, createShipping, createUser, newKey } from '../support/fixtures.js';

/**
 * Round trips per checkout (issue 10): each statement is a socket write, a Kysely compile and a wait. A
 * checkout was 24 for three lines (16 + N plus BEGIN/COMMIT and the idempotency key); the order's
 * transaction is now two function calls (checkout_open, checkout_place) whatever the lines or the coupon,
 * the Paystack outcome is written with the key's final answer in one statement, and a guest's key is
 * owned by its cart token's hash (no cart look-up before the key).
 */
t.test('statements per checkout: 6, guest or signed in, not growing with lines or a coupon', async (t) => {
  const emu = await startPaystackEmulator({ secretKey: 'sk_test_commerce' });
  t.teardown(() => emu.close());
  const { config, db } = await testEnv(t, { PAYSTACK_BASE_URL: emu.url, PAYSTACK_SECRET_KEY: emu.secretKey });
  const queries: string[] = [];
  const app = await buildTestApp(t, config, { onQuery: (q) => queries.push(q) });
  const { variants } = await createProduct(db, [{ price: 1_000_000, onHand: 50 }, { price: 250_050, onHand: 50 }, { price: 10, onHand: 50 }]);
  const ship = await createShipping(db, { price: 250_000 });
  const coupon = await createCoupon(db, { kind: 'percent', value: 10, code: 'STMT10', perCustomerLimit: 1 });
  const user = await createUser(db);
  const bearer = `Bearer ${app.signAccessToken({ id: user.id, role: 'customer' })}`;

  const inject = (url: string, headers: Record<string, string>, payload?: object) => app.inject({ method: 'POST', url: `/api/v1${url}`, headers, payload });
  async function counted(fn: () => Promise<{ statusCode: number; body: string }>, status: number) {
    const res = await fn();
    t.equal(res.statusCode, status, res.body.slice(0, 300));
    return queries.splice(0);
  }
  const inTransaction = (qs: string[]) => qs.slice(qs.indexOf('begin'), qs.indexOf('commit') + 1);

  async function guestCheckout(lines: number, withCoupon: boolean) {
    const token = (await inject('/cart', {})).json().token as string;
    for (const v of variants.slice(0, lines)) t.equal((await inject('/cart/items', { 'x-cart-token': token }, { variantId: v.id, quantity: 1 })).statusCode, 200);
    if (withCoupon) t.equal((await inject('/cart/coupon', { 'x-cart-token': token }, { code: coupon.code })).statusCode, 200);
    queries.length = 0;
    return counted(
      () => inject('/checkout', { 'x-cart-token': token, 'idempotency-key': newKey() }, { email: `g${lines}${withCoupon}@example.test`, shippingAddress: address, shippingMethodId: ship.id }),
      201,
    );
  }

  const one = await guestCheckout(1, false);
  const three = await guestCheckout(3, false);
  const couponed = await guestCheckout(3, true);
  t.equal(three.length, 6, `a guest's checkout of 3 lines: 6 statements (got ${three.length}: ${three.join(' | ')})`);
  t.equal(one.length, three.length, 'the same for 1 line');
  t.equal(couponed.length, three.length, 'the same with a coupon (redeemed inside checkout_place)');
  t.same(
    inTransaction(three).map((q) => q.trim().split(/\s+/).slice(0, 2).join(' ')),
    ['begin', 'SELECT checkout_open($1::jsonb)', 'SELECT checkout_place($1::jsonb)', 'commit'],
    'the order transaction is two calls',
  );

  for (const v of variants) t.equal((await inject('/cart/items', { authorization: bearer }, { variantId: v.id, quantity: 1 })).statusCode, 200);
  queries.length = 0;
  const signedIn = await counted(
    () => inject('/checkout', { authorization: bearer, 'idempotency-key': newKey() }, { shippingAddress: address, shippingMethodId: ship.id }),
    201,
  );
  t.equal(signedIn.length, 6, `signed in: 6 statements too (got ${signedIn.length}: ${signedIn.join(' | ')})`);
  t.equal(inTransaction(signedIn).length, 4, 'signed in: the same two calls in the transaction');
});
