import { sql } from 'kysely';
import { can, roles, type Permission } from '../auth/permissions.js';
import type { Db, Trx } from '../db/index.js';
import { enqueueMail } from '../mail/enqueue.js';
import { enqueue } from '../outbox.js';
import { kindsWithOwnMail, type NotificationEvent } from './schemas.js';

const DEFAULTS = { email: true, push: true, inApp: true };

async function recipientsOf(db: Db, event: NotificationEvent): Promise<string[]> {
  const ids = new Set(event.userIds ?? []);
  if (event.permission) {
    const holders = roles.filter((r) => can(r, event.permission as Permission));
    if (holders.length) {
      const rows = await db.selectFrom('users').select('id').where('role', 'in', holders).where('disabledAt', 'is', null).execute();
      rows.forEach((r) => ids.add(r.id));
    }
  }
  if (event.exceptUserId) ids.delete(event.exceptUserId);
  return [...ids];
}

/** Unread in-app notifications of a user (what `notification.unread_count` carries). */
export async function unreadNotificationCount(db: Db | Trx, userId: string): Promise<number> {
  const row = await db
    .selectFrom('notifications')
    .select(sql<number>`count(*)::int`.as('count'))
    .where('userId', '=', userId)
    .where('inApp', '=', true)
    .where('readAt', 'is', null)
    .executeTakeFirstOrThrow();
  return row.count;
}

/**
 * THE fan-out: one event → per recipient, in one transaction each: the preferences as they are now (read
 * at send time), the notification row keyed by (event, recipient), and — only if this call inserted that
 * row — the mail job, the push job and the socket notices. A retry, or the same job running twice at once,
 * meets the unique key (the second insert waits for the first to commit, then does nothing): one row,
 * one mail, one push per event and recipient. Preferences off for a channel: nothing on that channel
 * (an in-app-off row still exists, hidden, so the event stays deduplicated).
 */
export async function fanOut(db: Db, event: NotificationEvent): Promise<{ recipients: number; created: number }> {
  const recipients = await recipientsOf(db, event);
  let created = 0;
  for (const userId of recipients) {
    const made = await db.transaction().execute(async (trx) => {
      const user = await trx.selectFrom('users').select(['email', 'name']).where('id', '=', userId).where('disabledAt', 'is', null).executeTakeFirst();
      if (!user) return false;
      const pref =
        (await trx.selectFrom('notificationPreferences').select(['email', 'push', 'inApp']).where('userId', '=', userId).where('kind', '=', event.kind).executeTakeFirst()) ?? DEFAULTS;
      const row = await trx
        .insertInto('notifications')
        .values({ userId, eventKey: event.key, kind: event.kind, title: event.title, body: event.body, data: JSON.stringify(event.data), inApp: pref.inApp })
        .onConflict((oc) => oc.columns(['eventKey', 'userId']).doNothing())
        .returning(['id', 'createdAt'])
        .executeTakeFirst();
      if (!row) return false;
      if (pref.email && !kindsWithOwnMail.includes(event.kind)) await enqueueMail(trx, null, 'notification', user.email, { name: user.name, title: event.title, body: event.body });
      if (pref.push) await enqueue(trx, 'push.send', { notificationId: row.id });
      if (pref.inApp) {
        const notification = { id: row.id, kind: event.kind, title: event.title, body: event.body, data: event.data, readAt: null, createdAt: row.createdAt.toISOString() };
        await enqueue(trx, 'system.notify', { type: 'notification.created', userId, data: { notification } });
        await enqueue(trx, 'system.notify', { type: 'notification.unread_count', userId, data: { count: await unreadNotificationCount(trx, userId) } });
      }
      return true;
    });
    if (made) created++;
  }
  return { recipients: recipients.length, created };
}

/** Devices of sessions that ran out (revoked ones are deleted by a trigger the moment they are revoked). */
export async function purgeExpiredSessionDevices(db: Db): Promise<number> {
  const r = await db
    .deleteFrom('devices')
    .where('sessionId', 'in', (qb) => qb.selectFrom('sessions').select('id').where('expiresAt', '<=', sql<Date>`now()`))
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** Notifications older than the retention are deleted (in batches: a large backlog never holds one long lock). */
export async function purgeOldNotifications(db: Db, retentionDays: number, batch = 5_000): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await db
      .deleteFrom('notifications')
      .where('id', 'in', (qb) =>
        qb.selectFrom('notifications').select('id').where('createdAt', '<', sql<Date>`now() - make_interval(days => ${retentionDays})`).limit(batch),
      )
      .executeTakeFirst();
    const n = Number(result.numDeletedRows);
    total += n;
    if (n < batch) return total;
  }
}
