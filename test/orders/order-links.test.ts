import { createHmac } from 'node:crypto';
import { Redis } from 'ioredis';
import t from 'tap';
import type { Test } from 'tap';
import { orderLinkToken } from '../../shared/orders/index.js';
import { startPaystackEmulator } from '../support/paystack-emulator.js';
import { buildTestApp, logCapture, REDIS_URL, startTestWorker, testEnv } from '../support/harness.js';
import { startSmtpSink } from '../support/smtp-sink.js';
import { address, createProduct, createShipping, createUser, newKey } from '../support/fixtures.js';

/**
 * Issue 18.13: the signed order link in guests' mail expires (ORDER_LINK_TTL_DAYS), never shows in a
 * logged URL, never sits readable in a job payload, and every mail links to the order through the one
 * builder (the confirmation mail's link opens the order for a guest).
 */
const DAY = 86_400_000;

async function stack(t: Test, env: Record<string, string> = {}) {
  const sink = await startSmtpSink();
  t.teardown(() => sink.close());
  const emu = await startPaystackEmulator({ secretKey: 'sk_test_links' });
  t.teardown(() => emu.close());
  const { config, db } = await testEnv(t, { SMTP_URL: sink.url, PAYSTACK_BASE_URL: emu.url, PAYSTACK_SECRET_KEY: emu.secretKey, LOG_LEVEL: 'info', ...env });
  const logs = logCapture('info');
  const app = await buildTestApp(t, config, { logger: logs.logger });
  const { variants } = await createProduct(db, [{ price: 400_000, onHand: 50 }]);
  const ship = await createShipping(db, { price: 100_000 });
  const call = async (method: 'GET' | 'POST' | 'PATCH', url: string, headers: Record<string, string> = {}, payload?: object) => {
    const res = await app.inject({ method, url: `/api/v1${url}`, headers, ...(payload ? { payload } : {}) });
    return { status: res.statusCode, body: res.json() };
  };
  /** A guest order placed through the API (cart, line, checkout). */
  async function placeOrder(email = `guest-${newKey().slice(0, 8)}@example.test`) {
    const cart = await call('POST', '/cart');
    const h = { 'x-cart-token': cart.body.token as string };
    await call('POST', '/cart/items', h, { variantId: variants[0].id, quantity: 1 });
    const placed = await call('POST', '/checkout', { ...h, 'idempotency-key': newKey() }, { email, shippingAddress: address, shippingMethodId: ship.id });
    if (placed.status !== 201) throw new Error(JSON.stringify(placed.body));
    return placed.body as { order: { id: string }; payment: { reference: string } };
  }
  return { sink, emu, config, db, logs, app, call, placeOrder };
}

t.test('a link works for ORDER_LINK_TTL_DAYS after it was issued, then answers 404 saying it expired', async (t) => {
  const { app, config, placeOrder } = await stack(t);
  t.equal(config.ORDER_LINK_TTL_DAYS, 90, 'the default');
  const order = { orderId: (await placeOrder()).order.id };
  const open = (token: string, path = '') => app.inject({ method: 'GET', url: `/api/v1/orders/${order.orderId}${path}?token=${encodeURIComponent(token)}` });

  const fresh = await open(orderLinkToken(config, order.orderId));
  t.equal(fresh.statusCode, 200, fresh.body);
  t.equal((await open(orderLinkToken(config, order.orderId, new Date(Date.now() - 89 * DAY)))).statusCode, 200, '89 days old');
  const expired = await open(orderLinkToken(config, order.orderId, new Date(Date.now() - 91 * DAY)));
  t.equal(expired.statusCode, 404, '91 days old');
  t.match(expired.json(), { code: 'not_found', detail: /expired/ });
  t.equal((await open(orderLinkToken(config, order.orderId, new Date(Date.now() - 91 * DAY)), '/invoice')).statusCode, 404, 'the invoice too');

  // Forged or moved issue times fail the signature: a plain 404 that says nothing more.
  const [issued, mac] = orderLinkToken(config, order.orderId, new Date(Date.now() - 91 * DAY)).split('.');
  const moved = await open(`${(parseInt(issued, 36) + 5 * 86_400).toString(36)}.${mac}`);
  t.equal(moved.statusCode, 404);
  t.notMatch(moved.json().detail, /expired/);
  const other = (await placeOrder()).order.id;
  t.equal((await open(orderLinkToken(config, other))).statusCode, 404, 'another order’s link');
  // The links mailed before expiry existed (an HMAC of the id alone) are retired.
  const v1Key = createHmac('sha256', Buffer.from(config.ENCRYPTION_KEY, 'hex')).update('agape/order-link/v1').digest();
  t.equal((await open(createHmac('sha256', v1Key).update(order.orderId).digest('base64url'))).statusCode, 404, 'an old never-expiring link');
});

