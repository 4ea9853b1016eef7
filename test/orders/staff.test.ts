import t from 'tap';
import { testEnv } from '../support/harness.js';
import { createProduct, createUser, startServer, stockOf } from '../support/fixtures.js';

t.test('inventory: counts with versions, deltas, bulk all-or-nothing, movements, one low-stock alert per crossing', async (t) => {
  const { config, db } = await testEnv(t);
  const { call, bearer } = await startServer(t, config);
  const manager = await createUser(db, { role: 'manager' });
  await createUser(db, { role: 'admin' });
  const support = await createUser(db, { role: 'support' });
  const customer = await createUser(db);
  const staff = { authorization: bearer('manager', manager.id) };
  const { variants } = await createProduct(db, [{ onHand: 20, threshold: 5, sku: `INV-A-${Date.now()}` }, { onHand: 3, sku: `INV-B-${Date.now()}` }]);
  const [a, b] = variants as [(typeof variants)[0], (typeof variants)[0]];

  t.equal((await call('PATCH', `/inventory/${a.id}`, { body: { delta: 1, reason: 'x' } })).status, 401);
  t.equal((await call('PATCH', `/inventory/${a.id}`, { headers: { authorization: bearer('support', support.id) }, body: { delta: 1, reason: 'x' } })).status, 403);
  t.equal((await call('GET', '/inventory', { headers: { authorization: bearer('customer', customer.id) } })).status, 403);
  t.equal((await call('GET', '/inventory', { headers: { authorization: bearer('support', support.id) } })).status, 200, 'staff may read');

  const v0 = (await stockOf(db, a.id)).version;
  const set = await call('PATCH', `/inventory/${a.id}`, { headers: staff, body: { onHand: 30, version: v0 } });
  t.equal(set.status, 200, JSON.stringify(set.body));
  t.match(set.body, { onHand: 30, available: 30, version: v0 + 1 });
  const stale = await call('PATCH', `/inventory/${a.id}`, { headers: staff, body: { onHand: 10, version: v0 } });
  t.equal(stale.status, 409);
  t.equal(stale.body.code, 'version_conflict');

  // 30 → 5 crosses the threshold (5): one email to managers + one staff notice.
  t.equal((await call('PATCH', `/inventory/${a.id}`, { headers: staff, body: { delta: -25, reason: 'damaged' } })).status, 200);
  t.equal((await call('PATCH', `/inventory/${a.id}`, { headers: staff, body: { delta: -1, reason: 'damaged' } })).status, 200, 'still low: no second mail');
  const mails = async () =>
    (await db.selectFrom('outbox').select('payload').where('name', '=', 'email.send').execute()).map((m) => m.payload as { template: string; to: string; data: Record<string, unknown> });
  let lowMails = (await mails()).filter((m) => m.template === 'low-stock');
  t.equal(lowMails.length, 1, 'one mail per crossing');
  t.match(lowMails[0].to, manager.email);
  t.match(lowMails[0].data, { sku: a.sku, available: 5, threshold: 5 });
  const notices = await db.selectFrom('outbox').select('payload').where('name', '=', 'system.notify').execute();
  t.equal(notices.filter((n) => (n.payload as { type: string }).type === 'inventory.low_stock').length, 1);
  const alerts = await call('GET', '/inventory/alerts', { headers: staff });
  t.ok(alerts.body.items.some((i: { variantId: string }) => i.variantId === a.id));
  t.notOk(alerts.body.items.some((i: { variantId: string }) => i.variantId === b.id), '3 available above a threshold of 0 is not an alert');
  // Restock above the threshold re-arms; crossing again mails again.
  await call('PATCH', `/inventory/${a.id}`, { headers: staff, body: { delta: 20, reason: 'received' } });
  await call('PATCH', `/inventory/${a.id}`, { headers: staff, body: { delta: -20, reason: 'sold offline' } });
  lowMails = (await mails()).filter((m) => m.template === 'low-stock');
  t.equal(lowMails.length, 2);

  const below = await call('PATCH', `/inventory/${a.id}`, { headers: staff, body: { delta: -100, reason: 'x' } });
  t.equal(below.status, 409);
  t.equal(below.body.code, 'insufficient_stock');
  t.equal((await call('PATCH', `/inventory/${a.id}`, { headers: staff, body: { delta: 0, reason: 'x' } })).status, 400);
  t.equal((await call('PATCH', `/inventory/${a.id}`, { headers: staff, body: { onHand: 5 } })).status, 400, 'a count needs its version');
  t.equal((await call('PATCH', `/inventory/${a.id}`, { headers: staff, body: { onHand: -1, version: 0 } })).status, 400);
  t.equal((await call('PATCH', '/inventory/00000000-0000-4000-8000-00000000abcd', { headers: staff, body: { delta: 1, reason: 'x' } })).status, 404);

  const before = await stockOf(db, b.id);
  const bulkBad = await call('POST', '/inventory/bulk-adjust', { headers: staff, body: { reason: 'stocktake', items: [{ sku: b.sku, delta: 5 }, { sku: 'NO-SUCH', delta: 1 }, { sku: a.sku, delta: -1000 }] } });
  t.equal(bulkBad.status, 409);
  t.equal(bulkBad.body.code, 'bulk_adjust_failed');
  t.same(bulkBad.body.failed.map((f: { sku: string }) => f.sku).sort(), [a.sku, 'NO-SUCH'].sort());
  t.same(await stockOf(db, b.id), before, 'nothing changed');
  t.equal((await call('POST', '/inventory/bulk-adjust', { headers: staff, body: { reason: 'x', items: [{ sku: b.sku, delta: 1 }, { sku: b.sku, delta: 1 }] } })).status, 400, 'duplicate SKUs');
  t.equal((await call('POST', '/inventory/bulk-adjust', { headers: staff, body: { reason: 'x', items: [] } })).status, 400);
  const bulk = await call('POST', '/inventory/bulk-adjust', { headers: staff, body: { reason: 'received', items: [{ sku: b.sku, delta: 7 }, { sku: a.sku, delta: 2 }] } });
  t.equal(bulk.status, 200);
  t.equal((await stockOf(db, b.id)).onHand, 10);
  const moves = await db.selectFrom('inventoryMovements').select(['deltaOnHand', 'reason', 'actorId']).where('variantId', '=', b.id).execute();
  t.same(moves, [{ deltaOnHand: 7, reason: 'received', actorId: manager.id }]);

  const low = await call('GET', `/inventory?lowStock=true`, { headers: staff });
  t.ok(low.body.items.every((i: { available: number; lowStockThreshold: number }) => i.available <= i.lowStockThreshold));
  const bySku = await call('GET', `/inventory?sku=${b.sku.toLowerCase()}`, { headers: staff });
  t.same(bySku.body.items.map((i: { sku: string }) => i.sku), [b.sku], 'SKU filter is a case-insensitive prefix');
  const page = await call('GET', '/inventory?limit=1', { headers: staff });
  t.ok(page.body.nextCursor);
  const next = await call('GET', `/inventory?limit=1&cursor=${page.body.nextCursor}`, { headers: staff });
  t.not(next.body.items[0].variantId, page.body.items[0].variantId);
  t.equal((await call('GET', '/inventory?limit=0', { headers: staff })).status, 400);
});

