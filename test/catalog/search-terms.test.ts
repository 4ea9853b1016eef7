import { sql } from 'kysely';
import t from 'tap';
import { buildTestApp, testEnv } from '../support/harness.js';
import { makeProduct, call } from './helpers.js';

/**
 * Relevance search on one word (or one hyphenated word's phrase) reads ranks computed when products were
 * written (product_search_terms, migrations/2026121020). Whatever path a query takes, every page of it
 * must equal ranking every match with ts_rank, also after products are renamed, re-described, archived or
 * deleted, and in bulk inserts.
 */
type Page = { items: { id: string }[]; nextCursor: string | null };

const words = ['ankara', 'lace', 'hand-finished', 'tie-dye', 'wedding', 'gele', 'royal', 'owambe', 'lagos'];

t.test('one-word search equals ranking every match, through writes', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config, {});
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const pick = (n: number) => Array.from({ length: n }, () => words[Math.floor(rnd() * words.length)]);
  const ids: string[] = [];
  for (let i = 0; i < 40; i++) {
    const p = await makeProduct(app, db, {
      title: `${pick(1 + (i % 3)).join(' ')} ${i}`,
      description: `${pick(i % 7).join(' ')} from Lagos, hand-finished. ${pick(i % 4).join(', ')}`,
      tags: pick(i % 3),
      prices: [500_000 + ((i * 37) % 11) * 250_000],
      stock: [i % 4 ? 3 : 0],
    });
    ids.push(p.id);
  }
  // A bulk insert (one statement, several rows) goes through the same trigger.
  await sql`INSERT INTO products (slug, title, description, status, price_from)
    SELECT 'bulk-' || g, 'Lace gele ' || g, repeat('ankara ', g), 'active', 600000 + g FROM generate_series(1, 6) g`.execute(db);

  const queries = [...words, 'Ankara', 'dresses', 'hand-finish', 'tie-dyed', 'ankara lace', '"royal ankara"', '-lagos', 'lace or gele', 'the', 'x-y-z'];
  const check = async (label: string) => {
    for (const q of queries) {
      for (const filter of ['', '&minPrice=1000000', '&inStock=true']) {
        const { rows } = await sql<{ id: string }>`
          SELECT id FROM products WHERE status = 'active' AND search @@ websearch_to_tsquery('english', ${q})
            ${filter.includes('minPrice') ? sql`AND price_from >= 1000000` : sql``} ${filter.includes('inStock') ? sql`AND in_stock` : sql``}
          ORDER BY ts_rank(search, websearch_to_tsquery('english', ${q})) DESC, id DESC`.execute(db);
        const got: string[] = [];
        let cursor: string | null = null;
        for (let n = 0; n < 30; n++) {
          const res = await app.inject(`/api/v1/products?q=${encodeURIComponent(q)}${filter}&limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
          t.equal(res.statusCode, 200, res.body);
          const page: Page = res.json();
          got.push(...page.items.map((i) => i.id));
          cursor = page.nextCursor;
          if (!cursor) break;
        }
        t.same(got, rows.map((r) => r.id), `${label}: q=${q}${filter}`);
      }
    }
    // The stored terms are exactly what the documents give now.
    const { rows: drift } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM (
        (SELECT t.term, t.rank, p.id FROM products p, product_search_terms_of(p.search) t
         EXCEPT ALL SELECT term, rank, product_id FROM product_search_terms)
        UNION ALL
        (SELECT term, rank, product_id FROM product_search_terms
         EXCEPT ALL SELECT t.term, t.rank, p.id FROM products p, product_search_terms_of(p.search) t)) d`.execute(db);
    t.equal(drift[0].n, 0, `${label}: product_search_terms equals a recomputation`);
  };

  await check('created');
  await call(app, 'PATCH', `/api/v1/products/${ids[0]}`, { title: 'Royal royal ankara', description: 'tie-dye owambe' }, 200);
  await call(app, 'PATCH', `/api/v1/products/${ids[1]}`, { tags: ['hand-finished', 'gele'] }, 200);
  await call(app, 'DELETE', `/api/v1/products/${ids[2]}`, undefined, 204);
  await sql`UPDATE products SET description = description || ' wedding wedding' WHERE id = ANY(${ids.slice(3, 9)}::uuid[])`.execute(db);
  // Price and stock moves leave the document alone (no trigger work); they still filter.
  await sql`UPDATE products SET price_from = price_from + 700000, in_stock = NOT in_stock WHERE id = ANY(${ids.slice(9, 20)}::uuid[])`.execute(db);
  await sql`DELETE FROM products WHERE id = ${ids[3]}`.execute(db);
  await app.catalogCache.bump();
  await check('after writes');
});
