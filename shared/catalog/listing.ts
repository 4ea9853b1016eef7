import { sql, type RawBuilder } from 'kysely';
import { decodeCursor, encodeCursor, InvalidCursorError } from '../db/cursor.js';
import { prepared, type DbOrTrx } from '../db/index.js';
import { BadRequestError } from '../errors.js';
import type { Facets, ListItem, ListPage, ListQuery, ProductSort, Suggestion } from './schemas.js';

export { productSorts, type Facets, type ListItem, type ListPage, type ListQuery, type ProductSort, type Suggestion } from './schemas.js';

/** Price bands in kobo, [min, max): ₦0–5k, 5–10k, 10–25k, 25–50k, 50–100k, 100k+. */
const PRICE_BANDS: readonly [number, number | null][] = [
  [0, 500_000],
  [500_000, 1_000_000],
  [1_000_000, 2_500_000],
  [2_500_000, 5_000_000],
  [5_000_000, 10_000_000],
  [10_000_000, null],
];

/**
 * `sort=rating` ranks by the average damped toward the store's mean by RATING_PRIOR_REVIEWS imaginary
 * reviews: (sum + k·mean) / (count + k). One five-star review no longer outranks two hundred at 4.8, and
 * an unreviewed product sits at the mean. The mean is a scalar subquery (evaluated once per statement);
 * the counters it reads move with every review, so a cursor's key may shift slightly between pages,
 * never beyond the rows' own order.
 */
export const RATING_PRIOR_REVIEWS = 5;
const STORE_MEAN = sql`(SELECT COALESCE(sum(s.rating_sum)::numeric / NULLIF(sum(s.rating_count), 0), 0) FROM products s WHERE s.status = 'active')`;
export const dampedRatingSql = (alias = 'p') =>
  sql`round((${sql.ref(`${alias}.rating_sum`)} + ${RATING_PRIOR_REVIEWS} * ${STORE_MEAN}) / (${sql.ref(`${alias}.rating_count`)} + ${RATING_PRIOR_REVIEWS}), 8)`;

interface SortSpec {
  /** The SQL expression ordered on (with p.id as the tie-breaker, same direction). */
  key: RawBuilder<unknown>;
  /** Its text form for the cursor, and the cast that turns it back. */
  keyText: RawBuilder<unknown>;
  cast: RawBuilder<unknown>;
  desc: boolean;
}

function sortSpec(sort: ProductSort, tsquery: RawBuilder<unknown> | null): SortSpec {
  switch (sort) {
    case 'relevance': {
      const rank = sql`ts_rank(p.search, ${tsquery})`;
      return { key: rank, keyText: sql`${rank}::text`, cast: sql`real`, desc: true };
    }
    case 'price_asc':
      return { key: sql`p.price_from`, keyText: sql`p.price_from::text`, cast: sql`bigint`, desc: false };
    case 'price_desc':
      return { key: sql`p.price_from`, keyText: sql`p.price_from::text`, cast: sql`bigint`, desc: true };
    case 'rating': {
      const damped = dampedRatingSql('p');
      return { key: damped, keyText: sql`${damped}::text`, cast: sql`numeric`, desc: true };
    }
    case 'newest':
      return { key: sql`p.created_at`, keyText: sql`p.created_at::text`, cast: sql`timestamptz`, desc: true };
  }
}

/** A tsquery's text when it is a plain phrase of lexemes ('a' <-> 'b' <-> ...), none with a quote or backslash. */
const PHRASE_CHAIN = String.raw`^'[^'\\]+'( <-> '[^'\\]+')+$`;
const FIRST_LEXEME = String.raw`^'([^']+)'`;

const cursorKeyType = (sort: ProductSort) => (sort === 'newest' ? 'timestamptz' : sort === 'price_asc' || sort === 'price_desc' ? 'bigint' : 'decimal');

/** The cursor is [sort, key, id] (shared/db/cursor.ts); a cursor from another sort is refused. */
function decodeListCursor(cursor: string, sort: ProductSort): { key: string; id: string } {
  const [s, key, id] = decodeCursor(cursor, ['text', cursorKeyType(sort), 'uuid']);
  if (s !== sort) throw new InvalidCursorError();
  return { key, id };
}

