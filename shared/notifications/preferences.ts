import { sql } from 'kysely';
import type { Db, DbOrTrx } from '../db/index.js';
import { ValidationError } from '../errors.js';
import { notificationKinds, type NotificationKind, type PreferencesPatchInput } from './schemas.js';

type Channels = { email: boolean; push: boolean; inApp: boolean };

/** Every kind with its channels; a kind never set is on everywhere. */
export async function getPreferences(db: DbOrTrx, userId: string): Promise<Record<string, Channels>> {
  const rows = await db.selectFrom('notificationPreferences').select(['kind', 'email', 'push', 'inApp']).where('userId', '=', userId).execute();
  const set = new Map(rows.map((r) => [r.kind, r]));
  return Object.fromEntries(
    notificationKinds.map((k) => {
      const r = set.get(k);
      return [k, { email: r?.email ?? true, push: r?.push ?? true, inApp: r?.inApp ?? true }];
    }),
  );
}

/** Changes the named channels of the named kinds (an unknown kind is a 400 and nothing changes). */
export async function updatePreferences(db: Db, userId: string, patch: PreferencesPatchInput): Promise<Record<string, Channels>> {
  const unknown = Object.keys(patch).filter((k) => !(notificationKinds as readonly string[]).includes(k));
  if (unknown.length) throw new ValidationError('Unknown notification kind', unknown.map((k) => ({ path: `/${k}`, message: 'is not a notification kind' })));
  return db.transaction().execute(async (trx) => {
    for (const [kind, channels] of Object.entries(patch) as [NotificationKind, Partial<Channels>][]) {
      const values = { email: channels.email ?? true, push: channels.push ?? true, inApp: channels.inApp ?? true };
      await trx
        .insertInto('notificationPreferences')
        .values({ userId, kind, ...values })
        .onConflict((oc) =>
          oc.columns(['userId', 'kind']).doUpdateSet({
            email: channels.email ?? sql<boolean>`notification_preferences.email`,
            push: channels.push ?? sql<boolean>`notification_preferences.push`,
            inApp: channels.inApp ?? sql<boolean>`notification_preferences.in_app`,
          }),
        )
        .execute();
    }
    return getPreferences(trx, userId);
  });
}
