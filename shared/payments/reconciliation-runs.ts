import { sql } from 'kysely';
import { writeAudit } from '../auth/audit.js';
import type { Db, DbOrTrx, Trx } from '../db/index.js';
import { decodeCursor, encodeCursor } from '../db/cursor.js';
import { ValidationError } from '../errors.js';
import { enqueue } from '../outbox.js';
import type { RunDiscrepancy } from './payment-discrepancies.js';
import type { CreditDiscrepancy } from '../credit/schemas.js';

/** Reconciliation runs: starting one (staff or the daily schedule) and listing them. The run itself is reconciliation.ts. */

/** How far back a run looks by default: two days, so a late or failed run is covered by the next. */
export const DEFAULT_WINDOW_HOURS = 48;

/** Creates the run row and its job in one transaction (the admin endpoint and the scheduled job). */
export async function startReconciliationRun(
  trx: Trx,
  opts: {
    trigger: 'schedule' | 'manual';
    requestedBy?: string | null;
    from?: Date;
    to?: Date;
    enqueueJob?: boolean;
  },
): Promise<string> {
  const to = opts.to ?? new Date();
  const from = opts.from ?? new Date(to.getTime() - DEFAULT_WINDOW_HOURS * 3_600_000);
  const run = await trx
    .insertInto('reconciliationRuns')
    .values({ trigger: opts.trigger, windowFrom: from, windowTo: to, requestedBy: opts.requestedBy ?? null })
    .returning('id')
    .executeTakeFirstOrThrow();
  if (opts.enqueueJob !== false)
    await enqueue(trx, 'reconciliation.run', { runId: run.id, trigger: opts.trigger });
  return run.id;
}

/** The longest window staff may ask for at once. */
export const MAX_WINDOW_DAYS = 31;

/**
 * `POST /admin/reconciliation/run`: checks the window (default: the last DEFAULT_WINDOW_HOURS up to now),
 * then creates the run and its job in one transaction.
 */
export async function requestReconciliationRun(
  db: Db,
  req: { requestedBy: string | null; from?: Date; to?: Date },
): Promise<string> {
  const to = req.to ?? new Date();
  const { from } = req;
  if (from && (from >= to || to.getTime() - from.getTime() > MAX_WINDOW_DAYS * 86_400_000)) {
    throw new ValidationError('The window is invalid', [
      { path: '/from', message: `must be before "to" and at most ${MAX_WINDOW_DAYS} days earlier` },
    ]);
  }
  return db.transaction().execute(async (trx) => {
    const runId = await startReconciliationRun(trx, { trigger: 'manual', requestedBy: req.requestedBy, from, to });
    const run = await trx
      .selectFrom('reconciliationRuns')
      .select(['windowFrom', 'windowTo'])
      .where('id', '=', runId)
      .executeTakeFirstOrThrow();
    await writeAudit(trx, {
      actorId: req.requestedBy,
      action: 'reconciliation.run_requested',
      targetType: 'reconciliation_run',
      targetId: runId,
      after: run,
    });
    return runId;
  });
}

/** The scheduled run's row (its job is the one running): one transaction, no second job. */
export async function createScheduledRun(db: Db, trigger: 'schedule' | 'manual'): Promise<string> {
  return db.transaction().execute((trx) => startReconciliationRun(trx, { trigger, enqueueJob: false }));
}

export async function listReconciliationRuns(db: DbOrTrx, q: { limit: number; cursor?: string }) {
  // The cursor keeps the timestamp at full (microsecond) precision so keyset paging never skips a row.
  let query = db
    .selectFrom('reconciliationRuns')
    .selectAll()
    .select(
      sql<string>`to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('startedKey'),
    )
    .orderBy('startedAt', 'desc')
    .orderBy('id', 'desc')
    .limit(q.limit + 1);
  if (q.cursor) {
    const [startedAt, id] = decodeCursor(q.cursor, ['timestamptz', 'uuid']);
    query = query.where(sql<boolean>`(started_at, id) < (${startedAt}::timestamptz, ${id}::uuid)`);
  }
  const rows = await query.execute();
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return {
    items: page.map((r) => ({
      id: r.id,
      trigger: r.trigger,
      status: r.status,
      windowFrom: r.windowFrom.toISOString(),
      windowTo: r.windowTo.toISOString(),
      counts: r.counts as Record<string, number>,
      discrepancies: r.discrepancies as unknown as RunDiscrepancy[],
      creditDiscrepancies: r.creditDiscrepancies as unknown as CreditDiscrepancy[],
      error: r.error,
      requestedBy: r.requestedBy,
      startedAt: r.startedAt.toISOString(),
      finishedAt: r.finishedAt ? r.finishedAt.toISOString() : null,
    })),
    nextCursor: rows.length > q.limit && last ? encodeCursor([last.startedKey, last.id]) : null,
  };
}