/** Every filter except the cursor: shared by the page and its facets. */
function filters(query: ListQuery, tsquery: RawBuilder<unknown> | null, sort: ProductSort): RawBuilder<unknown>[] {
  const where: RawBuilder<unknown>[] = [];
  const status = query.status ?? 'active';
  if (status !== 'any') where.push(sql`p.status = ${status}`);
  if (tsquery) where.push(sql`p.search @@ ${tsquery}`);
  if (query.category) {
    where.push(sql`p.category_id IN (
      WITH RECURSIVE sub AS (SELECT id FROM categories WHERE slug = ${query.category}
        UNION ALL SELECT c.id FROM categories c JOIN sub ON c.parent_id = sub.id)
      SELECT id FROM sub)`);
  }
  if (query.minPrice !== undefined) where.push(sql`p.price_from >= ${query.minPrice}`);
  if (query.maxPrice !== undefined) where.push(sql`p.price_from <= ${query.maxPrice}`);
  if (query.inStock) where.push(sql`p.in_stock`);
  // Price sorts page on price_from; a product without variants has none and is not for sale anyway.
  if (sort === 'price_asc' || sort === 'price_desc') where.push(sql`p.price_from IS NOT NULL`);
  return where;
}

/**
 * A page of products in ONE statement: the first image comes from a LATERAL join (no N+1), and with
 * `facets` the category counts (rolled up to ancestors, so a count equals what filtering by that category
 * returns) and price bands ride in the same round trip, computed over the filter without the cursor.
 */
