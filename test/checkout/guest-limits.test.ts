import t from 'tap';
import type { Test } from 'tap';
import { GUEST_LIMITS } from '../../api/routes/guest-limits.js';
import { startPaystackEmulator } from '../support/paystack-emulator.js';
import { testEnv } from '../support/harness.js';
import { address, createCoupon, createProduct, createShipping, newKey, startServer, stockOf, type HttpAnswer } from '../support/fixtures.js';

/**
 * Issue 18.6: per-address limits on what a stranger can call (cart, add-to-cart, coupon, checkout, verify),
 * MAX_OPEN_ORDERS_PER_CLIENT by address and by email, and payment references nobody can guess.
 * TRUST_PROXY lets one test speak from many client addresses through X-Forwarded-For.
 */
async function setup(t: Test, env: Record<string, string> = {}) {
  const emu = await startPaystackEmulator({ secretKey: 'sk_test_limits' });
  t.teardown(() => emu.close());
  const { config, db } = await testEnv(t, { PAYSTACK_BASE_URL: emu.url, PAYSTACK_SECRET_KEY: emu.secretKey, TRUST_PROXY: '127.0.0.1', ...env });
  const server = await startServer(t, config);
  const { variants } = await createProduct(db, [{ price: 500_000, onHand: 1000 }]);
  const ship = await createShipping(db, { price: 100_000 });
  const from = (ip: string, extra: Record<string, string> = {}) => ({ 'x-forwarded-for': ip, ...extra });

  /** A guest cart with one line, created from `ip`. */
  async function filledCart(ip: string) {
    const created = await server.call('POST', '/cart', { headers: from(ip) });
    if (created.status !== 201) throw new Error(`cart: ${created.status}`);
    const token = created.body.token as string;
    const added = await server.call('POST', '/cart/items', { headers: from(ip, { 'x-cart-token': token }), body: { variantId: variants[0].id, quantity: 1 } });
    if (added.status !== 200) throw new Error(`add: ${added.status}`);
    return token;
  }
  const checkoutAs = (ip: string, token: string, email: string, key = newKey()) =>
    server.call('POST', '/checkout', {
      headers: from(ip, { 'x-cart-token': token, 'idempotency-key': key }),
      body: { email, shippingAddress: address, shippingMethodId: ship.id },
    });
  return { emu, config, db, ...server, variants, ship, from, filledCart, checkoutAs };
}

function isRateLimited(t: Test, res: HttpAnswer, code = 'rate_limited') {
  t.equal(res.status, 429, `429 ${code}`);
  t.equal(res.body?.code, code);
  t.match(res.headers.get('content-type'), /^application\/problem\+json/);
  t.ok(Number(res.headers.get('retry-after')) >= 1, `Retry-After ${res.headers.get('retry-after')}`);
}

/**
 * Calls `fn` n times, ten at a time, and answers the statuses. Not one by one: on a loaded machine
 * 120 calls in a row can outlast the 60 s window and the limit would never be reached.
 */
async function times(n: number, fn: (i: number) => Promise<HttpAnswer>) {
  const statuses: number[] = [];
  for (let i = 0; i < n; i += 10) {
    const batch = Array.from({ length: Math.min(10, n - i) }, (_, j) => fn(i + j));
    for (const res of await Promise.all(batch)) statuses.push(res.status);
  }
  return statuses;
}

