import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import type { PrivateFiles } from '../media/files.js';
import { purgeUnattachedUploads } from './attachments.js';
import { RESOLVED_CLOSE_DAYS } from './schemas.js';

/** Hourly: resolved conversations untouched for 7 days close; uploads nobody attached within a day go. */
export async function supportHousekeeping(db: Db, files: PrivateFiles): Promise<{ closed: number; purged: number }> {
  const closed = await db
    .updateTable('supportConversations')
    .set({ status: 'closed', resolvedAt: null, closedAt: sql`now()`, updatedAt: sql`now()` })
    .where('status', '=', 'resolved')
    .where('resolvedAt', '<', sql<Date>`now() - make_interval(days => ${RESOLVED_CLOSE_DAYS})`)
    .executeTakeFirst();
  const purged = await purgeUnattachedUploads(db, files);
  return { closed: Number(closed.numUpdatedRows), purged };
}
