import { sql } from 'kysely';
import pg from 'pg';
import t, { type Test } from 'tap';
import { findProductJson } from '../../shared/catalog/products.js';
import type { Db } from '../../shared/db/index.js';
import { buildTestApp, testEnv } from '../support/harness.js';
import { call, makeCategory, makeProduct } from './helpers.js';

/**
 * A product detail is read from its stored document (migrations/2026121130_product_documents.ts) with stock
 * read live. What a detail IS stays defined here, independently: the five-table statement the API used before
 * the documents. After every kind of catalog write, every product's detail must be byte-for-byte what it builds.
 */
async function reference(db: Db): Promise<Map<string, string>> {
  const { rows } = await sql<{ id: string; json: string }>`
    SELECT p.id, json_build_object(
      'id', p.id, 'slug', p.slug, 'title', p.title, 'description', p.description, 'status', p.status,
      'category', (SELECT json_build_object('id', c.id, 'slug', c.slug, 'name', c.name) FROM categories c WHERE c.id = p.category_id),
      'tags', p.tags, 'attributes', p.attributes, 'vendor', p.vendor, 'productType', p.product_type,
      'seoTitle', p.seo_title, 'seoDescription', p.seo_description,
      'priceFrom', p.price_from, 'currency', p.currency, 'inStock', p.in_stock,
      'rating', p.rating::float8, 'reviewCount', p.rating_count, 'ratingCount', p.rating_count,
      'variants', COALESCE((
        SELECT json_agg(json_build_object(
          'id', v.id, 'sku', v.sku, 'title', v.title, 'options', v.options, 'price', v.price,
          'compareAtPrice', v.compare_at_price, 'currency', v.currency, 'weightGrams', v.weight_grams,
          'available', greatest(coalesce(i.on_hand - i.reserved, 0), 0)::int) ORDER BY v.position, v.sku)
        FROM product_variants v LEFT JOIN inventory i ON i.variant_id = v.id WHERE v.product_id = p.id), '[]'::json),
      'images', COALESCE((
        SELECT json_agg(json_build_object('id', m.id, 'urls', m.urls, 'alt', m.alt, 'position', m.position) ORDER BY m.position, m.id)
        FROM product_images m WHERE m.product_id = p.id), '[]'::json),
      'createdAt', to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'updatedAt', to_char(p.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    )::text AS json
    FROM products p`.execute(db);
  return new Map(rows.map((r) => [r.id, r.json]));
}

async function assertDocumentsTrue(t: Test, db: Db, step: string) {
  const expected = await reference(db);
  const documents = await db.selectFrom('productDocuments').select('productId').execute();
  t.equal(documents.length, expected.size, `${step}: one document a product`);
  for (const [id, json] of expected) {
    const found = await findProductJson(db, id, { publicOnly: false });
    if (found?.json !== json) {
      t.fail(`${step}: the detail of ${id} is not what the tables say`, { found: found?.json, wanted: json });
      return;
    }
  }
  t.pass(`${step}: ${expected.size} details byte-for-byte`);
}

const urls = (name: string) => ({ thumb: `/media/${name}-thumb.webp`, card: `/media/${name}-card.webp`, zoom: `/media/${name}-zoom.webp` });

