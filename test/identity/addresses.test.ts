/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import t from 'tap';
import { normalizePhone } from '../../shared/phone.js';
import {
  createProduct,
  createShipping,
  createUser,
  newKey,
  startServer,
} from '../support/fixtures.js';
import { testEnv } from '../support/harness.js';
import { startPaystackEmulator } from '../support/paystack-emulator.js';
import { identityStack } from './helpers.js';

const home = {
  label: 'Home',
  name: 'Ada Obi',
  line1: '12 Broad Street',
  city: 'Lagos',
  state: 'Lagos',
  phone: '0803 123 4567',
};

t.test('phone numbers: E.164, Nigerian local forms normalized, nonsense refused', async (t) => {
  t.equal(normalizePhone('0803 123 4567'), '+2348031234567');
  t.equal(normalizePhone('08031234567'), '+2348031234567');
  t.equal(normalizePhone('803-123-4567'), '+2348031234567');
  t.equal(normalizePhone('234 803 123 4567'), '+2348031234567');
  t.equal(normalizePhone('+234 (0)803'), null, 'a trunk 0 inside an international number is not guessed');
  t.equal(normalizePhone('+234 803 123 4567'), '+2348031234567');
  t.equal(normalizePhone('00234 803 123 4567'), '+2348031234567');
  t.equal(normalizePhone('01 234 5678'), '+23412345678', 'a Lagos landline');
  t.equal(normalizePhone('+44 20 7946 0958'), '+442079460958');
  t.equal(normalizePhone('+234 803 123 45678'), null, 'too long for Nigeria');
  t.equal(normalizePhone('12345'), null);
  t.equal(normalizePhone('phone me'), null);
  t.equal(normalizePhone('+0123456789'), null);
});

t.test('PATCH /me {phone}; registration sends the welcome mail', async (t) => {
  const { app, sink } = await identityStack(t);
  const reg = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/register',
    payload: { email: 'new@example.com', password: 'correct horse battery staple 42', name: 'Ngozi' },
  });
  t.equal(reg.statusCode, 201, reg.body);
  t.equal(reg.json().user.phone, null);
  const welcome = await sink.waitFor((m) => m.to.includes('new@example.com') && /Welcome to/.test(m.subject));
  t.match(welcome.text, /Hello Ngozi/);
  await sink.waitFor((m) => m.to.includes('new@example.com') && /Confirm/.test(m.subject));

  const headers = { authorization: `Bearer ${reg.json().accessToken}` };
  const patch = (payload: Record<string, unknown>) =>
    app.inject({ method: 'PATCH', url: '/api/v1/me', headers, payload });
  t.equal((await patch({ phone: '+234 803 123 4567' })).statusCode, 200);
  const local = await patch({ phone: '0803 765 4321' });
  t.equal(local.json().phone, '+2348037654321', 'stored normalized');
  const bad = await patch({ phone: '12345', name: 'Changed' });
  t.equal(bad.statusCode, 400);
  t.match(bad.json(), { code: 'validation_failed', errors: [{ path: '/phone' }] });
  const me = (await app.inject({ url: '/api/v1/me', headers })).json();
  t.match(me, { name: 'Ngozi', phone: '+2348037654321' }, 'a refused change changes nothing');
  t.equal((await patch({ phone: null })).json().phone, null, 'null removes it');
  t.equal(
    (await app.inject({ method: 'PATCH', url: '/api/v1/me', payload: { phone: 'x' } })).statusCode,
    401,
  );
});

