import { sql } from 'kysely';
import t from 'tap';
import { buildTestApp, testEnv } from '../support/harness.js';
import { makeCategory, makeProduct } from './helpers.js';

type Item = { id: string; title: string; priceFrom: number; rating: number; inStock: boolean; images: unknown[] };

t.test('listing: every sort pages with the cursor without duplicates or gaps, also while rows arrive', async (t) => {
  const { config, db } = await testEnv(t);
  const queries: string[] = [];
  const app = await buildTestApp(t, config, { onQuery: (q) => queries.push(q) });
  const women = await makeCategory(app, 'Women');
  const men = await makeCategory(app, 'Men');
  const ids: string[] = [];
  for (let i = 0; i < 23; i++) {
    const p = await makeProduct(app, db, {
      title: `Product ${i}`,
      categoryId: i % 2 ? women.id : men.id,
      // Deliberate ties in price to exercise the id tie-breaker.
      prices: [((i % 5) + 1) * 500_000, 9_000_000],
      stock: [i % 3 === 0 ? 0 : 4, 0],
    });
    ids.push(p.id);
  }
  // Ratings with ties; identical created_at for some rows to test the tie-breaker on newest.
  await sql`UPDATE products p SET rating_count = x.n, rating_sum = x.n * x.stars, created_at = now() - (abs(hashtext(p.id::text)) % 4) * interval '1 minute'
    FROM (SELECT id, abs(hashtext(id::text)) % 3 AS n, 1 + abs(hashtext(id::text || 'r')) % 5 AS stars FROM products) x WHERE x.id = p.id`.execute(db);

  const all = async (query: string, limit = 4, between?: () => Promise<void>) => {
    const seen: Item[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 50; page++) {
      const res: { statusCode: number; body: string; json<T>(): T } = await app.inject(
        `/api/v1/products?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      t.equal(res.statusCode, 200, res.body);
      const body: { items: Item[]; nextCursor: string | null } = res.json();
      seen.push(...body.items);
      cursor = body.nextCursor;
      if (!cursor) break;
      if (between) await between();
    }
    return seen;
  };

  const sorted = async (column: string, dir: 'asc' | 'desc', where = sql`true`) =>
    (
      await sql<{ id: string }>`SELECT id FROM products WHERE status = 'active' AND ${where}
        ORDER BY ${sql.raw(column)} ${sql.raw(dir)}, id ${sql.raw(dir)}`.execute(db)
    ).rows.map((r) => r.id);

  t.same((await all('sort=newest')).map((i) => i.id), await sorted('created_at', 'desc'), 'newest');
  t.same((await all('')).map((i) => i.id), await sorted('created_at', 'desc'), 'newest is the default');
  t.same((await all('sort=price_asc')).map((i) => i.id), await sorted('price_from', 'asc'), 'price_asc');
  t.same((await all('sort=price_desc', 5)).map((i) => i.id), await sorted('price_from', 'desc'), 'price_desc');
  // sort=rating: the average damped toward the store mean by 5 prior reviews (shared/catalog/listing.ts).
  const damped = `round((rating_sum + 5 * (SELECT COALESCE(sum(rating_sum)::numeric / NULLIF(sum(rating_count), 0), 0) FROM products WHERE status = 'active')) / (rating_count + 5), 8)`;
  t.same((await all('sort=rating', 3)).map((i) => i.id), await sorted(damped, 'desc'), 'rating');

  const cheap = await all('sort=price_asc&minPrice=1000000&maxPrice=1500000');
  t.ok(cheap.length > 0 && cheap.every((i) => i.priceFrom >= 1_000_000 && i.priceFrom <= 1_500_000), 'price range filter');
  t.same(cheap.map((i) => i.id), await sorted('price_from', 'asc', sql`price_from BETWEEN 1000000 AND 1500000`));
  const inStock = await all('inStock=true');
  t.same(inStock.map((i) => i.id).sort(), (await sorted('id', 'asc', sql`in_stock`)).sort(), 'inStock filter');
  t.equal(inStock.length, 23 - 8, 'products whose only stocked variant has stock');
  t.same((await all('category=women&sort=price_asc')).map((i) => i.id), await sorted('price_from', 'asc', sql`category_id = ${women.id}`));

  // Rows inserted between pages (newer than everything) neither repeat nor hide the remaining ones.
  const before = await sorted('created_at', 'desc');
  let n = 0;
  const during = await all('sort=newest', 4, async () => {
    await makeProduct(app, db, { title: `Late arrival ${n++}` });
  });
  t.same(during.map((i) => i.id), before, 'keyset paging is stable under inserts');

  // Limits and bad cursors.
  t.equal((await app.inject('/api/v1/products?limit=101')).statusCode, 400);
  t.equal((await app.inject('/api/v1/products?limit=0')).statusCode, 400);
  t.equal((await app.inject('/api/v1/products?limit=100')).statusCode, 200);
  const badCursor = await app.inject('/api/v1/products?cursor=garbage');
  t.equal(badCursor.statusCode, 400);
  t.equal(badCursor.json().code, 'invalid_cursor');
  const firstNewest = (await app.inject('/api/v1/products?limit=2')).json().nextCursor as string;
  t.equal((await app.inject(`/api/v1/products?sort=price_asc&cursor=${firstNewest}`)).statusCode, 400, "a cursor from another sort is refused");
  t.equal((await app.inject('/api/v1/products?sort=bogus')).statusCode, 400);

  // No N+1: one page of 20 (with images) costs the same statements as a page of 2.
  queries.length = 0;
  await app.inject('/api/v1/products?limit=2&sort=rating');
  const small = queries.length;
  queries.length = 0;
  const big = await app.inject('/api/v1/products?limit=20&sort=price_desc');
  t.equal(big.json().items.length, 20);
  t.equal(queries.length, small, 'statements per list request do not grow with the page size');
  t.ok(queries.length <= 1, `one statement per list request (got ${queries.length})`);
  queries.length = 0;
  await app.inject('/api/v1/products?limit=20&facets=true&q=product');
  t.ok(queries.length <= 1, `facets ride in the same round trip (got ${queries.length})`);
  queries.length = 0;
  await app.inject(`/api/v1/products/${ids[0]}`);
  t.ok(queries.length <= 1, `a product detail is one statement (got ${queries.length})`);
});

t.test('full-text search: stemming, weighting, relevance order', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const titled = await makeProduct(app, db, { title: 'Kente Dress', description: 'Handwoven cloth from Ghana' });
  const described = await makeProduct(app, db, { title: 'Aso Oke Gele', description: 'Pairs well with any dress for weddings' });
  const tagged = await makeProduct(app, db, { title: 'Adire Scarf', description: 'Indigo tie-dye', tags: ['dress-up', 'dresses'] });
  await makeProduct(app, db, { title: 'Agbada', description: 'Flowing robe' });

  const res = await app.inject('/api/v1/products?q=dresses');
  t.equal(res.statusCode, 200);
  const got = res.json().items.map((i: Item) => i.id);
  t.same(got, [titled.id, described.id, tagged.id], '"dresses" finds "Dress"; title outranks description outranks tags');
  t.same(
    (await app.inject('/api/v1/products?q=weddings')).json().items.map((i: Item) => i.id),
    [described.id],
  );
  t.same((await app.inject('/api/v1/products?q=nothing-like-this')).json().items, []);
  t.equal((await app.inject('/api/v1/products?sort=relevance')).statusCode, 400, 'relevance needs q');

  // Relevance pages with the cursor too.
  const p1 = (await app.inject('/api/v1/products?q=dress&limit=2')).json();
  const p2 = (await app.inject(`/api/v1/products?q=dress&limit=2&cursor=${p1.nextCursor}`)).json();
  t.same([...p1.items, ...p2.items].map((i: Item) => i.id), [titled.id, described.id, tagged.id]);
  t.equal(p2.nextCursor, null);
});

t.test('suggestions: typo tolerant, products and categories, at most 10', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const kente = await makeCategory(app, 'Kente');
  await makeProduct(app, db, { title: 'Kente Stole', categoryId: kente.id });
  await makeProduct(app, db, { title: 'Ankara Jumpsuit' });
  await makeProduct(app, db, { title: 'Hidden Kente Draft', status: 'draft' });
  for (let i = 0; i < 12; i++) await makeProduct(app, db, { title: `Ankara Print ${i}` });

  const typo = (await app.inject('/api/v1/search/suggestions?q=kentte')).json().items;
  t.match(typo[0], { type: 'category', text: 'Kente', slug: 'kente' }, '"kentte" suggests the Kente category first');
  t.ok(typo.some((s: { text: string }) => s.text === 'Kente Stole'));
  t.notOk(typo.some((s: { text: string }) => s.text.includes('Draft')), 'drafts are never suggested');
  const prefix = (await app.inject('/api/v1/search/suggestions?q=ankra')).json().items;
  t.equal(prefix.length, 10, 'at most 10');
  t.ok(prefix.every((s: { text: string }) => s.text.startsWith('Ankara')));
  t.equal((await app.inject('/api/v1/search/suggestions')).statusCode, 400);
  t.same((await app.inject('/api/v1/search/suggestions?q=zzzzqqq')).json().items, []);
});

t.test('facets: category and price band counts equal a plain count of the same filter', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const women = await makeCategory(app, 'Women');
  const dresses = await makeCategory(app, 'Dresses', women.id);
  const men = await makeCategory(app, 'Men');
  const prices = [300_000, 700_000, 1_200_000, 3_000_000, 6_000_000, 20_000_000];
  for (let i = 0; i < 18; i++) {
    await makeProduct(app, db, {
      title: `${i % 3 ? 'Ankara' : 'Adire'} piece ${i}`,
      categoryId: [women.id, dresses.id, men.id][i % 3],
      prices: [prices[i % prices.length]],
      stock: [i % 4 ? 3 : 0],
    });
  }
  const total = async (query: string) => {
    let n = 0;
    let cursor: string | null = null;
    do {
      const body: { items: unknown[]; nextCursor: string | null } = (
        await app.inject(`/api/v1/products?${query}&limit=100${cursor ? `&cursor=${cursor}` : ''}`)
      ).json();
      n += body.items.length;
      cursor = body.nextCursor;
    } while (cursor);
    return n;
  };

  for (const filter of ['', 'q=ankara', 'inStock=true', 'category=women', 'minPrice=500000&q=adire']) {
    const res = await app.inject(`/api/v1/products?${filter}&facets=true&limit=2`);
    t.equal(res.statusCode, 200);
    const { facets, items } = res.json<{
      items: unknown[];
      facets: { categories: { slug: string; count: number }[]; priceBands: { min: number; max: number | null; count: number }[] };
    }>();
    t.ok(items.length <= 2);
    t.equal(facets.priceBands.length, 6);
    for (const c of facets.categories) {
      const base = filter.replace(/category=[^&]*/, '');
      t.equal(c.count, await total(`${base}&category=${c.slug}`), `[${filter}] category ${c.slug}`);
    }
    for (const b of facets.priceBands) {
      const range = `minPrice=${Math.max(b.min, Number(/minPrice=(\d+)/.exec(filter)?.[1] ?? 0))}${b.max === null ? '' : `&maxPrice=${b.max - 1}`}`;
      t.equal(b.count, await total(`${filter.replace(/minPrice=\d+/, '')}&${range}`), `[${filter}] band ${b.min}-${b.max}`);
    }
    const bandSum = facets.priceBands.reduce((s, b) => s + b.count, 0);
    t.equal(bandSum, await total(filter), `[${filter}] bands cover every product`);
  }
  const noMatch = (await app.inject('/api/v1/products?q=zzzz&facets=true')).json();
  t.same(noMatch.items, []);
  t.same(noMatch.facets.categories, []);
});
