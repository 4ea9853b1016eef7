import { sql } from 'kysely';
import { writeAudit } from '../auth/audit.js';
import { decodeCursor, encodeCursor } from '../db/cursor.js';
import type { Db, DbOrTrx, Trx } from '../db/index.js';
import { enqueue } from '../outbox.js';
import { paidStatuses } from '../orders/state.js';
import {
  MIN_DISTINCT_CUSTOMERS,
  SIMILAR_PRICE_BAND,
  TOP_PER_PRODUCT,
  type RecommendationRun,
  type RunStatus,
  type RunTrigger,
} from './schemas.js';

/**
 * The recommendation rebuild (`recommendations` queue: nightly at 03:00 SHOP_TIMEZONE and on demand).
 *
 * A run row is the unit operators see; at most one is queued or running (partial unique index), so a
 * second request, or the nightly schedule meeting a manual run, joins the active one. The computation
 * writes a whole new generation and points `rec_current` at it in ONE transaction, under an advisory lock:
 * two rebuilds never interleave, and a reader's single statement sees either the old generation or the
 * new one, never a mix. Older generations are deleted in the same transaction (a reader already running
 * keeps its snapshot).
 */

/** A run queued or running longer than this is taken for dead (its worker crashed past its retries). */
const STALE_RUN = sql`interval '2 hours'`;
const REBUILD_LOCK = 0x7265_6373; // 'recs'

export interface RebuildRequest {
  trigger: RunTrigger;
  requestedBy?: string | null;
  /** Put the job in the outbox (the API); the scheduled job runs the run itself. */
  enqueueJob: boolean;
}

/** Starts a run, or answers the active one: `{runId, created}`. */
export async function requestRebuild(
  db: Db,
  req: RebuildRequest,
): Promise<{ runId: string; created: boolean }> {
  return db.transaction().execute(async (trx) => {
    await trx
      .updateTable('recRuns')
      .set({ status: 'failed', error: 'abandoned: no progress for 2 hours', finishedAt: sql`now()` })
      .where('status', 'in', ['queued', 'running'])
      .where(sql<boolean>`COALESCE(started_at, created_at) < now() - ${STALE_RUN}`)
      .execute();
    const created = await sql<{ id: string }>`
      INSERT INTO rec_runs (trigger, requested_by) VALUES (${req.trigger}, ${req.requestedBy ?? null})
      ON CONFLICT ((true)) WHERE status IN ('queued', 'running') DO NOTHING RETURNING id`.execute(trx);
    const runId = created.rows[0]?.id;
    if (!runId) {
      const active = await trx
        .selectFrom('recRuns')
        .select('id')
        .where('status', 'in', ['queued', 'running'])
        .executeTakeFirstOrThrow();
      return { runId: active.id, created: false };
    }
    if (req.enqueueJob) await enqueue(trx, 'recommendations.rebuild', { runId, trigger: req.trigger });
    if (req.requestedBy) {
      await writeAudit(trx, {
        actorId: req.requestedBy,
        action: 'recommendations.rebuild_requested',
        targetType: 'recommendation_run',
        targetId: runId,
      });
    }
    return { runId, created: true };
  });
}

const paid = sql.join(paidStatuses.map((s) => sql.lit(s)));

/** Orders the computation learns from: paid, never refunded, paid within the window. */
const learningOrders = (windowDays: number) => sql`
  SELECT o.id, COALESCE(o.user_id::text, lower(o.email)) AS customer
  FROM orders o
  WHERE o.status IN (${paid}) AND o.amount_refunded = 0
    AND o.paid_at >= now() - make_interval(days => ${windowDays})`;