t.test('the address book: default, ownership, limit under concurrency', async (t) => {
  const { config, db } = await testEnv(t);
  const { call, bearer } = await startServer(t, config);
  const ada = await createUser(db, { role: 'customer' });
  const bola = await createUser(db, { role: 'customer' });
  const a = { authorization: bearer('customer', ada.id) };
  const b = { authorization: bearer('customer', bola.id) };

  for (const [method, path] of [
    ['GET', '/me/addresses'],
    ['POST', '/me/addresses'],
    ['PATCH', '/me/addresses/00000000-0000-4000-8000-000000000001'],
    ['DELETE', '/me/addresses/00000000-0000-4000-8000-000000000001'],
  ]) {
    t.equal(
      (
        await call(method, path, {
          body: method === 'POST' || method === 'PATCH' ? { name: 'x' } : undefined,
        })
      ).status,
      401,
      `${method} ${path} anonymous`,
    );
  }

  const first = await call('POST', '/me/addresses', { headers: a, body: home });
  t.equal(first.status, 201, JSON.stringify(first.body));
  t.match(
    first.body,
    { label: 'Home', phone: '+2348031234567', country: 'NG', isDefault: true, line2: null },
    'the first is the default; phone normalized',
  );
  const badPhone = await call('POST', '/me/addresses', { headers: a, body: { ...home, phone: '123' } });
  t.equal(badPhone.status, 400);
  t.equal(badPhone.body.errors[0].path, '/phone');
  const office = await call('POST', '/me/addresses', {
    headers: a,
    body: { ...home, label: 'Office', line1: '3 Marina', isDefault: true },
  });
  t.equal(office.body.isDefault, true);
  let list = (await call('GET', '/me/addresses', { headers: a })).body;
  t.same(
    list.items.map((x: any) => [x.label, x.isDefault]),
    [
      ['Office', true],
      ['Home', false],
    ],
    'one default, listed first',
  );
  t.equal(list.nextCursor, null);

  // Another user's address: 404 everywhere, and untouched.
  t.equal(
    (await call('PATCH', `/me/addresses/${first.body.id}`, { headers: b, body: { city: 'Abuja' } })).status,
    404,
  );
  t.equal((await call('DELETE', `/me/addresses/${first.body.id}`, { headers: b })).status, 404);
  t.same((await call('GET', '/me/addresses', { headers: b })).body.items, []);

  const moved = await call('PATCH', `/me/addresses/${first.body.id}`, {
    headers: a,
    body: { city: 'Ikeja', line2: 'Flat 2' },
  });
  t.match(
    moved.body,
    { city: 'Ikeja', line2: 'Flat 2', country: 'NG', isDefault: false },
    'a PATCH changes only what it names',
  );
  t.equal(
    (await call('PATCH', `/me/addresses/${office.body.id}`, { headers: a, body: { isDefault: false } }))
      .status,
    400,
    'the default stays until another takes over',
  );
  t.equal(
    (await call('PATCH', `/me/addresses/${first.body.id}`, { headers: a, body: { isDefault: true } })).body
      .isDefault,
    true,
  );
  t.equal((await call('DELETE', `/me/addresses/${first.body.id}`, { headers: a })).status, 204);
  list = (await call('GET', '/me/addresses', { headers: a })).body;
  t.same(
    list.items.map((x: any) => [x.label, x.isDefault]),
    [['Office', true]],
    'deleting the default passes it on',
  );

  // 30 at once onto a book of 1: exactly 20 in the end, one default.
  const answers = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      call('POST', '/me/addresses', {
        headers: a,
        body: { ...home, label: `A${i}`, isDefault: i % 3 === 0 },
      }),
    ),
  );
  t.equal(answers.filter((x) => x.status === 201).length, 19);
  t.ok(
    answers
      .filter((x) => x.status !== 201)
      .every((x) => x.status === 409 && x.body.code === 'address_book_full'),
  );
  const rows = await db
    .selectFrom('userAddresses')
    .select(['isDefault'])
    .where('userId', '=', ada.id)
    .execute();
  t.equal(rows.length, 20);
  t.equal(rows.filter((r) => r.isDefault).length, 1, 'exactly one default');
});

t.test('checkout with a saved address by id', async (t) => {
  const emu = await startPaystackEmulator({ secretKey: 'sk_test_addresses' });
  t.teardown(() => emu.close());
  const { config, db } = await testEnv(t, { PAYSTACK_BASE_URL: emu.url, PAYSTACK_SECRET_KEY: emu.secretKey });
  const { call, bearer } = await startServer(t, config);
  const ada = await createUser(db, { role: 'customer' });
  const bola = await createUser(db, { role: 'customer' });
  const auth = { authorization: bearer('customer', ada.id) };
  const { variants } = await createProduct(db, [{ price: 600_000, onHand: 3 }]);
  const ship = await createShipping(db);
  const saved = (
    await call('POST', '/me/addresses', {
      headers: auth,
      body: { ...home, line2: 'Flat 2', postalCode: '100001' },
    })
  ).body;
  const bolas = (
    await call('POST', '/me/addresses', {
      headers: { authorization: bearer('customer', bola.id) },
      body: home,
    })
  ).body;
  t.equal(
    (await call('POST', '/cart/items', { headers: auth, body: { variantId: variants[0].id, quantity: 1 } }))
      .status,
    200,
  );

  const checkout = (body: unknown) =>
    call('POST', '/checkout', { headers: { ...auth, 'idempotency-key': newKey() }, body });
  const neither = await checkout({ shippingMethodId: ship.id });
  t.equal(neither.status, 400);
  t.equal(neither.body.code, 'validation_failed');
  t.equal(
    (
      await checkout({
        shippingAddressId: saved.id,
        shippingAddress: { ...home, country: 'NG' },
        shippingMethodId: ship.id,
      })
    ).status,
    400,
    'not both',
  );
  t.equal(
    (await checkout({ shippingAddressId: bolas.id, shippingMethodId: ship.id })).status,
    404,
    "another user's address",
  );
  const guestCart = (await call('POST', '/cart')).body.token;
  await call('POST', '/cart/items', {
    headers: { 'x-cart-token': guestCart },
    body: { variantId: variants[0].id, quantity: 1 },
  });
  const guest = await call('POST', '/checkout', {
    headers: { 'idempotency-key': newKey(), 'x-cart-token': guestCart },
    body: { email: 'g@example.com', shippingAddressId: saved.id, shippingMethodId: ship.id },
  });
  t.equal(guest.status, 404, 'a guest has no address book');

  const placed = await checkout({ shippingAddressId: saved.id, shippingMethodId: ship.id });
  t.equal(placed.status, 201, JSON.stringify(placed.body));
  t.same(placed.body.order.shippingAddress, {
    name: 'Ada Obi',
    phone: '+2348031234567',
    line1: '12 Broad Street',
    line2: 'Flat 2',
    city: 'Lagos',
    state: 'Lagos',
    postalCode: '100001',
    country: 'NG',
  });
  t.equal(placed.body.order.customerName, 'Ada Obi');
  // The order keeps its copy when the book changes.
  await call('PATCH', `/me/addresses/${saved.id}`, { headers: auth, body: { city: 'Abuja' } });
  const order = (await call('GET', `/orders/${placed.body.order.id}`, { headers: auth })).body;
  t.equal(order.shippingAddress.city, 'Lagos');
});
