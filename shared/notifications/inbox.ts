import { sql } from 'kysely';
import type { Db, DbOrTrx } from '../db/index.js';
import { decodeCursor, encodeCursor } from '../db/cursor.js';
import { NotFoundError } from '../errors.js';
import { unreadNotificationCount } from './fanout.js';
import type { NotificationView } from './schemas.js';

function view(r: { id: string; kind: string; title: string; body: string; data: unknown; readAt: Date | null; createdAt: Date }): NotificationView {
  return {
    id: r.id,
    kind: r.kind,
    title: r.title,
    body: r.body,
    data: (r.data ?? {}) as Record<string, unknown>,
    readAt: r.readAt ? r.readAt.toISOString() : null,
    createdAt: r.createdAt.toISOString(),
  };
}

/** The caller's in-app notifications, newest first. */
export async function listNotifications(db: DbOrTrx, userId: string, f: { unread?: boolean; limit: number; cursor?: string }) {
  let q = db
    .selectFrom('notifications')
    .select(['id', 'kind', 'title', 'body', 'data', 'readAt', 'createdAt', sql<string>`created_at::text`.as('cursorAt')])
    .where('userId', '=', userId)
    .where('inApp', '=', true);
  if (f.unread) q = q.where('readAt', 'is', null);
  if (f.cursor) {
    const [at, id] = decodeCursor(f.cursor, ['timestamptz', 'uuid'] as const);
    q = q.where(sql<boolean>`(created_at, id) < (${at}::timestamptz, ${id}::uuid)`);
  }
  const rows = await q.orderBy('createdAt', 'desc').orderBy('id', 'desc').limit(f.limit + 1).execute();
  const page = rows.slice(0, f.limit);
  const last = page.at(-1);
  return { items: page.map(view), nextCursor: rows.length > f.limit && last ? encodeCursor([last.cursorAt, last.id]) : null };
}

export const unreadCount = (db: Db, userId: string) => unreadNotificationCount(db, userId);

/** Marks one of the caller's notifications read (again is fine); someone else's is 404. Returns the new unread count. */
export async function readNotification(db: Db, userId: string, id: string): Promise<number> {
  const row = await db
    .updateTable('notifications')
    .set({ readAt: sql`coalesce(read_at, now())` })
    .where('id', '=', id)
    .where('userId', '=', userId)
    .where('inApp', '=', true)
    .returning('id')
    .executeTakeFirst();
  if (!row) throw new NotFoundError('Notification');
  return unreadNotificationCount(db, userId);
}

/**
 * Marks read what the caller had when they asked: everything created up to `before` (default: this
 * statement's start). A notification arriving meanwhile is either committed before this statement's
 * snapshot and created earlier (read), or not visible to it and stays unread: never one the user could
 * not have seen.
 */
export async function readAllNotifications(db: Db, userId: string, before?: string): Promise<number> {
  await db
    .updateTable('notifications')
    .set({ readAt: sql`now()` })
    .where('userId', '=', userId)
    .where('inApp', '=', true)
    .where('readAt', 'is', null)
    .where('createdAt', '<=', before ? new Date(before) : sql<Date>`now()`)
    .execute();
  return unreadNotificationCount(db, userId);
}
