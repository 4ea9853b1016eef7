import { sql } from 'kysely';
import type { DbOrTrx } from '../db/index.js';
import { decodeCursor, encodeCursor } from '../db/cursor.js';
import { NotFoundError } from '../errors.js';
import { addDays, type DateRange } from '../reports/range.js';

export interface AuditFilter {
  actorId?: string;
  /** A prefix: `refund.` matches every refund action, `variant.price_changed` just that one. */
  action?: string;
  targetType?: string;
  targetId?: string;
  range: DateRange;
  timeZone: string;
  limit: number;
  cursor?: string;
}

const columns = [
  'a.id',
  'a.createdAt',
  'a.actorId',
  'u.email as actorEmail',
  'u.name as actorName',
  'u.role as actorRole',
  'a.action',
  'a.targetType',
  'a.targetId',
  'a.before',
  'a.after',
  'a.requestId',
  'a.ip',
] as const;

const base = (db: DbOrTrx) => db.selectFrom('auditLog as a').leftJoin('users as u', 'u.id', 'a.actorId');

type Row = Awaited<ReturnType<ReturnType<typeof listQuery>['execute']>>[number];
const listQuery = (db: DbOrTrx) =>
  base(db).select([...columns, sql<string>`a.created_at::text`.as('cursorAt')]);

function view(r: Omit<Row, 'cursorAt'>) {
  return {
    id: r.id,
    at: r.createdAt.toISOString(),
    actor: r.actorId
      ? { id: r.actorId, email: r.actorEmail ?? null, name: r.actorName ?? null, role: r.actorRole ?? null }
      : null,
    action: r.action,
    targetType: r.targetType,
    targetId: r.targetId,
    before: r.before ?? null,
    after: r.after ?? null,
    requestId: r.requestId,
    ip: r.ip,
  };
}
export type AuditView = ReturnType<typeof view>;

const likePrefix = (prefix: string) => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** The audit log, newest first, filtered; keyset-paginated on (created_at, id). */
export async function listAudit(
  db: DbOrTrx,
  f: AuditFilter,
): Promise<{ items: AuditView[]; nextCursor: string | null }> {
  const start = sql<Date>`(${f.range.from}::date::timestamp AT TIME ZONE ${f.timeZone})`;
  const end = sql<Date>`(${addDays(f.range.to, 1)}::date::timestamp AT TIME ZONE ${f.timeZone})`;
  let q = listQuery(db).where('a.createdAt', '>=', start).where('a.createdAt', '<', end);
  if (f.actorId) q = q.where('a.actorId', '=', f.actorId);
  if (f.action) q = q.where('a.action', 'like', likePrefix(f.action));
  if (f.targetType) q = q.where('a.targetType', '=', f.targetType);
  if (f.targetId) q = q.where('a.targetId', '=', f.targetId);
  if (f.cursor) {
    const [at, id] = decodeCursor(f.cursor, ['timestamptz', 'uuid'] as const);
    q = q.where(sql<boolean>`(a.created_at, a.id) < (${at}::timestamptz, ${id}::uuid)`);
  }
  const rows = await q
    .orderBy('a.createdAt', 'desc')
    .orderBy('a.id', 'desc')
    .limit(f.limit + 1)
    .execute();
  const page = rows.slice(0, f.limit);
  const last = page.at(-1);
  return {
    items: page.map(view),
    nextCursor: rows.length > f.limit && last ? encodeCursor([last.cursorAt, last.id]) : null,
  };
}

export async function getAudit(db: DbOrTrx, id: string): Promise<AuditView> {
  const row = await base(db).select(columns).where('a.id', '=', id).executeTakeFirst();
  if (!row) throw new NotFoundError('Audit entry');
  return view(row);
}
