import { sql } from 'kysely';
import { isUuid } from '../catalog/slug.js';
import { decodeCursor, encodeCursor, InvalidCursorError } from '../db/cursor.js';
import type { DbOrTrx } from '../db/index.js';
import { NotFoundError } from '../errors.js';
import type {
  AdminReview,
  AdminReviewQuery,
  OwnReview,
  ProductReviewQuery,
  PublicReview,
  ReviewSort,
  ReviewSummary,
} from './schemas.js';
import { displayName } from './text.js';

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

/** The columns every view is built from (one query, product and author joined). */
const reviewRows = (db: DbOrTrx) =>
  db
    .selectFrom('reviews as r')
    .innerJoin('products as p', 'p.id', 'r.productId')
    .innerJoin('users as u', 'u.id', 'r.authorId')
    .select([
      'r.id',
      'r.productId',
      'p.slug as productSlug',
      'p.title as productTitle',
      'r.authorId',
      'u.email as authorEmail',
      'u.name as authorName',
      'r.orderId',
      'r.rating',
      'r.title',
      'r.body',
      'r.state',
      'r.version',
      'r.helpfulCount',
      'r.reportCount',
      'r.moderationNote',
      'r.moderatedAt',
      'r.staffReply',
      'r.staffReplyAt',
      'r.publishedAt',
      'r.createdAt',
      'r.updatedAt',
      sql<string>`r.created_at::text`.as('cursorAt'),
    ])
    .where('r.deletedAt', 'is', null);

type Row = Awaited<ReturnType<ReturnType<typeof reviewRows>['execute']>>[number];

const staffReplyOf = (r: Pick<Row, 'staffReply' | 'staffReplyAt'>) =>
  r.staffReply !== null && r.staffReplyAt !== null
    ? { staffReply: { body: r.staffReply, repliedAt: iso(r.staffReplyAt)! } }
    : {};

export function ownView(r: Row): OwnReview {
  return {
    id: r.id,
    product: { id: r.productId, slug: r.productSlug, title: r.productTitle },
    rating: r.rating,
    title: r.title,
    body: r.body,
    state: r.state,
    version: r.version,
    helpfulCount: r.helpfulCount,
    ...staffReplyOf(r),
    createdAt: iso(r.createdAt)!,
    updatedAt: iso(r.updatedAt)!,
  };
}

export function adminView(r: Row): AdminReview {
  return {
    ...ownView(r),
    author: { id: r.authorId, email: r.authorEmail, name: r.authorName },
    orderId: r.orderId,
    reportCount: r.reportCount,
    moderationNote: r.moderationNote,
    moderatedAt: iso(r.moderatedAt),
    publishedAt: iso(r.publishedAt),
  };
}

function publicView(r: Row): PublicReview {
  return {
    id: r.id,
    rating: r.rating,
    title: r.title,
    body: r.body,
    author: { displayName: displayName(r.authorName) },
    verifiedPurchase: true,
    helpfulCount: r.helpfulCount,
    ...staffReplyOf(r),
    createdAt: iso(r.createdAt)!,
  };
}

export async function findReviewRow(db: DbOrTrx, id: string): Promise<Row | undefined> {
  return reviewRows(db).where('r.id', '=', id).executeTakeFirst();
}

export async function getOwnReview(db: DbOrTrx, id: string): Promise<OwnReview> {
  const row = await findReviewRow(db, id);
  if (!row) throw new NotFoundError('Review');
  return ownView(row);
}

export async function getAdminReview(db: DbOrTrx, id: string): Promise<AdminReview> {
  const row = await findReviewRow(db, id);
  if (!row) throw new NotFoundError('Review');
  return adminView(row);
}

/** [column, direction]: keyset on (key, id) in one direction, so a row comparison pages it. */
const sortKeys: Record<
  ReviewSort,
  { key: 'createdAt' | 'helpfulCount' | 'rating'; desc: boolean; part: 'timestamptz' | 'bigint' }
> = {
  newest: { key: 'createdAt', desc: true, part: 'timestamptz' },
  helpful: { key: 'helpfulCount', desc: true, part: 'bigint' },
  rating_desc: { key: 'rating', desc: true, part: 'bigint' },
  rating_asc: { key: 'rating', desc: false, part: 'bigint' },
};
const sqlColumn = { createdAt: 'r.created_at', helpfulCount: 'r.helpful_count', rating: 'r.rating' } as const;

