import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import t from 'tap';
import { demoProduct, seedCatalog } from '../../shared/catalog/demo.js';
import { buildTestApp, testEnv } from '../support/harness.js';

const run = promisify(execFile);

t.test('demo catalog: deterministic, idempotent, 2–6 variants with stock, images, large option', async (t) => {
  const { config, db } = await testEnv(t);
  const logs: string[] = [];
  const ctx = { db, config, log: (m: string) => logs.push(m), args: ['--products', '150'] };
  t.same(demoProduct(7), demoProduct(7), 'the same product from the same index');
  await seedCatalog(ctx);
  const count = async () =>
    (await sql<{ p: number; v: number; i: number; m: number }>`SELECT (SELECT count(*) FROM products)::int AS p, (SELECT count(*) FROM product_variants)::int AS v,
      (SELECT count(*) FROM inventory)::int AS i, (SELECT count(*) FROM product_images)::int AS m`.execute(db)).rows[0];
  const first = await count();
  t.equal(first.p, 150);
  t.equal(first.v, first.i, 'one stock row per variant');
  t.ok(first.v >= 300 && first.v <= 900);
  t.equal(first.m, 12, 'a few images made locally');
  const perProduct = await sql<{ n: number }>`SELECT count(*)::int AS n FROM product_variants GROUP BY product_id`.execute(db);
  t.ok(perProduct.rows.every((r) => r.n >= 2 && r.n <= 6), '2–6 variants each');

  await seedCatalog(ctx);
  t.same(await count(), first, 'running it again adds nothing');

  const app = await buildTestApp(t, config);
  const list = (await app.inject('/api/v1/products?q=kente&facets=true')).json();
  t.ok(list.items.length > 0, 'searchable');
  t.ok(list.facets.categories.length > 0);
  const withImage = (await app.inject(`/api/v1/products/${demoProduct(0).slug}`)).json();
  t.equal(withImage.images.length, 1);
  t.equal((await app.inject(withImage.images[0].urls.card)).statusCode, 200);
});

t.test('npm run import:products -- file.csv imports with a progress bar and reports bad rows', async (t) => {
  const { config, db } = await testEnv(t);
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const fixture = fileURLToPath(new URL('../fixtures/shopify-products.csv', import.meta.url));
  const result = await run('npx', ['tsx', 'scripts/import-products.ts', fixture], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: config.DATABASE_URL, LOG_LEVEL: 'silent' },
  }).catch((err: { stdout: string; code: number }) => err);
  t.match(result.stdout, /line 7 \(adire-shirt\): Variant Inventory Qty must be a whole number/);
  t.match(result.stdout, /3 products created, 0 updated, 4 rejected \(11 rows\)/);
  t.equal((await db.selectFrom('products').select('id').execute()).length, 3);
});