t.test('cart creation, add-to-cart, checkout and verify are limited per client address with 429 and Retry-After', async (t) => {
  const { call, from, variants } = await setup(t);

  const carts = await times(GUEST_LIMITS.cart.ip, () => call('POST', '/cart', { headers: from('203.0.113.1') }));
  t.same(new Set(carts), new Set([201]), `${GUEST_LIMITS.cart.ip} carts pass`);
  isRateLimited(t, await call('POST', '/cart', { headers: from('203.0.113.1') }));
  t.equal((await call('POST', '/cart', { headers: from('203.0.113.2') })).status, 201, 'another address is not affected');

  const token = (await call('POST', '/cart', { headers: from('203.0.113.3') })).body.token as string;
  const add = () => call('POST', '/cart/items', { headers: from('203.0.113.3', { 'x-cart-token': token }), body: { variantId: variants[0].id, quantity: 1 } });
  t.notOk((await times(GUEST_LIMITS.addItem.ip, add)).includes(429), 'adds pass (or stop at the line maximum) until the limit');
  isRateLimited(t, await add());

  // Counted before anything else is looked at: failing checkouts (no cart) use up the allowance too.
  const checkout = () => call('POST', '/checkout', { headers: from('203.0.113.4', { 'idempotency-key': newKey() }), body: { email: 'a@example.test', shippingAddress: address, shippingMethodId: variants[0].id } });
  t.notOk((await times(GUEST_LIMITS.checkout.ip, checkout)).includes(429));
  isRateLimited(t, await checkout());

  const verify = () => call('POST', '/payments/AGP-unknown/verify', { headers: from('203.0.113.5') });
  t.same(new Set(await times(GUEST_LIMITS.verify.ip, verify)), new Set([404]));
  isRateLimited(t, await verify());
});

t.test('coupon attempts count per cart and per address', async (t) => {
  const { call, from, db } = await setup(t);
  await createCoupon(db, { kind: 'percent', value: 10, code: 'REAL10' });
  const newCart = async (ip: string) => (await call('POST', '/cart', { headers: from(ip) })).body.token as string;
  const guess = (ip: string, token: string, code: string) => call('POST', '/cart/coupon', { headers: from(ip, { 'x-cart-token': token }), body: { code } });

  // One cart, guesses from many addresses: the cart runs out.
  const cart = await newCart('198.51.100.1');
  const perCart = await times(GUEST_LIMITS.coupon.cart, (i) => guess(`198.51.100.${10 + i}`, cart, `GUESS${i}`));
  t.same(new Set(perCart), new Set([400]), 'wrong codes answer invalid_coupon until the limit');
  isRateLimited(t, await guess('198.51.100.99', cart, 'REAL10'));
  t.equal((await guess('198.51.100.99', await newCart('198.51.100.99'), 'REAL10')).status, 200, 'another cart may still apply a code');

  // One address, a fresh cart per few guesses: the address runs out.
  const ip = '198.51.100.200';
  let used = 0;
  while (used < GUEST_LIMITS.coupon.ip) {
    const token = await newCart(ip);
    for (let i = 0; i < 3 && used < GUEST_LIMITS.coupon.ip; i++, used++) t.equal((await guess(ip, token, `X${used}`)).status, 400);
  }
  isRateLimited(t, await guess(ip, await newCart(ip), 'REAL10'));
});

t.test('concurrent checkouts from one address never exceed MAX_OPEN_ORDERS_PER_CLIENT', async (t) => {
  const { db, filledCart, checkoutAs, config, variants, call, from } = await setup(t);
  t.equal(config.MAX_OPEN_ORDERS_PER_CLIENT, 5, 'the default');
  const ip = '192.0.2.10';
  const tokens = await Promise.all(Array.from({ length: 12 }, () => filledCart(ip)));
  const answers = await Promise.all(tokens.map((token, i) => checkoutAs(ip, token, `buyer${i}@example.test`)));
  const placed = answers.filter((a) => a.status === 201);
  const refused = answers.filter((a) => a.status !== 201);
  t.equal(placed.length, 5, 'exactly the cap is placed');
  for (const r of refused) isRateLimited(t, r, 'too_many_open_orders');
  t.ok(Number(refused[0].headers.get('retry-after')) > 60, 'Retry-After: when the soonest reservation runs out');
  const open = await db.selectFrom('orders').select('id').where('clientAddress', '=', ip).where('status', '=', 'pending_payment').execute();
  t.equal(open.length, 5, 'five unpaid orders in the database');
  t.match(await stockOf(db, variants[0].id), { reserved: 5 }, 'refused checkouts reserve nothing');

  t.equal((await checkoutAs('192.0.2.11', await filledCart('192.0.2.11'), 'other@example.test')).status, 201, 'another address is not affected');

  // Cancelling one frees a slot; the refused cart (its key forgotten with the refusal) checks out now.
  const first = placed[0].body.order;
  const cancelled = await call('POST', `/orders/${first.id}/cancel`, { headers: from(ip, { 'x-cart-token': tokens[answers.indexOf(placed[0])] }) });
  t.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
  const retry = tokens[answers.indexOf(refused[0])];
  t.equal((await checkoutAs(ip, retry, 'late@example.test')).status, 201, 'a freed slot is usable');
  isRateLimited(t, await checkoutAs(ip, tokens[answers.indexOf(refused[1])], 'later@example.test'), 'too_many_open_orders');

  // An unpaid order whose reservation ran out holds nothing and does not count.
  await db.updateTable('orders').set({ reservationExpiresAt: new Date(Date.now() - 60_000) }).where('id', '=', placed[1].body.order.id).execute();
  t.equal((await checkoutAs(ip, tokens[answers.indexOf(refused[1])], 'later@example.test')).status, 201);
});

