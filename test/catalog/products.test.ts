import t from 'tap';
import { buildTestApp, testEnv, tokenFor } from '../support/harness.js';
import { call, makeCategory, makeProduct, staff } from './helpers.js';

t.test('products and variants: CRUD, permissions, visibility, conflicts', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);

  // Permissions: anonymous 401 (whatever the body), customer 403.
  const anon = await app.inject({ method: 'POST', url: '/api/v1/products', payload: { nonsense: true } });
  t.equal(anon.statusCode, 401);
  const customer = await app.inject({ method: 'POST', url: '/api/v1/products', headers: { authorization: tokenFor(app, 'customer') }, payload: { title: 'X' } });
  t.equal(customer.statusCode, 403);
  t.equal(customer.json().code, 'forbidden');

  const bad = await app.inject({ method: 'POST', url: '/api/v1/products', headers: staff(app), payload: { title: '' } });
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().code, 'validation_failed');

  const created = await call(
    app,
    'POST',
    '/api/v1/products',
    { title: 'Ankara Wrap Dress', description: 'Bold wax print', status: 'draft', variants: [{ sku: 'AWD-S', options: { size: 'S' }, price: 1_500_000 }] },
    201,
  );
  t.equal(created.slug, 'ankara-wrap-dress');
  t.equal(created.status, 'draft');
  t.equal(created.priceFrom, 1_500_000);
  t.equal(created.variants[0].available, 0, 'a new variant starts with no stock');
  const inventory = await db.selectFrom('inventory').selectAll().where('variantId', '=', created.variants[0].id).executeTakeFirstOrThrow();
  t.equal(inventory.onHand, 0, 'the inventory row was created with the variant');

  // Draft: invisible to the public, visible to staff.
  t.equal((await app.inject(`/api/v1/products/${created.slug}`)).statusCode, 404);
  t.equal((await app.inject({ url: `/api/v1/products/${created.id}`, headers: staff(app) })).statusCode, 200);
  t.same((await app.inject('/api/v1/products')).json().items, []);
  const draftList = await app.inject({ url: '/api/v1/products?status=draft', headers: staff(app) });
  t.equal(draftList.json().items.length, 1);
  t.equal((await app.inject('/api/v1/products?status=draft')).statusCode, 403, 'the public cannot ask for drafts');

  // Slug conflict → 409.
  const dup = await app.inject({ method: 'POST', url: '/api/v1/products', headers: staff(app), payload: { title: 'Ankara Wrap Dress' } });
  t.equal(dup.statusCode, 409);
  t.equal(dup.json().code, 'slug_taken');

  // Publish; variants: add, SKU conflict, price change.
  await call(app, 'PATCH', `/api/v1/products/${created.id}`, { status: 'active' }, 200);
  const v2 = await call(app, 'POST', `/api/v1/products/${created.id}/variants`, { sku: 'AWD-M', options: { size: 'M' }, price: 1_200_000 }, 201);
  t.equal(v2.available, 0);
  const skuDup = await app.inject({ method: 'POST', url: `/api/v1/products/${created.id}/variants`, headers: staff(app), payload: { sku: 'AWD-S', price: 1 } });
  t.equal(skuDup.statusCode, 409);
  t.equal(skuDup.json().code, 'sku_taken');
  const skuDupPatch = await app.inject({ method: 'PATCH', url: `/api/v1/variants/${v2.id}`, headers: staff(app), payload: { sku: 'AWD-S' } });
  t.equal(skuDupPatch.statusCode, 409);
  await call(app, 'PATCH', `/api/v1/variants/${v2.id}`, { price: 900_000 }, 200);
  t.equal((await app.inject({ method: 'PATCH', url: `/api/v1/variants/00000000-0000-4000-8000-000000000099`, headers: staff(app), payload: { price: 1 } })).statusCode, 404);
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/products/00000000-0000-4000-8000-000000000099/variants`, headers: staff(app), payload: { sku: 'ZZ', price: 1 } })).statusCode, 404);

  const detail = (await app.inject(`/api/v1/products/${created.slug}`)).json();
  t.equal(detail.priceFrom, 900_000, 'price_from follows the cheapest variant');
  t.same(
    detail.variants.map((v: { sku: string }) => v.sku),
    ['AWD-S', 'AWD-M'],
  );
  t.match(detail.variants[1], { id: v2.id, sku: 'AWD-M', title: 'M', options: { size: 'M' }, price: 900_000, currency: 'NGN', available: 0 });

  // Available never negative, reflects reserved.
  await db.updateTable('inventory').set({ onHand: 3, reserved: 3 }).where('variantId', '=', v2.id).execute();
  t.equal((await app.inject({ url: `/api/v1/products/${created.id}`, headers: staff(app) })).json().variants[1].available, 0);

  // DELETE archives.
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/products/${created.id}`, headers: staff(app) })).statusCode, 204);
  t.equal((await db.selectFrom('products').select('status').where('id', '=', created.id).executeTakeFirstOrThrow()).status, 'archived');
  t.equal((await app.inject(`/api/v1/products/${created.id}`)).statusCode, 404);
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/products/00000000-0000-4000-8000-000000000099`, headers: staff(app) })).statusCode, 404);
});

t.test('categories: tree, unique slug, descendants, refusal to delete a used category', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const women = await makeCategory(app, 'Women');
  const dresses = await makeCategory(app, 'Dresses', women.id);
  const maxi = await makeCategory(app, 'Maxi Dresses', dresses.id);
  const men = await makeCategory(app, 'Men');

  const tree = (await app.inject('/api/v1/categories')).json().items;
  const womenNode = tree.find((c: { slug: string }) => c.slug === 'women');
  t.equal(womenNode.children[0].slug, 'dresses');
  t.equal(womenNode.children[0].children[0].slug, 'maxi-dresses');

  const dup = await app.inject({ method: 'POST', url: '/api/v1/categories', headers: staff(app), payload: { name: 'Women' } });
  t.equal(dup.statusCode, 409);
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/categories', payload: { name: 'X' } })).statusCode, 401);
  const cycle = await app.inject({ method: 'PATCH', url: `/api/v1/categories/${women.id}`, headers: staff(app), payload: { parentId: maxi.id } });
  t.equal(cycle.statusCode, 400);
  t.equal(cycle.json().code, 'category_cycle');

  const p1 = await makeProduct(app, db, { title: 'Adire Maxi', categoryId: maxi.id });
  const p2 = await makeProduct(app, db, { title: 'Ankara Shift', categoryId: dresses.id });
  await makeProduct(app, db, { title: 'Agbada Set', categoryId: men.id });
  const inWomen = (await app.inject('/api/v1/products?category=women')).json().items.map((p: { id: string }) => p.id).sort();
  t.same(inWomen, [p1.id, p2.id].sort(), 'a category includes its descendants');
  t.equal((await app.inject('/api/v1/products?category=maxi-dresses')).json().items.length, 1);
  t.same((await app.inject('/api/v1/products?category=nope')).json().items, []);

  const refuseChildren = await app.inject({ method: 'DELETE', url: `/api/v1/categories/${women.id}`, headers: staff(app) });
  t.equal(refuseChildren.statusCode, 409);
  t.equal(refuseChildren.json().code, 'category_not_empty');
  const refuseProducts = await app.inject({ method: 'DELETE', url: `/api/v1/categories/${men.id}`, headers: staff(app) });
  t.equal(refuseProducts.statusCode, 409);
  const empty = await makeCategory(app, 'Empty');
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/categories/${empty.id}`, headers: staff(app) })).statusCode, 204);
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/categories/${empty.id}`, headers: staff(app) })).statusCode, 404);
  const renamed = await call(app, 'PATCH', `/api/v1/categories/${men.id}`, { name: 'Menswear', slug: 'menswear' }, 200);
  t.equal(renamed.slug, 'menswear');
});
