import { sql } from 'kysely';
import { writeAudit } from '../auth/audit.js';
import type { Config } from '../config.js';
import type { Db, DbOrTrx, Trx } from '../db/index.js';
import { ConflictError, DomainError, isUniqueViolation, NotFoundError, ValidationError } from '../errors.js';
import { enqueue } from '../outbox.js';
import { adminView, findReviewRow, ownView } from './read.js';
import {
  moderatorTransitions,
  type AdminReview,
  type ModerationInput,
  type OwnReview,
  type ReportReason,
  type ReviewInput,
  type ReviewPatch,
  type ReviewState,
} from './schemas.js';
import { plainText } from './text.js';

/**
 * Every write of a review runs in one transaction that locks the review row first and the product row
 * second (always in that order), and moves the product's `rating_sum`/`rating_count` by the difference
 * between what the review contributed before and after: a published review contributes (rating, 1),
 * any other state nothing. So the counters equal the published aggregate after every commit, whatever
 * runs at once (shared/reviews/recount.ts checks it nightly).
 */

type ReviewConfig = Pick<Config, 'REVIEW_MODERATION' | 'REVIEW_REPORT_THRESHOLD'>;

/** What a write tells the caller besides the view: whether the catalog's ratings moved (cache bump). */
export interface WriteResult<T> {
  review: T;
  productId: string;
  catalogChanged: boolean;
}

export class PurchaseRequiredError extends DomainError {
  constructor() {
    super(403, 'purchase_required', 'Only customers who received this product can review it');
  }
}
const reviewExists = () =>
  new ConflictError('review_exists', 'You have already reviewed this product; edit that review instead');
const versionConflict = () =>
  new ConflictError('version_conflict', 'The review changed since you read it; reload it and try again');
const ownReview = () => new ConflictError('own_review', 'You cannot do this to your own review');

const contribution = (state: string, rating: number) =>
  state === 'published' ? { sum: rating, count: 1 } : { sum: 0, count: 0 };

/** Moves the product's counters by the change of one review's contribution; true when they moved. */
async function moveCounters(
  trx: Trx,
  productId: string,
  before: { state: string; rating: number } | null,
  after: { state: string; rating: number } | null,
) {
  const b = before ? contribution(before.state, before.rating) : { sum: 0, count: 0 };
  const a = after ? contribution(after.state, after.rating) : { sum: 0, count: 0 };
  const sum = a.sum - b.sum;
  const count = a.count - b.count;
  if (sum === 0 && count === 0) return false;
  await sql`UPDATE products SET rating_sum = rating_sum + ${sum}, rating_count = rating_count + ${count} WHERE id = ${productId}`.execute(
    trx,
  );
  return true;
}

function cleanTitle(title: string | undefined) {
  return plainText(title);
}
function cleanBody(body: string | undefined) {
  return plainText(body);
}

/** The live review, locked; undefined when there is none (or it was deleted). */
async function lockReview(trx: Trx, id: string) {
  return trx
    .selectFrom('reviews')
    .select(['id', 'productId', 'authorId', 'rating', 'state', 'version'])
    .where('id', '=', id)
    .where('deletedAt', 'is', null)
    .forUpdate()
    .executeTakeFirst();
}

async function viewInside<T>(
  trx: DbOrTrx,
  id: string,
  view: (r: NonNullable<Awaited<ReturnType<typeof findReviewRow>>>) => T,
): Promise<T> {
  const row = await findReviewRow(trx, id);
  if (!row) throw new NotFoundError('Review');
  return view(row);
}

/**
 * POST /products/:id/reviews. Eligibility, the insert and the counters are ONE statement: the order that
 * proves the purchase is read in the same snapshot the review is written in. Two posts at once: the
 * second waits on the partial unique index and fails with 409 review_exists.
 */
