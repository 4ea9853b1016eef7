import { sql } from 'kysely';
import t from 'tap';
import { seedCatalog } from '../../shared/catalog/demo.js';
import { seedReviews } from '../../shared/reviews/demo.js';
import { recountRatings } from '../../shared/reviews/recount.js';
import { steps } from '../../scripts/seed.js';
import { buildTestApp, testEnv } from '../support/harness.js';

t.test('demo seed: ratings come from reviews of delivered demo orders; idempotent; 0 drift', async (t) => {
  const { config, db } = await testEnv(t);
  t.ok(
    steps.some((s) => s.run === seedReviews),
    'registered in npm run seed',
  );
  const logs: string[] = [];
  const ctx = { db, config, log: (m: string) => logs.push(m), args: ['--products', '60'] };
  await seedCatalog(ctx);
  const { unrated } = (
    await sql<{
      unrated: number;
    }>`SELECT count(*)::int AS unrated FROM products WHERE rating IS NULL AND rating_count = 0`.execute(db)
  ).rows[0];
  t.equal(unrated, 60, 'the catalog alone has no ratings');

  await seedReviews(ctx);
  const count = async () =>
    (
      await sql<{
        reviews: number;
        orders: number;
        rated: number;
      }>`SELECT (SELECT count(*) FROM reviews)::int AS reviews,
      (SELECT count(*) FROM orders)::int AS orders, (SELECT count(*) FROM products WHERE rating_count > 0)::int AS rated`.execute(
        db,
      )
    ).rows[0];
  const first = await count();
  t.ok(first.reviews >= 20, `${first.reviews} reviews`);
  t.ok(first.rated >= 10, `${first.rated} rated products`);
  const unverified = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM reviews r WHERE NOT EXISTS (
      SELECT 1 FROM orders o JOIN order_items oi ON oi.order_id = o.id
      WHERE o.user_id = r.author_id AND oi.product_id = r.product_id AND o.status = 'delivered')`.execute(db);
  t.equal(unverified.rows[0].n, 0, 'every review is a verified purchase');
  t.equal((await recountRatings(db, 'manual')).drifted, 0, 'the counters equal the published reviews');

  await seedReviews(ctx);
  t.same(await count(), first, 'running it again adds nothing');
  t.match(logs.at(-1), /already seeded/);

  const app = await buildTestApp(t, config);
  const top = (await app.inject('/api/v1/products?sort=rating&limit=5')).json().items;
  t.ok(top[0].rating !== null && top[0].reviewCount > 0, 'sort=rating leads with reviewed products');
  const reviews = (await app.inject(`/api/v1/products/${top[0].id}/reviews`)).json();
  t.equal(reviews.summary.count, top[0].reviewCount);
});
