import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import { NotFoundError, UnauthorizedError } from '../errors.js';
import type { DeviceView, Platform } from './schemas.js';

const view = (d: { id: string; platform: string; createdAt: Date; sessionId: string }, sessionId?: string): DeviceView => ({
  id: d.id,
  platform: d.platform,
  createdAt: d.createdAt.toISOString(),
  current: d.sessionId === sessionId,
});

/**
 * Registers a push token for the caller's session. A token has one owner: claimed by someone else (the
 * phone changed hands, or two accounts raced for it) it moves in one statement, so whoever commits last
 * holds it and the other holds nothing. `created` false: it was already the caller's on this session.
 */
export async function registerDevice(db: Db, caller: { id: string; sessionId?: string }, input: { token: string; platform: Platform }) {
  if (!caller.sessionId) throw new UnauthorizedError('session_required', 'Devices are tied to a signed-in session; sign in again');
  // The session must be live: a device registered on a revoked session would outlive it.
  const row = await db
    .with('live', (qb) => qb.selectFrom('sessions').select('id').where('id', '=', caller.sessionId!).where('userId', '=', caller.id).where('revokedAt', 'is', null))
    .insertInto('devices')
    .columns(['userId', 'sessionId', 'token', 'platform'])
    .expression((eb) => eb.selectFrom('live').select([sql.val(caller.id).as('userId'), 'live.id', sql.val(input.token).as('token'), sql.val(input.platform).as('platform')]))
    .onConflict((oc) =>
      oc
        .column('token')
        .doUpdateSet({ userId: caller.id, sessionId: caller.sessionId!, platform: input.platform, createdAt: sql`now()` })
        .where((eb) => eb.or([eb('devices.userId', '<>', caller.id), eb('devices.sessionId', '<>', caller.sessionId!), eb('devices.platform', '<>', input.platform)])),
    )
    .returning(['id', 'platform', 'createdAt', 'sessionId'])
    .executeTakeFirst();
  if (row) return { device: view(row, caller.sessionId), created: true };
  const existing = await db
    .selectFrom('devices')
    .select(['id', 'platform', 'createdAt', 'sessionId'])
    .where('token', '=', input.token)
    .where('userId', '=', caller.id)
    .where('sessionId', '=', caller.sessionId)
    .executeTakeFirst();
  if (!existing) throw new UnauthorizedError('session_required', 'This session has ended; sign in again');
  return { device: view(existing, caller.sessionId), created: false };
}

export async function listDevices(db: Db, caller: { id: string; sessionId?: string }) {
  const rows = await db.selectFrom('devices').select(['id', 'platform', 'createdAt', 'sessionId']).where('userId', '=', caller.id).orderBy('createdAt', 'desc').execute();
  return rows.map((r) => view(r, caller.sessionId));
}

export async function deleteDevice(db: Db, userId: string, id: string): Promise<void> {
  const r = await db.deleteFrom('devices').where('id', '=', id).where('userId', '=', userId).executeTakeFirst();
  if (!Number(r.numDeletedRows)) throw new NotFoundError('Device');
}