t.test('ORDER_LINK_TTL_DAYS is read when the link is opened: shortening it retires older links', async (t) => {
  const { app, config, placeOrder } = await stack(t, { ORDER_LINK_TTL_DAYS: '1' });
  const order = { orderId: (await placeOrder()).order.id };
  const open = (token: string) => app.inject({ method: 'GET', url: `/api/v1/orders/${order.orderId}?token=${token}` });
  t.equal((await open(orderLinkToken(config, order.orderId, new Date(Date.now() - DAY / 2)))).statusCode, 200);
  t.equal((await open(orderLinkToken(config, order.orderId, new Date(Date.now() - 2 * DAY)))).statusCode, 404);
});

t.test('tokens never appear in logged request URLs', async (t) => {
  const { app, config, logs, placeOrder } = await stack(t);
  const order = { orderId: (await placeOrder()).order.id };
  const token = orderLinkToken(config, order.orderId);
  await app.inject({ method: 'GET', url: `/api/v1/orders/${order.orderId}?token=${token}&expand=items` });
  t.equal((await app.inject({ method: 'GET', url: `/api/v1/orders/${order.orderId}?token=${token}` })).statusCode, 200);
  await app.inject({ method: 'GET', url: `/api/v1/nowhere?reset_token=s3cr3t-value&page=2` });

  const text = logs.text();
  t.ok(logs.lines.some((l) => l.includes('incoming request')), 'request lines are captured');
  t.notOk(text.includes(token), 'the link token is in no log line');
  t.notOk(text.includes(token.split('.')[1]), 'nor its signature alone');
  t.notOk(text.includes('s3cr3t-value'));
  t.ok(text.includes(`/api/v1/orders/${order.orderId}?token=[redacted]&expand=items`), 'the rest of the URL stays readable');
  t.ok(text.includes('/api/v1/nowhere?reset_token=[redacted]&page=2'));
});

t.test('the confirmation and shipment mails carry a signed link a guest can open; no payload holds it', async (t) => {
  const { app, config, db, logs, sink, emu, call, placeOrder } = await stack(t);
  const { order, payment } = await placeOrder('guest.links@example.test');
  await emu.pay(payment.reference, { webhook: false });
  t.equal((await call('POST', `/payments/${payment.reference}/verify`)).body.outcome, 'paid');

  // The outbox row names the order; the link is made only when the mail is sent.
  const rows = await db.selectFrom('outbox').select(['name', 'payload']).where('name', '=', 'email.send').execute();
  const confirmation = rows.find((r) => (r.payload as { template: string }).template === 'order-confirmation');
  t.ok(confirmation, 'a confirmation mail is queued');
  t.match(confirmation!.payload, { to: 'guest.links@example.test', orderLinkOf: order.id });
  t.notOk(JSON.stringify(rows).includes('token='), 'no link with a token in any queued mail');

  // Shipped: the same builder.
  const staff = await createUser(db, { role: 'manager' });
  const staffAuth = { authorization: `Bearer ${app.signAccessToken({ id: staff.id, role: 'manager' })}` };
  t.equal((await call('PATCH', `/admin/orders/${order.id}/status`, staffAuth, { status: 'processing' })).status, 200);
  t.equal((await call('PATCH', `/admin/orders/${order.id}/status`, staffAuth, { status: 'shipped', trackingNumber: 'TRK1', carrier: 'GIG' })).status, 200);

  await startTestWorker(t, config, { queues: ['email'], logger: logs.logger });
  const mail = await sink.waitFor((m) => m.to.includes('guest.links@example.test') && /confirm|order/i.test(m.subject) && m.links.some((l) => l.includes('/orders/')));
  const shippedMail = await sink.waitFor((m) => m.to.includes('guest.links@example.test') && m.text.includes('TRK1'));
  for (const [name, m] of [['confirmation', mail], ['shipment', shippedMail]] as const) {
    const link = m.links.find((l) => l.startsWith(`http://shop.test/orders/${order.id}?token=`));
    t.ok(link, `${name}: a signed link to the order on PUBLIC_URL`);
    const token = new URL(link!).searchParams.get('token')!;
    const opened = await call('GET', `/orders/${order.id}?token=${encodeURIComponent(token)}`);
    t.equal(opened.status, 200, `${name}: the link opens the order without the cart token`);
    t.equal(opened.body.id, order.id);

    // Nowhere in Redis (BullMQ job data, completed jobs) nor in the outbox.
    const redis = new Redis(REDIS_URL);
    try {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', `${config.QUEUE_PREFIX}*`, 'COUNT', 500);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
      let stored = '';
      for (const key of keys) {
        const type = await redis.type(key);
        if (type === 'hash') stored += JSON.stringify(await redis.hgetall(key));
        else if (type === 'string') stored += await redis.get(key);
        else if (type === 'list') stored += JSON.stringify(await redis.lrange(key, 0, -1));
      }
      t.ok(stored.includes('guest.links@example.test'), `${name}: the job data was found in Redis`);
      t.notOk(stored.includes(token.split('.')[1]), `${name}: no token in Redis`);
    } finally {
      redis.disconnect();
    }
    const outbox = JSON.stringify(await db.selectFrom('outbox').select('payload').execute());
    t.notOk(outbox.includes(token.split('.')[1]), `${name}: no token in the outbox`);
    t.notOk(logs.text().includes(token.split('.')[1]), `${name}: no token in the logs`);
  }
});
