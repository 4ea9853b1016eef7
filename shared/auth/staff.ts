import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import { decodeCursor, encodeCursor } from '../db/cursor.js';
import { BadRequestError, ConflictError, NotFoundError } from '../errors.js';
import { writeAudit } from './audit.js';
import type { Role } from './permissions.js';
import type { TokenRevoker } from './revocation.js';
import { revokeSessions } from './sessions.js';
import { userView } from './accounts.js';
import type { StaffUserView } from './schemas.js';

/** What staff see of an account: the owner's view plus its state. */
export function staffUserView(u: Parameters<typeof userView>[0] & { disabledAt: Date | string | null; lockedUntil: Date | string | null }): StaffUserView {
  return {
    ...userView(u),
    disabled: u.disabledAt !== null,
    lockedUntil: u.lockedUntil && new Date(u.lockedUntil) > new Date() ? new Date(u.lockedUntil).toISOString() : null,
  };
}

export interface ListUsersQuery {
  q?: string;
  role?: Role;
  limit: number;
  cursor?: string;
}

/** Newest first, keyset-paginated on (created_at, id); `q` matches email or name (trigram index). */
export async function listUsers(db: Db, query: ListUsersQuery) {
  let select = db.selectFrom('users').selectAll();
  const q = query.q?.trim();
  if (q) {
    const pattern = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    select = select.where(sql<boolean>`(email::text || ' ' || name) ILIKE ${pattern}`);
  }
  if (query.role) select = select.where('role', '=', query.role);
  if (query.cursor) {
    const [c, i] = decodeCursor(query.cursor, ['timestamptz', 'uuid']);
    select = select.where(sql<boolean>`(created_at, id) < (${c}::timestamptz, ${i}::uuid)`);
  }
  const rows = await select
    .orderBy('createdAt', 'desc')
    .orderBy('id', 'desc')
    .limit(query.limit + 1)
    .execute();
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    items: page.map(staffUserView),
    nextCursor:
      rows.length > query.limit && last ? encodeCursor([new Date(last.createdAt).toISOString(), last.id]) : null,
  };
}

export interface UserPatch {
  role?: Role;
  disabled?: boolean;
}

/**
 * Changes a user's role or disabled state under a row lock, with an audit record of before and after.
 * Disabling also ends every session. A new role or disabling raises the token generation: every access
 * token issued before stops at once, the next one (a refresh with the new role) works at once. Staff
 * cannot change themselves (no locking yourself out).
 */
export async function updateUserByStaff(db: Db, revoker: TokenRevoker, actorId: string, userId: string, patch: UserPatch) {
  if (patch.role === undefined && patch.disabled === undefined) {
    throw new BadRequestError('validation_failed', 'Give a role or disabled', [{ path: '/', message: 'must have role or disabled' }]);
  }
  if (actorId === userId) throw new ConflictError('cannot_modify_self', 'You cannot change your own role or state');
  const result = await db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('users').selectAll().where('id', '=', userId).forUpdate().executeTakeFirst();
    if (!before) throw new NotFoundError('User');
    const changes: { role?: Role; disabledAt?: ReturnType<typeof sql<Date>> | null } = {};
    if (patch.role !== undefined && patch.role !== before.role) changes.role = patch.role;
    const wasDisabled = before.disabledAt !== null;
    if (patch.disabled !== undefined && patch.disabled !== wasDisabled) changes.disabledAt = patch.disabled ? sql`now()` : null;
    if (Object.keys(changes).length === 0) return { user: staffUserView(before), changed: false, revokeUpTo: undefined };
    const revokes = changes.role !== undefined || patch.disabled === true;
    const after = await trx
      .updateTable('users')
      .set({ ...changes, ...(revokes ? { tokenGeneration: sql<number>`token_generation + 1` } : {}) })
      .where('id', '=', userId)
      .returningAll()
      .executeTakeFirstOrThrow();
    if (patch.disabled === true) await revokeSessions(trx, userId, 'disabled_by_staff');
    const pick = (u: typeof before) => ({ role: u.role, disabled: u.disabledAt !== null });
    await writeAudit(trx, {
      actorId,
      action: changes.role !== undefined && changes.disabledAt !== undefined ? 'user.updated' : changes.role !== undefined ? 'user.role_changed' : patch.disabled ? 'user.disabled' : 'user.enabled',
      targetType: 'user',
      targetId: userId,
      before: pick(before),
      after: pick(after),
    });
    return { user: staffUserView(after), changed: true, revokeUpTo: revokes ? after.tokenGeneration : undefined };
  });
  if (result.revokeUpTo !== undefined) await revoker.user(userId, result.revokeUpTo);
  return { user: result.user, changed: result.changed };
}
