import { sql, type RawBuilder } from 'kysely';
import type { ListItem } from '../catalog/listing.js';
import { isUuid } from '../catalog/slug.js';
import type { DbOrTrx } from '../db/index.js';
import { NotFoundError } from '../errors.js';
import { paidStatuses } from '../orders/state.js';
import type { RecommendationKind, RecommendationSource } from './schemas.js';

export interface RecommendationAnswer {
  items: ListItem[];
  nextCursor: null;
  source: RecommendationSource;
  computedAt: string | null;
}

/** How many fill candidates each tier offers before the filters (inactive, out of stock, duplicates). */
const FILL_DEPTH = 60;

/**
 * One statement per answer: the current generation is read once (`cur`), so every computed item comes
 * from the same generation as `computedAt`, even while a rebuild switches it. Candidates are tiers
 * (computed first, then the fill: same category, then store best sellers); each product keeps its best
 * tier, inactive and out-of-stock products and the product itself are dropped, and list items are built
 * with the catalog's shape.
 */
async function answer(
  db: DbOrTrx,
  candidates: RawBuilder<unknown>,
  exclude: RawBuilder<unknown>,
  computedTiers: number,
  limit: number,
): Promise<RecommendationAnswer> {
  const { rows } = await sql<{
    computedAt: Date | null;
    tier: number | null;
    id: string | null;
    slug: string;
    title: string;
    priceFrom: number | null;
    currency: string;
    rating: number | null;
    reviewCount: number;
    inStock: boolean;
    images: ListItem['images'];
  }>`
    WITH cur AS (SELECT g.id, g.computed_at FROM rec_current c JOIN rec_generations g ON g.id = c.generation_id),
    candidates AS (${candidates}),
    picked AS (
      SELECT DISTINCT ON (c.id) c.id, c.tier, c.ord FROM candidates c JOIN products p ON p.id = c.id
      WHERE p.status = 'active' AND p.in_stock AND c.id NOT IN (${exclude})
      ORDER BY c.id, c.tier, c.ord)
    SELECT (SELECT computed_at FROM cur) AS computed_at, x.* FROM (SELECT 1) one LEFT JOIN LATERAL (
      SELECT picked.tier, p.id, p.slug, p.title, p.price_from, p.currency, p.rating::float8 AS rating,
             p.rating_count AS review_count, p.in_stock,
             CASE WHEN img.id IS NULL THEN '[]'::json
                  ELSE json_build_array(json_build_object('id', img.id, 'urls', img.urls, 'alt', img.alt, 'position', img.position)) END AS images
      FROM picked JOIN products p ON p.id = picked.id
      LEFT JOIN LATERAL (SELECT m.id, m.urls, m.alt, m.position FROM product_images m
                         WHERE m.product_id = p.id ORDER BY m.position, m.id LIMIT 1) img ON true
      ORDER BY picked.tier, picked.ord, p.id LIMIT ${limit}) x ON true`.execute(db);
  const found = rows.filter((r) => r.id !== null);
  const computed = found.filter((r) => r.tier! < computedTiers).length;
  const computedAt = rows[0]?.computedAt ?? null;
  return {
    items: found.map((r) => ({
      id: r.id!,
      slug: r.slug,
      title: r.title,
      priceFrom: r.priceFrom,
      currency: r.currency,
      images: r.images,
      rating: r.rating,
      reviewCount: r.reviewCount,
      inStock: r.inStock,
    })),
    nextCursor: null,
    source: computed === 0 ? 'fallback' : computed === found.length ? 'computed' : 'mixed',
    computedAt: computedAt === null ? null : new Date(computedAt).toISOString(),
  };
}

const bestSellers = (tier: number) => sql`
  (SELECT bs.product_id AS id, ${tier}::int AS tier, bs.rank::int AS ord FROM rec_best_sellers bs JOIN cur ON bs.generation_id = cur.id
   ORDER BY bs.rank LIMIT ${FILL_DEPTH})`;

/** Active, in-stock products of the given categories, the best sellers among them first. */
const categoryFill = (tier: number, categories: RawBuilder<unknown>) => sql`
  (SELECT p.id, ${tier}::int AS tier, (row_number() OVER (ORDER BY bs.rank NULLS LAST, p.created_at DESC, p.id))::int AS ord
   FROM products p LEFT JOIN rec_best_sellers bs ON bs.product_id = p.id AND bs.generation_id = (SELECT id FROM cur)
   WHERE p.category_id IN (${categories}) AND p.status = 'active' AND p.in_stock
   ORDER BY bs.rank NULLS LAST, p.created_at DESC, p.id LIMIT ${FILL_DEPTH})`;

/** The active product an id or slug names; 404 for unknown, draft or archived. */
export async function findActiveProduct(db: DbOrTrx, idOrSlug: string) {
  const product = await db
    .selectFrom('products')
    .select(['id', 'categoryId'])
    .where(isUuid(idOrSlug) ? 'id' : 'slug', '=', idOrSlug)
    .where('status', '=', 'active')
    .executeTakeFirst();
  if (!product) throw new NotFoundError('Product');
  return product;
}

/** GET /products/:idOrSlug/bought-together and …/similar. */
export async function productRecommendations(
  db: DbOrTrx,
  idOrSlug: string,
  kind: RecommendationKind,
  limit: number,
): Promise<RecommendationAnswer> {
  const product = await findActiveProduct(db, idOrSlug);
  const computed = sql`
    (SELECT r.related_id AS id, 0 AS tier, r.rank::int AS ord FROM rec_items r JOIN cur ON r.generation_id = cur.id
     WHERE r.kind = ${kind} AND r.product_id = ${product.id})`;
  const candidates = sql`${computed} UNION ALL ${categoryFill(1, sql`${product.categoryId}::uuid`)} UNION ALL ${bestSellers(2)}`;
  return answer(db, candidates, sql`${product.id}::uuid`, 1, limit);
}

const paid = sql.join(paidStatuses.map((s) => sql.lit(s)));

/**
 * GET /me/recommendations: what is bought together with, then similar to, what the customer bought
 * (the best rank over their purchases first), never what they already have; filled from the categories
 * they bought in, then the store's best sellers.
 */
export async function personalRecommendations(
  db: DbOrTrx,
  userId: string,
  limit: number,
): Promise<RecommendationAnswer> {
  const owned = sql`SELECT DISTINCT oi.product_id FROM orders o JOIN order_items oi ON oi.order_id = o.id
                    WHERE o.user_id = ${userId} AND o.status IN (${paid}) AND oi.product_id IS NOT NULL`;
  const related = (kind: RecommendationKind, tier: number) => sql`
    (SELECT r.related_id AS id, ${tier}::int AS tier, min(r.rank)::int AS ord FROM rec_items r JOIN cur ON r.generation_id = cur.id
     WHERE r.kind = ${kind} AND r.product_id IN (${owned}) GROUP BY r.related_id)`;
  const categories = sql`SELECT p.category_id FROM products p WHERE p.id IN (${owned}) AND p.category_id IS NOT NULL`;
  const candidates = sql`${related('bought_together', 0)} UNION ALL ${related('similar', 1)} UNION ALL ${categoryFill(2, categories)} UNION ALL ${bestSellers(3)}`;
  return answer(
    db,
    candidates,
    sql`SELECT product_id FROM (${owned}) o WHERE product_id IS NOT NULL`,
    2,
    limit,
  );
}