export async function createReview(
  db: Db,
  config: ReviewConfig,
  authorId: string,
  productId: string,
  input: ReviewInput,
): Promise<WriteResult<OwnReview>> {
  const state: ReviewState = config.REVIEW_MODERATION === 'post' ? 'published' : 'pending';
  const title = cleanTitle(input.title);
  const body = cleanBody(input.body);
  let row: { productFound: boolean; orderId: string | null; id: string | null };
  try {
    row = (
      await sql<{ productFound: boolean; orderId: string | null; id: string | null }>`
        WITH p AS (SELECT id FROM products WHERE id = ${productId} AND status = 'active'),
        proof AS (
          SELECT o.id FROM orders o JOIN order_items oi ON oi.order_id = o.id
          WHERE o.user_id = ${authorId} AND oi.product_id = ${productId}
            AND (o.status = 'delivered'
                 OR EXISTS (SELECT 1 FROM order_status_history h WHERE h.order_id = o.id AND h.to_status = 'delivered'))
          ORDER BY o.created_at DESC LIMIT 1),
        ins AS (
          INSERT INTO reviews (product_id, author_id, order_id, rating, title, body, state, published_at)
          SELECT p.id, ${authorId}::uuid, proof.id, ${input.rating}::smallint, ${title}::text, ${body}::text, ${state}::text,
                 CASE WHEN ${state}::text = 'published' THEN now() END
          FROM p, proof
          RETURNING id, product_id, rating, state),
        counters AS (
          UPDATE products SET rating_sum = rating_sum + ins.rating, rating_count = rating_count + 1
          FROM ins WHERE products.id = ins.product_id AND ins.state = 'published' RETURNING products.id)
        SELECT EXISTS (SELECT 1 FROM p) AS product_found, (SELECT id FROM proof) AS order_id,
               (SELECT id FROM ins) AS id, (SELECT count(*) FROM counters) AS moved`.execute(db)
    ).rows[0];
  } catch (err) {
    if (isUniqueViolation(err, 'reviews_one_live_per_author')) throw reviewExists();
    throw err;
  }
  if (!row.productFound) throw new NotFoundError('Product');
  if (!row.orderId || !row.id) throw new PurchaseRequiredError();
  const review = await viewInside(db, row.id, ownView);
  return { review, productId, catalogChanged: state === 'published' };
}

/**
 * PATCH /reviews/:id by its author. The edit goes back to `pending` for a moderator; with
 * REVIEW_MODERATION=post it is published at once, except a review readers reported into `flagged`,
 * which an edit must not free without a moderator.
 */
export async function editReview(
  db: Db,
  config: ReviewConfig,
  authorId: string,
  id: string,
  patch: ReviewPatch,
): Promise<WriteResult<OwnReview>> {
  return db.transaction().execute(async (trx) => {
    const before = await lockReview(trx, id);
    if (!before || before.authorId !== authorId) throw new NotFoundError('Review');
    const state: ReviewState =
      config.REVIEW_MODERATION === 'post' && before.state !== 'flagged' ? 'published' : 'pending';
    const rating = patch.rating ?? before.rating;
    await trx
      .updateTable('reviews')
      .set({
        rating,
        ...(patch.title !== undefined ? { title: cleanTitle(patch.title) } : {}),
        ...(patch.body !== undefined ? { body: cleanBody(patch.body) } : {}),
        state,
        version: sql`version + 1`,
        publishedAt: state === 'published' ? sql`COALESCE(published_at, now())` : sql`published_at`,
      })
      .where('id', '=', id)
      .execute();
    const catalogChanged = await moveCounters(trx, before.productId, before, { state, rating });
    return { review: await viewInside(trx, id, ownView), productId: before.productId, catalogChanged };
  });
}

/** DELETE /reviews/:id by its author, or by a moderator (audited). The row stays, out of every list. */
export async function deleteReview(
  db: Db,
  actor: { id: string; canModerate: boolean },
  id: string,
): Promise<WriteResult<null>> {
  return db.transaction().execute(async (trx) => {
    const before = await lockReview(trx, id);
    if (!before || (before.authorId !== actor.id && !actor.canModerate)) throw new NotFoundError('Review');
    await trx
      .updateTable('reviews')
      .set({ deletedAt: sql`now()`, version: sql`version + 1` })
      .where('id', '=', id)
      .execute();
    const catalogChanged = await moveCounters(trx, before.productId, before, null);
    if (before.authorId !== actor.id) {
      await writeAudit(trx, {
        actorId: actor.id,
        action: 'review.deleted',
        targetType: 'review',
        targetId: id,
        before: { state: before.state },
      });
    }
    return { review: null, productId: before.productId, catalogChanged };
  });
}

/**
 * PATCH /admin/reviews/:id. The version is checked before the transition: a moderator who read the
 * review before its author edited it gets 409 version_conflict, never a decision about text they did not see.
 */
export async function moderateReview(
  db: Db,
  actorId: string,
  id: string,
  input: ModerationInput,
): Promise<WriteResult<AdminReview>> {
  return db.transaction().execute(async (trx) => {
    const before = await lockReview(trx, id);
    if (!before) throw new NotFoundError('Review');
    if (before.version !== input.version) throw versionConflict();
    const from = before.state;
    if (!moderatorTransitions[from].includes(input.state)) {
      throw new ConflictError('invalid_transition', `A review cannot go from ${from} to ${input.state}`);
    }
    const note = input.note === undefined ? undefined : plainText(input.note);
    await trx
      .updateTable('reviews')
      .set({
        state: input.state,
        version: sql`version + 1`,
        moderatedBy: actorId,
        moderatedAt: sql`now()`,
        ...(note !== undefined ? { moderationNote: note } : {}),
        publishedAt: input.state === 'published' ? sql`COALESCE(published_at, now())` : sql`published_at`,
      })
      .where('id', '=', id)
      .execute();
    const catalogChanged = await moveCounters(trx, before.productId, before, {
      state: input.state,
      rating: before.rating,
    });
    await writeAudit(trx, {
      actorId,
      action: 'review.moderated',
      targetType: 'review',
      targetId: id,
      before: { state: from, version: before.version },
      after: { state: input.state, version: before.version + 1, ...(note ? { note } : {}) },
    });
    return { review: await viewInside(trx, id, adminView), productId: before.productId, catalogChanged };
  });
}