async function writeBoughtTogether(trx: Trx, generation: number, windowDays: number): Promise<number> {
  const { numAffectedRows } = await sql`
    WITH o AS (${learningOrders(windowDays)}),
    lines AS (SELECT DISTINCT oi.order_id, oi.product_id, o.customer
              FROM order_items oi JOIN o ON o.id = oi.order_id WHERE oi.product_id IS NOT NULL),
    customers AS (SELECT count(DISTINCT customer)::float8 AS n FROM lines),
    per_product AS (SELECT product_id, count(DISTINCT customer)::float8 AS n FROM lines GROUP BY product_id),
    pairs AS (
      SELECT a.product_id AS p, b.product_id AS q, count(DISTINCT a.customer) AS n
      FROM lines a JOIN lines b ON b.order_id = a.order_id AND b.product_id <> a.product_id
      GROUP BY 1, 2 HAVING count(DISTINCT a.customer) >= ${MIN_DISTINCT_CUSTOMERS}),
    scored AS (
      SELECT pairs.p, pairs.q, pairs.n, pairs.n * c.n / (pp.n * pq.n) AS lift
      FROM pairs JOIN per_product pp ON pp.product_id = pairs.p JOIN per_product pq ON pq.product_id = pairs.q
      CROSS JOIN customers c),
    ranked AS (SELECT *, row_number() OVER (PARTITION BY p ORDER BY n DESC, lift DESC, q) AS rank FROM scored)
    INSERT INTO rec_items (generation_id, kind, product_id, rank, related_id, score)
    SELECT ${generation}, 'bought_together', p, rank, q, n + lift / 1e6 FROM ranked WHERE rank <= ${TOP_PER_PRODUCT}`.execute(
    trx,
  );
  return Number(numAffectedRows ?? 0);
}

/**
 * Similar: active products priced within ±30 % that share the category or a tag; scored by the category
 * (3), each shared tag (1) and each shared attribute value (1); ties go to the closer price.
 */
async function writeSimilar(trx: Trx, generation: number): Promise<number> {
  const { numAffectedRows } = await sql`
    WITH c AS (SELECT id, category_id, tags, attributes, price_from FROM products WHERE status = 'active' AND price_from > 0),
    pairs AS (
      SELECT a.id AS p, b.id AS q,
        (CASE WHEN a.category_id = b.category_id THEN 3 ELSE 0 END)
        + cardinality(ARRAY(SELECT unnest(a.tags) INTERSECT SELECT unnest(b.tags)))
        + (SELECT count(*) FROM jsonb_each(a.attributes) x JOIN jsonb_each(b.attributes) y ON y.key = x.key AND y.value = x.value) AS score,
        abs(b.price_from - a.price_from)::float8 / a.price_from AS gap
      FROM c a JOIN c b ON b.id <> a.id AND (b.category_id = a.category_id OR b.tags && a.tags)
        AND b.price_from BETWEEN a.price_from * ${1 - SIMILAR_PRICE_BAND}::float8 AND a.price_from * ${1 + SIMILAR_PRICE_BAND}::float8),
    ranked AS (SELECT *, row_number() OVER (PARTITION BY p ORDER BY score DESC, gap, q) AS rank FROM pairs)
    INSERT INTO rec_items (generation_id, kind, product_id, rank, related_id, score)
    SELECT ${generation}, 'similar', p, rank, q, score - gap FROM ranked WHERE rank <= ${TOP_PER_PRODUCT}`.execute(
    trx,
  );
  return Number(numAffectedRows ?? 0);
}

async function writeBestSellers(trx: Trx, generation: number, windowDays: number): Promise<number> {
  const { numAffectedRows } = await sql`
    WITH o AS (${learningOrders(windowDays)}),
    units AS (SELECT oi.product_id, sum(oi.quantity)::int AS units FROM order_items oi JOIN o ON o.id = oi.order_id
              WHERE oi.product_id IS NOT NULL GROUP BY oi.product_id)
    INSERT INTO rec_best_sellers (generation_id, product_id, rank, units)
    SELECT ${generation}, product_id, row_number() OVER (ORDER BY units DESC, product_id), units
    FROM units ORDER BY units DESC, product_id LIMIT 200`.execute(trx);
  return Number(numAffectedRows ?? 0);
}

/**
 * Runs a run: claims it, computes and switches the generation in one transaction. Safe to call twice
 * (a retried job, two workers): the second finds the run completed under the lock and does nothing.
 */