t.test('one email holds at most the cap whatever the address (and its case)', async (t) => {
  const { filledCart, checkoutAs } = await setup(t, { MAX_OPEN_ORDERS_PER_CLIENT: '3' });
  const ips = Array.from({ length: 8 }, (_, i) => `192.0.2.${100 + i}`);
  const tokens = await Promise.all(ips.map((ip) => filledCart(ip)));
  const answers = await Promise.all(tokens.map((token, i) => checkoutAs(ips[i], token, i % 2 ? 'Same@Example.test' : 'same@example.TEST')));
  t.equal(answers.filter((a) => a.status === 201).length, 3);
  for (const r of answers.filter((a) => a.status !== 201)) isRateLimited(t, r, 'too_many_open_orders');
});

t.test('an allow-listed address is exempt from the limits and the cap by address, not from the cap by email', async (t) => {
  const ip = '10.20.30.40';
  const { call, from, filledCart, checkoutAs } = await setup(t, { RATE_LIMIT_ALLOWLIST: `127.0.0.2, ${ip}`, MAX_OPEN_ORDERS_PER_CLIENT: '2' });
  t.same(new Set(await times(GUEST_LIMITS.cart.ip + 5, () => call('POST', '/cart', { headers: from(ip) }))), new Set([201]), 'no cart limit');
  t.same(new Set(await times(GUEST_LIMITS.verify.ip + 5, () => call('POST', '/payments/AGP-unknown/verify', { headers: from(ip) }))), new Set([404]), 'no verify limit');

  const tokens = await Promise.all(Array.from({ length: 4 }, () => filledCart(ip)));
  const answers = await Promise.all(tokens.map((token, i) => checkoutAs(ip, token, `load${i}@example.test`)));
  t.same(answers.map((a) => a.status), [201, 201, 201, 201], 'four orders from one allow-listed address');
  const more = await Promise.all([filledCart(ip), filledCart(ip)]);
  t.equal((await checkoutAs(ip, more[0], 'load0@example.test')).status, 201, 'second order of that email');
  isRateLimited(t, await checkoutAs(ip, more[1], 'load0@example.test'), 'too_many_open_orders');
});

t.test('payment references are random: not the order number, not a sequence', async (t) => {
  const { filledCart, checkoutAs, call, from, emu } = await setup(t);
  const a = await checkoutAs('192.0.2.50', await filledCart('192.0.2.50'), 'r1@example.test');
  const b = await checkoutAs('192.0.2.51', await filledCart('192.0.2.51'), 'r2@example.test');
  for (const res of [a, b]) {
    t.equal(res.status, 201);
    t.match(res.body.payment.reference, /^AGP-[0-9a-f]{32}$/);
    t.notOk(res.body.payment.reference.includes(res.body.order.number.slice(4)), 'the order number is not in it');
    t.ok(emu.transactions.get(res.body.payment.reference), 'Paystack knows it');
  }
  t.not(a.body.payment.reference, b.body.payment.reference);
  const token = await filledCart('192.0.2.52');
  const c = await checkoutAs('192.0.2.52', token, 'r3@example.test');
  const retried = await call('POST', `/orders/${c.body.order.id}/pay`, { headers: from('192.0.2.52', { 'x-cart-token': token }) });
  t.equal(retried.status, 200);
  t.match(retried.body.reference, /^AGP-[0-9a-f]{32}$/, 'a new attempt gets a fresh random reference too');
  t.not(retried.body.reference, c.body.payment.reference);
});