/** PUT /admin/reviews/:id/reply: the one public staff reply, replaced by the next PUT. */
export async function replyToReview(
  db: Db,
  actorId: string,
  id: string,
  body: string,
): Promise<WriteResult<AdminReview>> {
  const text = plainText(body);
  if (!text)
    throw new ValidationError('The reply is empty once markup is removed', [
      { path: '/body', message: 'must contain text' },
    ]);
  return db.transaction().execute(async (trx) => {
    const before = await trx
      .selectFrom('reviews')
      .select(['productId', 'staffReply', 'state'])
      .where('id', '=', id)
      .where('deletedAt', 'is', null)
      .forUpdate()
      .executeTakeFirst();
    if (!before) throw new NotFoundError('Review');
    await trx
      .updateTable('reviews')
      .set({ staffReply: text, staffReplyBy: actorId, staffReplyAt: sql`now()` })
      .where('id', '=', id)
      .execute();
    await writeAudit(trx, {
      actorId,
      action: 'review.replied',
      targetType: 'review',
      targetId: id,
      before: { reply: before.staffReply },
      after: { reply: text },
    });
    return {
      review: await viewInside(trx, id, adminView),
      productId: before.productId,
      catalogChanged: false,
    };
  });
}

/**
 * PUT/DELETE /reviews/:id/vote. The vote row and `helpful_count` move in one statement, and only when
 * the row was really inserted (or deleted): a repeat, or two of the same at once, count once.
 */
export async function setHelpfulVote(db: Db, userId: string, id: string, helpful: boolean): Promise<void> {
  const change = helpful
    ? sql`INSERT INTO review_votes (review_id, user_id) SELECT r.id, ${userId} FROM r WHERE r.author_id <> ${userId}
          ON CONFLICT DO NOTHING RETURNING review_id`
    : sql`DELETE FROM review_votes v USING r WHERE v.review_id = r.id AND v.user_id = ${userId} RETURNING v.review_id`;
  const { rows } = await sql<{ authorId: string | null }>`
    WITH r AS (SELECT id, author_id FROM reviews WHERE id = ${id} AND state = 'published' AND deleted_at IS NULL),
    changed AS (${change}),
    counted AS (UPDATE reviews SET helpful_count = helpful_count + ${helpful ? 1 : -1}
                WHERE id IN (SELECT review_id FROM changed) RETURNING id)
    SELECT (SELECT author_id FROM r) AS author_id, (SELECT count(*) FROM counted) AS n`.execute(db);
  const authorId = rows[0]?.authorId;
  if (!authorId) throw new NotFoundError('Review');
  if (authorId === userId) throw ownReview();
}

/**
 * POST /reviews/:id/reports. The review row is locked first, so reports arriving together count one
 * after the other: the one that makes REVIEW_REPORT_THRESHOLD distinct reporters hides it (published →
 * flagged, out of the counters), exactly once; a review a moderator published again stays published.
 */
export async function reportReview(
  db: Db,
  config: ReviewConfig,
  userId: string,
  id: string,
  reason: ReportReason,
): Promise<WriteResult<null>> {
  return db.transaction().execute(async (trx) => {
    const before = await lockReview(trx, id);
    if (!before || (before.state !== 'published' && before.state !== 'flagged'))
      throw new NotFoundError('Review');
    if (before.authorId === userId) throw ownReview();
    const inserted = await trx
      .insertInto('reviewReports')
      .values({ reviewId: id, userId, reason })
      .onConflict((oc) => oc.columns(['reviewId', 'userId']).doNothing())
      .returning('reviewId')
      .executeTakeFirst();
    if (!inserted) return { review: null, productId: before.productId, catalogChanged: false };
    const after = await trx
      .updateTable('reviews')
      .set({ reportCount: sql`report_count + 1` })
      .where('id', '=', id)
      .returning('reportCount')
      .executeTakeFirstOrThrow();
    if (before.state !== 'published' || after.reportCount !== config.REVIEW_REPORT_THRESHOLD) {
      return { review: null, productId: before.productId, catalogChanged: false };
    }
    await trx
      .updateTable('reviews')
      .set({ state: 'flagged', version: sql`version + 1` })
      .where('id', '=', id)
      .execute();
    const catalogChanged = await moveCounters(trx, before.productId, before, {
      state: 'flagged',
      rating: before.rating,
    });
    await enqueue(trx, 'system.notify', {
      type: 'review.flagged',
      staff: true,
      data: { reviewId: id, productId: before.productId, reports: after.reportCount },
    });
    return { review: null, productId: before.productId, catalogChanged };
  });
}