t.test('every catalog write keeps each product document what the tables say', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const shoes = await makeCategory(app, 'Shoes');
  const a = await makeProduct(app, db, { title: 'Leather "Oxford" \\ Shoe', categoryId: shoes.id, prices: [2_500_000, 2_400_000], stock: [3, 0] });
  const b = await makeProduct(app, db, { title: 'Aso Oke Cap', prices: [500_000] });
  const bare = await makeProduct(app, db, { title: 'No variants yet', prices: [] });
  await assertDocumentsTrue(t, db, 'created');
  t.match(JSON.parse((await findProductJson(db, bare.id, { publicOnly: true }))!.json), { variants: [], priceFrom: null });

  await call(app, 'PATCH', `/api/v1/products/${a.id}`, { title: 'Oxford Shoe', slug: 'oxford-shoe', tags: ['leather'], attributes: { sole: 'rubber' } }, 200);
  await assertDocumentsTrue(t, db, 'product edited');
  t.equal(await findProductJson(db, a.slug, { publicOnly: true }), null, 'the old slug finds nothing');
  t.equal((await findProductJson(db, 'oxford-shoe', { publicOnly: true }))?.id, a.id, 'the new slug finds it');

  await call(app, 'POST', `/api/v1/products/${a.id}/variants`, { sku: 'OX-46', options: { size: '46' }, price: 2_000_000, position: 0 }, 201);
  await call(app, 'PATCH', `/api/v1/variants/${a.variants[0].id}`, { price: 2_600_000, compareAtPrice: 3_000_000 }, 200);
  await call(app, 'POST', `/api/v1/products/${bare.id}/variants`, { sku: 'NV-1', price: 100_000 }, 201);
  await assertDocumentsTrue(t, db, 'variants added and repriced');

  await call(app, 'PATCH', `/api/v1/categories/${shoes.id}`, { name: 'Footwear' }, 200);
  await assertDocumentsTrue(t, db, 'category renamed');

  await db
    .insertInto('productImages')
    .values([
      { productId: b.id, storage: 'local', storageKey: 'b1', urls: JSON.stringify(urls('b1')), alt: 'front', position: 1 },
      { productId: b.id, storage: 'local', storageKey: 'b0', urls: JSON.stringify(urls('b0')), alt: 'side', position: 0 },
    ])
    .execute();
  await assertDocumentsTrue(t, db, 'images added');
  await db.deleteFrom('productImages').where('alt', '=', 'front').execute();
  await sql`UPDATE products SET rating_sum = rating_sum + 9, rating_count = rating_count + 2 WHERE id = ${b.id}`.execute(db);
  await assertDocumentsTrue(t, db, 'an image removed, reviews counted');

  // Stock is never stored in the document: it is read where it goes, so a sale shows at once.
  await sql`UPDATE inventory SET on_hand = on_hand + 7 WHERE variant_id = ${a.variants[1].id}`.execute(db);
  await sql`UPDATE inventory SET reserved = on_hand WHERE variant_id = ${b.variants[0].id}`.execute(db);
  await assertDocumentsTrue(t, db, 'stock moved');

  await call(app, 'PATCH', `/api/v1/products/${b.id}`, { status: 'draft' }, 200);
  t.equal(await findProductJson(db, b.slug, { publicOnly: true }), null, 'a draft is not public');
  t.equal((await findProductJson(db, b.slug, { publicOnly: false }))?.id, b.id, 'staff still read it');
  await db.deleteFrom('productVariants').where('productId', '=', a.id).where('sku', '=', 'OX-46').execute();
  await assertDocumentsTrue(t, db, 'a variant deleted, a product drafted');

  await db.deleteFrom('products').where('id', '=', bare.id).execute();
  await assertDocumentsTrue(t, db, 'a product deleted');
  t.equal(await findProductJson(db, bare.id, { publicOnly: false }), null);
});

t.test('two transactions changing one product concurrently: the document has both changes, in either order', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const p = await makeProduct(app, db, { title: 'Adire Shirt', prices: [800_000] });
  const connect = async () => {
    const client = new pg.Client({ connectionString: config.DATABASE_URL });
    await client.connect();
    t.teardown(() => client.end());
    return client;
  };
  const [one, two] = [await connect(), await connect()];
  for (const [round, first] of [one, two].entries()) {
    const second = first === one ? two : one;
    const price = 900_000 + round;
    const title = `Adire Shirt ${round}`;
    // `first` changes the variant's price (the document's refresh locks the product), `second` the product's
    // title: it waits for `first` and must build on its committed price.
    const firstQuery = first === one ? `UPDATE product_variants SET price = ${price} WHERE product_id = '${p.id}'` : `UPDATE products SET title = '${title}' WHERE id = '${p.id}'`;
    const secondQuery = first === one ? `UPDATE products SET title = '${title}' WHERE id = '${p.id}'` : `UPDATE product_variants SET price = ${price} WHERE product_id = '${p.id}'`;
    await first.query('BEGIN');
    await first.query(firstQuery);
    await second.query('BEGIN');
    const waiting = second.query(secondQuery);
    await new Promise((r) => setTimeout(r, 100));
    await first.query('COMMIT');
    await waiting;
    await second.query('COMMIT');
    const detail = JSON.parse((await findProductJson(db, p.id, { publicOnly: true }))!.json) as { title: string; variants: { price: number }[] };
    t.equal(detail.title, title, `round ${round}: the title`);
    t.equal(detail.variants[0].price, price, `round ${round}: the price`);
    await assertDocumentsTrue(t, db, `round ${round}`);
  }
});
