import { sql } from 'kysely';
import type { Db } from '../db/index.js';

export interface Drift {
  productId: string;
  counters: { sum: number; count: number };
  published: { sum: number; count: number };
}

export interface RecountResult {
  runId: string;
  productsChecked: number;
  drifted: number;
  drift: Drift[];
}

const BATCH = 500;

/**
 * The nightly check of the rating counters (`reviews-recount`, 03:30): compares each product's
 * `rating_sum`/`rating_count` with the published reviews, repairs any difference and records what it
 * found in `review_recount_runs` (0 drift is the expected answer, and the run says so).
 *
 * Per batch, the product rows are locked first and the aggregate is read after: a review write holds
 * its product's row lock until it commits, so a locked product has no change in flight and the
 * aggregate read afterwards (a new snapshot in READ COMMITTED) is exactly what its counters should say.
 */
export async function recountRatings(db: Db, trigger: 'schedule' | 'manual'): Promise<RecountResult> {
  const run = await db
    .insertInto('reviewRecountRuns')
    .values({ trigger })
    .returning('id')
    .executeTakeFirstOrThrow();
  const drift: Drift[] = [];
  let checked = 0;
  let after: string | null = null;
  for (;;) {
    const batch: { checked: number; last: string | null; drift: Drift[] } = await db
      .transaction()
      .execute(async (trx) => {
        const locked = await sql<{ id: string }>`
        SELECT id FROM products WHERE ${after === null ? sql`true` : sql`id > ${after}`}
        ORDER BY id LIMIT ${BATCH} FOR UPDATE`.execute(trx);
        if (locked.rows.length === 0) return { checked: 0, last: null, drift: [] };
        const ids = locked.rows.map((r) => r.id);
        const { rows } = await sql<{
          id: string;
          counterSum: number;
          counterCount: number;
          sum: number;
          count: number;
        }>`
        SELECT p.id, p.rating_sum AS counter_sum, p.rating_count AS counter_count,
               COALESCE(a.sum, 0)::bigint AS sum, COALESCE(a.count, 0)::int AS count
        FROM products p
        LEFT JOIN (SELECT product_id, sum(rating) AS sum, count(*) AS count FROM reviews
                   WHERE state = 'published' AND deleted_at IS NULL AND product_id = ANY (${ids}::uuid[])
                   GROUP BY product_id) a ON a.product_id = p.id
        WHERE p.id = ANY (${ids}::uuid[])
          AND (p.rating_sum <> COALESCE(a.sum, 0) OR p.rating_count <> COALESCE(a.count, 0))`.execute(trx);
        for (const r of rows) {
          await trx
            .updateTable('products')
            .set({ ratingSum: r.sum, ratingCount: r.count })
            .where('id', '=', r.id)
            .execute();
        }
        return {
          checked: ids.length,
          last: ids.at(-1)!,
          drift: rows.map((r) => ({
            productId: r.id,
            counters: { sum: r.counterSum, count: r.counterCount },
            published: { sum: r.sum, count: r.count },
          })),
        };
      });
    checked += batch.checked;
    drift.push(...batch.drift);
    if (batch.last === null || batch.checked < BATCH) break;
    after = batch.last;
  }
  await db
    .updateTable('reviewRecountRuns')
    .set({
      productsChecked: checked,
      drifted: drift.length,
      drift: JSON.stringify(drift.slice(0, 1000)),
      finishedAt: sql`now()`,
    })
    .where('id', '=', run.id)
    .execute();
  return { runId: run.id, productsChecked: checked, drifted: drift.length, drift };
}
