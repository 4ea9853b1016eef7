import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { sql } from 'kysely';
import t from 'tap';
import { importProductsCsv } from '../../shared/catalog/csv.js';
import type { Db } from '../../shared/db/index.js';
import { buildTestApp, eventually, startTestWorker, testEnv, tokenFor } from '../support/harness.js';
import { multipartBody, staff } from './helpers.js';

const fixture = readFileSync(new URL('../fixtures/shopify-products.csv', import.meta.url));

/** The catalog as a reader sees it, without ids or timestamps: two databases can be compared. */
async function snapshot(db: Db) {
  const products = await sql<Record<string, unknown>>`
    SELECT p.slug, p.title, p.description, p.status, p.tags, p.vendor, p.product_type, p.seo_title, p.seo_description,
           p.price_from, p.in_stock,
           (WITH RECURSIVE up AS (SELECT id, parent_id, name, 0 AS depth FROM categories WHERE id = p.category_id
              UNION ALL SELECT c.id, c.parent_id, c.name, up.depth + 1 FROM categories c JOIN up ON c.id = up.parent_id)
            SELECT string_agg(name, ' > ' ORDER BY depth DESC) FROM up) AS category,
           (SELECT json_agg(json_build_object('sku', v.sku, 'price', v.price, 'compare', v.compare_at_price, 'options', v.options,
                   'grams', v.weight_grams, 'onHand', i.on_hand) ORDER BY v.position, v.sku)
            FROM product_variants v JOIN inventory i ON i.variant_id = v.id WHERE v.product_id = p.id)::text AS variants,
           (SELECT json_agg(json_build_object('src', m.source_url, 'alt', m.alt, 'position', m.position) ORDER BY m.position)
            FROM product_images m WHERE m.product_id = p.id)::text AS images
    FROM products p ORDER BY p.slug`.execute(db);
  return products.rows;
}

t.test('Shopify CSV import through the API and the worker: bad rows reported, products whole, re-import upserts', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  await startTestWorker(t, config, { queues: ['imports'] });

  const body = multipartBody(fixture, 'products.csv', 'text/csv');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/admin/imports', headers: body.headers, payload: body.payload })).statusCode, 401);
  t.equal(
    (await app.inject({ method: 'POST', url: '/api/v1/admin/imports', headers: { authorization: tokenFor(app, 'customer'), ...body.headers }, payload: body.payload })).statusCode,
    403,
  );
  const started = await app.inject({ method: 'POST', url: '/api/v1/admin/imports', headers: { ...staff(app), ...body.headers }, payload: body.payload });
  t.equal(started.statusCode, 202, started.body);
  const { id } = started.json();
  const done = await eventually(async () => {
    const res = await app.inject({ url: `/api/v1/admin/imports/${id}`, headers: staff(app) });
    const view = res.json();
    return view.status === 'completed' ? view : null;
  });
  t.match(done, { status: 'completed', filename: 'products.csv', totalRows: 11, processedRows: 11, productsCreated: 3, productsUpdated: 0 });
  t.same(
    done.errors.map((e: { line: number; handle?: string }) => [e.line, e.handle ?? null]),
    [
      [7, 'adire-shirt'],
      [9, null],
      [10, 'aso-oke-cap'],
      [13, 'dashiki'],
    ],
    'each bad row is reported with its line number',
  );
  t.match(done.errors[0].reason, /Variant Inventory Qty must be a whole number/);
  t.match(done.errors[1].reason, /Handle is required/);
  t.match(done.errors[2].reason, /Variant Price must be a decimal/);
  t.match(done.errors[3].reason, /already belongs to another product/);

  // A product with a bad row is not there at all (not even its good first row).
  t.notOk(await db.selectFrom('products').select('id').where('slug', '=', 'adire-shirt').executeTakeFirst());
  t.notOk(await db.selectFrom('productVariants').select('id').where('sku', '=', 'ADR-SHIRT-M').executeTakeFirst());
  t.notOk(await db.selectFrom('products').select('id').where('slug', '=', 'dashiki').executeTakeFirst());

  const dress = (await app.inject('/api/v1/products/ankara-maxi-dress')).json();
  t.match(dress, { title: 'Ankara Maxi Dress', priceFrom: 2_500_000, inStock: true, category: { slug: 'dresses' } });
  t.match(dress.description, /Made in Lagos/);
  t.same(
    dress.variants.map((v: { sku: string; price: number; available: number; options: object }) => [v.sku, v.price, v.available, v.options]),
    [
      ['ANK-MAXI-S-BLU', 2_500_000, 5, { Size: 'S', Color: 'Blue' }],
      ['ANK-MAXI-M-BLU', 2_500_000, 0, { Size: 'M', Color: 'Blue' }],
      ['ANK-MAXI-L-RED', 2_650_050, 2, { Size: 'L', Color: 'Red' }],
    ],
  );
  t.same(dress.images.map((i: { alt: string; position: number }) => [i.alt, i.position]), [['Front view', 0], ['Back view', 1]]);
  t.equal((await app.inject('/api/v1/products/aso-oke-cap')).statusCode, 404);
  const movements = await db.selectFrom('inventoryMovements').select(['reason', 'deltaOnHand']).where('reason', '=', 'import').execute();
  t.ok(movements.length >= 4, 'stock set by the import is recorded as movements');

  // Re-import: updates, never duplicates.
  const before = await snapshot(db);
  const again = await app.inject({ method: 'POST', url: '/api/v1/admin/imports', headers: { ...staff(app), ...body.headers }, payload: body.payload });
  const second = await eventually(async () => {
    const view = (await app.inject({ url: `/api/v1/admin/imports/${again.json().id}`, headers: staff(app) })).json();
    return view.status === 'completed' ? view : null;
  });
  t.match(second, { productsCreated: 0, productsUpdated: 3 });
  t.same(await snapshot(db), before, 'the same file twice gives the same catalog');
  t.equal((await db.selectFrom('productImages').select('id').execute()).length, 3);
  t.equal((await app.inject({ url: '/api/v1/admin/imports/00000000-0000-4000-8000-000000000099', headers: staff(app) })).statusCode, 404);
});

t.test('export streams the same format; export → import into an empty database → the same catalog', async (t) => {
  const source = await testEnv(t);
  const app = await buildTestApp(t, source.config);
  await importProductsCsv(source.db, Readable.from([fixture]));
  // Something made through the API too: a draft, a product without images, tags with commas avoided.
  const created = await app.inject({
    method: 'POST',
    url: '/api/v1/products',
    headers: staff(app),
    payload: { title: 'Draft Kaftan', status: 'draft', tags: ['kaftan', 'linen'], variants: [{ sku: 'KAF-1', options: { Size: 'XL' }, price: 1_999_999, weightGrams: 700 }] },
  });
  t.equal(created.statusCode, 201, created.body);

  t.equal((await app.inject('/api/v1/admin/exports/products.csv')).statusCode, 401);
  const res = await app.inject({ url: '/api/v1/admin/exports/products.csv', headers: staff(app) });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/csv/);
  t.match(res.body.split('\n')[0], /^Handle,Title,Body \(HTML\),Vendor/);

  const target = await testEnv(t);
  const result = await importProductsCsv(target.db, Readable.from([res.rawPayload]));
  t.same(result.errors, [], 'the export imports cleanly');
  t.equal(result.productsCreated, 4);
  t.same(await snapshot(target.db), await snapshot(source.db), 'same products, variants, prices, stock, categories and images');
});