export async function listProducts(db: DbOrTrx, query: ListQuery): Promise<ListPage> {
  const q = query.q?.trim();
  const tsquery = q ? sql`websearch_to_tsquery('english', ${q})` : null;
  const sort: ProductSort = query.sort ?? (q ? 'relevance' : 'newest');
  if (sort === 'relevance' && !tsquery) {
    throw new BadRequestError('validation_failed', 'sort=relevance needs q', [{ path: '/sort', message: 'relevance needs q' }]);
  }
  const spec = sortSpec(sort, tsquery);
  const where = filters(query, tsquery, sort);
  const pageWhere = [...where];
  const cursor = query.cursor ? decodeListCursor(query.cursor, sort) : null;
  if (cursor) {
    pageWhere.push(
      spec.desc
        ? sql`(${spec.key}, p.id) < (${cursor.key}::${spec.cast}, ${cursor.id}::uuid)`
        : sql`(${spec.key}, p.id) > (${cursor.key}::${spec.cast}, ${cursor.id}::uuid)`,
    );
  }
  const dir = spec.desc ? sql`DESC` : sql`ASC`;
  const whereSql = (parts: RawBuilder<unknown>[]) => (parts.length ? sql`WHERE ${sql.join(parts, sql` AND `)}` : sql``);

  const columns = sql`p.id, p.slug, p.title, p.price_from, p.currency, p.rating::float8 AS rating, p.rating_count AS review_count, p.in_stock`;
  const ranked = (limit: RawBuilder<unknown>) => sql`
    SELECT ${columns}, ${spec.key} AS k, ${spec.keyText} AS sort_key FROM products p
    ${whereSql(pageWhere)}
    ORDER BY ${spec.key} ${dir}, p.id ${dir}
    LIMIT ${limit}`;
  let rows$: RawBuilder<unknown>;
  if (sort === 'relevance' && tsquery) {
    // One word, or the phrase one hyphenated word makes: its rank in every product was computed when the
    // product was written (product_search_terms, migrations/2026121020_product_search_terms.ts), so the page
    // walks that index in rank order until it is full: the rows and order of ranking every match, without
    // ranking every match. Any other query (several words, a negation) ranks its matches. The other branch is
    // gated by its LIMIT (0 is never started) rather than a filter: a filter would sit under a parallel plan's
    // Gather, which starts its workers before finding out.
    const term = sql`(SELECT CASE WHEN numnode(t.q) = 1 THEN t.q::text
        WHEN t.q::text ~ ${PHRASE_CHAIN} AND websearch_to_tsquery('english', substring(t.q::text FROM ${FIRST_LEXEME}))::text = t.q::text THEN t.q::text END
      FROM (SELECT ${tsquery} AS q) t)`;
    const termWhere = [...filters(query, null, sort), sql`s.term = ${term}`];
    if (cursor) termWhere.push(sql`(s.rank, s.product_id) < (${cursor.key}::real, ${cursor.id}::uuid)`);
    rows$ = sql`
      (SELECT ${columns}, s.rank AS k, s.rank::text AS sort_key
       FROM product_search_terms s JOIN products p ON p.id = s.product_id
       ${whereSql(termWhere)}
       ORDER BY s.rank DESC, s.product_id DESC
       LIMIT ${query.limit + 1})
      UNION ALL
      (${ranked(sql`CASE WHEN ${term} IS NULL THEN ${query.limit + 1}::int ELSE 0 END`)})`;
  } else {
    rows$ = ranked(sql`${query.limit + 1}`);
  }
  // The page first, then its images: the first-image lookup runs for the page's rows only, never for every match.
  const page = sql`
    SELECT r.id, r.slug, r.title, r.price_from, r.currency, r.rating, r.review_count, r.in_stock, r.sort_key,
           CASE WHEN img.id IS NULL THEN '[]'::json
                ELSE json_build_array(json_build_object('id', img.id, 'urls', img.urls, 'alt', img.alt, 'position', img.position)) END AS images
    FROM (${rows$}) r
    LEFT JOIN LATERAL (SELECT m.id, m.urls, m.alt, m.position FROM product_images m
                       WHERE m.product_id = r.id ORDER BY m.position, m.id LIMIT 1) img ON true
    ORDER BY r.k ${dir}, r.id ${dir}`;

  // Prepared: the text depends only on which filters and sort are used (values are parameters), and planning
  // this statement cost about twice what running it did (a search: ~0.7 ms planned, ~0.4 ms run).
  const run = <R>(query: RawBuilder<unknown>) => {
    const compiled = query.compile(db);
    return db.executeQuery<R>(prepared(compiled.sql, compiled.parameters));
  };

  type Row = {
    id: string | null;
    slug: string;
    title: string;
    priceFrom: number | null;
    currency: string;
    rating: number | null;
    reviewCount: number;
    inStock: boolean;
    sortKey: string;
    images: ListItem['images'];
    facets?: Facets;
  };

  let rows: Row[];
  let facets: Facets | undefined;
  if (query.facets) {
    const bands = sql.join(
      PRICE_BANDS.map(([min, max], i) => sql`(${i + 1}::int, ${min}::bigint, ${max}::bigint)`),
      sql`, `,
    );
    // Band i of width_bucket is [PRICE_BANDS[i-1].min, PRICE_BANDS[i].min): the bands are contiguous from 0. One pass
    // over the matches counts (category, band) pairs; the rollup to ancestor categories runs on those counts.
    const thresholds = sql`ARRAY[${sql.join(PRICE_BANDS.map(([min]) => sql`${min}::bigint`))}]`;
    const result = await run<Row>(sql`
      WITH RECURSIVE counts AS MATERIALIZED (
        SELECT p.category_id, width_bucket(p.price_from, ${thresholds}) AS band, count(*) AS n FROM products p ${whereSql(where)} GROUP BY 1, 2),
      tree AS (SELECT id AS ancestor, id AS category FROM categories
               UNION ALL SELECT t.ancestor, c.id FROM tree t JOIN categories c ON c.parent_id = t.category),
      facets AS (SELECT json_build_object(
        'categories', COALESCE((SELECT json_agg(json_build_object('slug', x.slug, 'count', x.n) ORDER BY x.n DESC, x.slug)
          FROM (SELECT c.slug, sum(k.n)::bigint AS n FROM counts k JOIN tree t ON t.category = k.category_id
                JOIN categories c ON c.id = t.ancestor GROUP BY c.slug) x), '[]'::json),
        'priceBands', (SELECT json_agg(json_build_object('min', b.lo, 'max', b.hi,
            'count', COALESCE((SELECT sum(k.n) FROM counts k WHERE k.band = b.i), 0)::bigint)
            ORDER BY b.lo)
          FROM (VALUES ${bands}) AS b(i, lo, hi))
      )::text AS facets)
      SELECT page.*, facets.facets FROM facets LEFT JOIN LATERAL (${page}) page ON true`);
    rows = result.rows;
    const text = rows[0]?.facets as unknown as string | undefined;
    facets = text ? (JSON.parse(text) as Facets) : { categories: [], priceBands: [] };
    rows = rows.filter((r) => r.id !== null);
  } else {
    rows = (await run<Row>(page)).rows;
  }

  const more = rows.length > query.limit;
  const pageRows = more ? rows.slice(0, query.limit) : rows;
  const last = pageRows.at(-1);
  const items: ListItem[] = pageRows.map((r) => ({
    id: r.id!,
    slug: r.slug,
    title: r.title,
    priceFrom: r.priceFrom,
    currency: r.currency,
    images: r.images,
    rating: r.rating,
    reviewCount: r.reviewCount,
    inStock: r.inStock,
  }));
  return {
    items,
    nextCursor: more && last ? encodeCursor([sort, last.sortKey, last.id!]) : null,
    ...(facets ? { facets } : {}),
  };
}

/**
 * Type-ahead over product titles and category names with pg_trgm word similarity (`<%` uses the
 * trigram GIN indexes), so a typo ("kentte", "ankra") still finds "Kente", "Ankara". Categories win ties.
 */
export async function suggest(db: DbOrTrx, q: string, limit = 10): Promise<Suggestion[]> {
  const term = q.trim().slice(0, 100);
  if (term.length < 2) return [];
  // migrations/202611231_catalog_suggest.ts: carries its own (lower) similarity threshold.
  const { rows } = await sql<Suggestion>`SELECT type, text, slug FROM catalog_suggest(${term}, ${limit})`.execute(db);
  return rows.map(({ type, text, slug }) => ({ type, text, slug }));
}