t.test('coupons and shipping methods: staff CRUD, public shipping list, bad input', async (t) => {
  const { config, db } = await testEnv(t);
  const { call, bearer } = await startServer(t, config);
  const manager = await createUser(db, { role: 'manager' });
  const customer = await createUser(db);
  const staff = { authorization: bearer('manager', manager.id) };

  t.equal((await call('POST', '/coupons', { body: { code: 'X' } })).status, 401, 'auth before validation');
  t.equal((await call('POST', '/coupons', { headers: { authorization: bearer('customer', customer.id) }, body: {} })).status, 403);
  const c = await call('POST', '/coupons', { headers: staff, body: { code: 'Harmattan15', kind: 'percent', value: 15, maxRedemptions: 100, perCustomerLimit: 1 } });
  t.equal(c.status, 201, JSON.stringify(c.body));
  t.match(c.body, { code: 'Harmattan15', kind: 'percent', value: 15, redemptionsCount: 0, active: true });
  t.equal((await call('POST', '/coupons', { headers: staff, body: { code: 'HARMATTAN15', kind: 'fixed', value: 100 } })).body.code, 'code_taken', 'codes are case-insensitive');
  t.equal((await call('POST', '/coupons', { headers: staff, body: { code: 'BAD1', kind: 'percent', value: 150 } })).status, 400);
  t.equal((await call('POST', '/coupons', { headers: staff, body: { code: 'BAD2', kind: 'bogus', value: 1 } })).status, 400);
  t.equal((await call('POST', '/coupons', { headers: staff, body: { code: 'a b', kind: 'fixed', value: 1 } })).status, 400);
  t.equal((await call('POST', '/coupons', { headers: staff, body: { code: 'BAD3', kind: 'fixed', value: 1, startsAt: '2026-12-01T00:00:00Z', endsAt: '2026-11-01T00:00:00Z' } })).status, 400);
  const fs = await call('POST', '/coupons', { headers: staff, body: { code: 'FREESHIP', kind: 'free_shipping' } });
  t.equal(fs.status, 201);
  t.equal(fs.body.value, 0);
  const patched = await call('PATCH', `/coupons/${c.body.id}`, { headers: staff, body: { value: 20, endsAt: '2030-01-01T00:00:00.000Z' } });
  t.match(patched.body, { value: 20, endsAt: '2030-01-01T00:00:00.000Z' });
  t.equal((await call('PATCH', `/coupons/${c.body.id}`, { headers: staff, body: {} })).status, 400);
  t.equal((await call('GET', `/coupons/${c.body.id}`, { headers: staff })).body.value, 20);
  const list = await call('GET', '/coupons?q=harm', { headers: staff });
  t.same(list.body.items.map((x: { code: string }) => x.code), ['Harmattan15']);
  t.equal((await call('DELETE', `/coupons/${fs.body.id}`, { headers: staff })).status, 204);
  t.equal((await call('GET', `/coupons/${fs.body.id}`, { headers: staff })).status, 404);
  t.equal((await call('DELETE', `/coupons/${fs.body.id}`, { headers: staff })).status, 404);
  t.equal((await call('GET', '/coupons/not-a-uuid', { headers: staff })).status, 400);

  t.equal((await call('POST', '/shipping-methods', { body: {} })).status, 401);
  const m = await call('POST', '/shipping-methods', { headers: staff, body: { name: 'Lagos same day', price: 600_000, etaDays: 0, freeOver: null } });
  t.equal(m.status, 201);
  t.equal((await call('POST', '/shipping-methods', { headers: staff, body: { name: 'x', price: -1, etaDays: 1 } })).status, 400);
  t.equal((await call('POST', '/shipping-methods', { headers: staff, body: { name: 'x', price: 1.5, etaDays: 1 } })).status, 400, 'money is an integer');
  await call('POST', '/shipping-methods', { headers: staff, body: { name: 'Hidden', price: 1, etaDays: 1, active: false } });
  const pub = await call('GET', '/shipping-methods');
  t.equal(pub.status, 200);
  t.same(pub.body.items.map((x: { name: string }) => x.name), ['Lagos same day'], 'public list shows active methods');
  t.match(pub.body.items[0], { price: 600_000, currency: 'NGN', freeOver: null, etaDays: 0 });
  t.equal((await call('PATCH', `/shipping-methods/${m.body.id}`, { headers: staff, body: { price: 650_000 } })).body.price, 650_000);
  t.equal((await call('DELETE', `/shipping-methods/${m.body.id}`, { headers: staff })).status, 204);
  t.equal((await call('PATCH', `/shipping-methods/${m.body.id}`, { headers: staff, body: { price: 1 } })).status, 404);
});

t.test('the shipping seed step creates the default methods once', async (t) => {
  const { db } = await testEnv(t);
  const { seedShippingMethods, defaultShippingMethods } = await import('../../shared/shipping/seed.js');
  t.same(await seedShippingMethods(db), { created: defaultShippingMethods.length });
  t.same(await seedShippingMethods(db), { created: 0 });
  t.equal((await db.selectFrom('shippingMethods').select('id').execute()).length, defaultShippingMethods.length);
});
