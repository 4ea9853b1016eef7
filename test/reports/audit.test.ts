/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import t from 'tap';
import { createProduct, createUser } from '../support/fixtures.js';
import { buildTestApp, testEnv, tokenFor } from '../support/harness.js';
import { paidOrder } from './helpers.js';

t.test(
  'a price change and a refund are audited with their actor; only audit:read reads the log',
  async (t) => {
    const { config, db } = await testEnv(t);
    const app = await buildTestApp(t, config);
    const manager = await createUser(db, { role: 'manager' });
    const admin = await createUser(db, { role: 'admin' });
    const asManager = { authorization: tokenFor(app, 'manager', manager.id) };
    const asAdmin = { authorization: tokenFor(app, 'admin', admin.id) };
    const { variants } = await createProduct(db, [{ price: 1_000_000, sku: 'AUD-1' }, { sku: 'AUD-2' }]);
    const variant = variants[0];

    const priced = await app.inject({
      method: 'PATCH',
      url: `/api/v1/variants/${variant.id}`,
      headers: { ...asManager, 'x-request-id': 'req-price-1' },
      payload: { price: 1_250_000 },
    });
    t.equal(priced.statusCode, 200);

    // A failed mutation leaves no row: the SKU belongs to the other variant.
    const clash = await app.inject({
      method: 'PATCH',
      url: `/api/v1/variants/${variant.id}`,
      headers: asManager,
      payload: { sku: 'AUD-2', price: 1 },
    });
    t.equal(clash.statusCode, 409);

    const order = await paidOrder(db, new Date().toISOString(), { price: 500_000, quantity: 1 });
    const refunded = await app.inject({
      method: 'POST',
      url: `/api/v1/admin/orders/${order.orderId}/refunds`,
      headers: { ...asManager, 'idempotency-key': randomUUID(), 'x-request-id': 'req-refund-1' },
      payload: { amount: 200_000, reason: 'damaged' },
    });
    t.equal(refunded.statusCode, 202);

    for (const headers of [asManager, { authorization: tokenFor(app, 'support') }]) {
      const res = await app.inject({ method: 'GET', url: '/api/v1/admin/audit-log', headers });
      t.equal(res.statusCode, 403, 'managers and support cannot read the audit log');
    }
    t.equal((await app.inject({ method: 'GET', url: '/api/v1/admin/audit-log' })).statusCode, 401);

    const prices = await app.inject({
      method: 'GET',
      url: '/api/v1/admin/audit-log?action=variant.',
      headers: asAdmin,
    });
    t.equal(prices.statusCode, 200);
    const [price, ...others] = prices.json().items;
    t.same(others, [], 'the failed change left no row');
    t.match(price, {
      action: 'variant.price_changed',
      actor: { id: manager.id, email: manager.email },
      targetType: 'variant',
      targetId: variant.id,
      before: { price: 1_000_000 },
      after: { price: 1_250_000 },
      requestId: 'req-price-1',
      ip: '127.0.0.1',
    });

    const refundsOfOrder = await app.inject({
      method: 'GET',
      url: `/api/v1/admin/audit-log?targetType=order&targetId=${order.orderId}&actorId=${manager.id}`,
      headers: asAdmin,
    });
    const [refundEntry] = refundsOfOrder.json().items;
    t.match(refundEntry, {
      action: 'refund.created',
      actor: { id: manager.id },
      after: { amount: 200_000, currency: 'NGN', reason: 'damaged' },
      requestId: 'req-refund-1',
    });

    const one = await app.inject({
      method: 'GET',
      url: `/api/v1/admin/audit-log/${price.id}`,
      headers: asAdmin,
    });
    t.equal(one.statusCode, 200);
    t.equal(one.json().id, price.id);
    const missing = await app.inject({
      method: 'GET',
      url: `/api/v1/admin/audit-log/${randomUUID()}`,
      headers: asAdmin,
    });
    t.equal(missing.statusCode, 404);
    t.equal(
      (await app.inject({ method: 'GET', url: `/api/v1/admin/audit-log/${price.id}`, headers: asManager }))
        .statusCode,
      403,
    );

    // Rows can be neither changed nor removed, even by the table's owner.
    await t.rejects(
      sql`UPDATE audit_log SET action = 'x' WHERE id = ${price.id}`.execute(db),
      /cannot be changed/,
    );
    await t.rejects(sql`DELETE FROM audit_log WHERE id = ${price.id}`.execute(db), /cannot be changed/);
    await t.rejects(sql`TRUNCATE audit_log`.execute(db), /cannot be changed/);
  },
);

t.test('audit log pages with a cursor and filters by action prefix and dates', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const admin = await createUser(db, { role: 'admin' });
  const asAdmin = { authorization: tokenFor(app, 'admin', admin.id) };
  const { variants } = await createProduct(db, [{ price: 1_000 }]);
  for (let i = 1; i <= 5; i++) {
    const res = await app.inject({
      method: 'PATCH',
      url: `/api/v1/variants/${variants[0].id}`,
      headers: asAdmin,
      payload: i % 2 ? { price: 1_000 + i } : { title: `Size ${i}` },
    });
    t.equal(res.statusCode, 200);
  }
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const res: any = await app.inject({
      method: 'GET',
      url: `/api/v1/admin/audit-log?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      headers: asAdmin,
    });
    t.equal(res.statusCode, 200);
    const body = res.json();
    seen.push(...body.items.map((i: any) => i.id));
    cursor = body.nextCursor;
  } while (cursor);
  t.equal(seen.length, 5);
  t.equal(new Set(seen).size, 5, 'no row twice across pages');

  const priceOnly = await app.inject({
    method: 'GET',
    url: '/api/v1/admin/audit-log?action=variant.price',
    headers: asAdmin,
  });
  t.equal(priceOnly.json().items.length, 3);
  const updatesOnly = await app.inject({
    method: 'GET',
    url: '/api/v1/admin/audit-log?action=variant.updated',
    headers: asAdmin,
  });
  t.equal(updatesOnly.json().items.length, 2);
  const wildcard = await app.inject({
    method: 'GET',
    url: '/api/v1/admin/audit-log?action=%25',
    headers: asAdmin,
  });
  t.equal(wildcard.json().items.length, 0, '% is a character, not a wildcard');
  const old = await app.inject({
    method: 'GET',
    url: '/api/v1/admin/audit-log?from=2020-01-01&to=2020-01-31',
    headers: asAdmin,
  });
  t.same(old.json().items, []);
  const bad = await app.inject({
    method: 'GET',
    url: '/api/v1/admin/audit-log?cursor=bm9wZQ',
    headers: asAdmin,
  });
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().code, 'invalid_cursor');
  const tooLarge = await app.inject({
    method: 'GET',
    url: '/api/v1/admin/audit-log?from=2020-01-01&to=2026-01-01',
    headers: asAdmin,
  });
  t.equal(tooLarge.json().code, 'range_too_large');
});