export async function runRebuild(
  db: Db,
  runId: string,
  windowDays: number,
): Promise<{ status: RunStatus; generationId: number | null }> {
  const claimed = await db
    .updateTable('recRuns')
    .set({ status: 'running', startedAt: sql`COALESCE(started_at, now())` })
    .where('id', '=', runId)
    .where('status', 'in', ['queued', 'running'])
    .returning('id')
    .executeTakeFirst();
  if (!claimed) {
    const run = await db
      .selectFrom('recRuns')
      .select(['status', 'generationId'])
      .where('id', '=', runId)
      .executeTakeFirst();
    return { status: (run?.status ?? 'failed'), generationId: run?.generationId ?? null };
  }
  try {
    return await db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(${REBUILD_LOCK})`.execute(trx);
      const run = await trx
        .selectFrom('recRuns')
        .select(['status', 'generationId'])
        .where('id', '=', runId)
        .forUpdate()
        .executeTakeFirstOrThrow();
      if (run.status !== 'running')
        return { status: run.status as RunStatus, generationId: run.generationId };
      const generation = await trx
        .insertInto('recGenerations')
        .values({ runId, windowDays })
        .returning('id')
        .executeTakeFirstOrThrow();
      const boughtTogether = await writeBoughtTogether(trx, generation.id, windowDays);
      const similar = await writeSimilar(trx, generation.id);
      const bestSellers = await writeBestSellers(trx, generation.id, windowDays);
      await trx.updateTable('recCurrent').set({ generationId: generation.id }).execute();
      await trx.deleteFrom('recGenerations').where('id', '<>', generation.id).execute();
      await trx
        .updateTable('recRuns')
        .set({
          status: 'completed',
          generationId: generation.id,
          boughtTogetherRows: boughtTogether,
          similarRows: similar,
          bestSellerRows: bestSellers,
          finishedAt: sql`now()`,
        })
        .where('id', '=', runId)
        .execute();
      return { status: 'completed' as const, generationId: generation.id };
    });
  } catch (err) {
    // Left running: the job's retry claims it again. Recorded so the runs list says why it is slow.
    await db
      .updateTable('recRuns')
      .set({ error: err instanceof Error ? err.message.slice(0, 500) : String(err) })
      .where('id', '=', runId)
      .execute()
      .catch(() => {});
    throw err;
  }
}

/** Gives up a run after its last retry, so the next request can start a new one. */
export async function failRun(db: Db, runId: string, error: string): Promise<void> {
  await db
    .updateTable('recRuns')
    .set({ status: 'failed', error: error.slice(0, 500), finishedAt: sql`now()` })
    .where('id', '=', runId)
    .where('status', 'in', ['queued', 'running'])
    .execute();
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

/** GET /admin/recommendations/runs, newest first. */
export async function listRuns(
  db: DbOrTrx,
  q: { limit: number; cursor?: string },
): Promise<{ items: RecommendationRun[]; nextCursor: string | null }> {
  let query = db
    .selectFrom('recRuns')
    .selectAll()
    .select(sql<string>`created_at::text`.as('cursorAt'));
  if (q.cursor) {
    const [at, id] = decodeCursor(q.cursor, ['timestamptz', 'uuid'] as const);
    query = query.where(sql<boolean>`(created_at, id) < (${at}::timestamptz, ${id}::uuid)`);
  }
  const rows = await query
    .orderBy('createdAt', 'desc')
    .orderBy('id', 'desc')
    .limit(q.limit + 1)
    .execute();
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return {
    items: page.map((r) => ({
      id: r.id,
      trigger: r.trigger,
      status: r.status,
      requestedBy: r.requestedBy,
      generationId: r.generationId,
      counts:
        r.status === 'completed'
          ? {
              boughtTogether: r.boughtTogetherRows ?? 0,
              similar: r.similarRows ?? 0,
              bestSellers: r.bestSellerRows ?? 0,
            }
          : null,
      error: r.error,
      createdAt: iso(r.createdAt)!,
      startedAt: iso(r.startedAt),
      finishedAt: iso(r.finishedAt),
    })),
    nextCursor: rows.length > q.limit && last ? encodeCursor([last.cursorAt, last.id]) : null,
  };
}