/** Product summary from the catalog counters (the average shown on the product) and one GROUP BY. */
async function summaryOf(
  db: DbOrTrx,
  productId: string,
  average: number | null,
  count: number,
): Promise<ReviewSummary> {
  const rows = await db
    .selectFrom('reviews')
    .select(['rating', sql<number>`count(*)::int`.as('n')])
    .where('productId', '=', productId)
    .where('state', '=', 'published')
    .where('deletedAt', 'is', null)
    .groupBy('rating')
    .execute();
  const distribution = { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 };
  for (const r of rows) distribution[String(r.rating) as keyof typeof distribution] = r.n;
  return { average, count, distribution };
}

/** Published reviews of an active product; the first page (no cursor) carries the summary. */
export async function listProductReviews(db: DbOrTrx, idOrSlug: string, q: ProductReviewQuery) {
  const product = await db
    .selectFrom('products')
    .select(['id', 'ratingCount', sql<number | null>`rating::float8`.as('rating')])
    .where(isUuid(idOrSlug) ? 'id' : 'slug', '=', idOrSlug)
    .where('status', '=', 'active')
    .executeTakeFirst();
  if (!product) throw new NotFoundError('Product');
  const sort: ReviewSort = q.sort ?? 'newest';
  const spec = sortKeys[sort];
  let query = reviewRows(db).where('r.productId', '=', product.id).where('r.state', '=', 'published');
  if (q.rating) query = query.where('r.rating', '=', q.rating);
  if (q.cursor) {
    const [s, key, id] = decodeCursor(q.cursor, ['text', spec.part, 'uuid'] as const);
    if (s !== sort) throw new InvalidCursorError();
    const cast = spec.part === 'timestamptz' ? sql`timestamptz` : sql`bigint`;
    const column = sql.ref(sqlColumn[spec.key]);
    query = query.where(
      spec.desc
        ? sql<boolean>`(${column}, r.id) < (${key}::${cast}, ${id}::uuid)`
        : sql<boolean>`(${column}, r.id) > (${key}::${cast}, ${id}::uuid)`,
    );
  }
  const dir = spec.desc ? 'desc' : 'asc';
  const rows = await query
    .orderBy(`r.${spec.key}`, dir)
    .orderBy('r.id', dir)
    .limit(q.limit + 1)
    .execute();
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  const keyOf = (r: Row) => (spec.key === 'createdAt' ? r.cursorAt : String(r[spec.key]));
  return {
    items: page.map(publicView),
    nextCursor: rows.length > q.limit && last ? encodeCursor([sort, keyOf(last), last.id]) : null,
    ...(q.cursor ? {} : { summary: await summaryOf(db, product.id, product.rating, product.ratingCount) }),
  };
}

async function pageOf<T>(
  query: ReturnType<typeof reviewRows>,
  q: { limit: number; cursor?: string },
  view: (r: Row) => T,
): Promise<{ items: T[]; nextCursor: string | null }> {
  let paged = query;
  if (q.cursor) {
    const [at, id] = decodeCursor(q.cursor, ['timestamptz', 'uuid'] as const);
    paged = paged.where(sql<boolean>`(r.created_at, r.id) < (${at}::timestamptz, ${id}::uuid)`);
  }
  const rows = await paged
    .orderBy('r.createdAt', 'desc')
    .orderBy('r.id', 'desc')
    .limit(q.limit + 1)
    .execute();
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return {
    items: page.map(view),
    nextCursor: rows.length > q.limit && last ? encodeCursor([last.cursorAt, last.id]) : null,
  };
}

/** GET /me/reviews: the author's live reviews in every state, newest first. */
export function listOwnReviews(db: DbOrTrx, authorId: string, q: { limit: number; cursor?: string }) {
  return pageOf(reviewRows(db).where('r.authorId', '=', authorId), q, ownView);
}

/** GET /admin/reviews?state=: the moderation queue, newest first. */
export function listAdminReviews(db: DbOrTrx, q: AdminReviewQuery) {
  let query = reviewRows(db);
  if (q.state) query = query.where('r.state', '=', q.state);
  return pageOf(query, q, adminView);
}
