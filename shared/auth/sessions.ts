import { sql } from 'kysely';
import type { Db, DbOrTrx, Trx } from '../db/index.js';
import { NotFoundError, UnauthorizedError } from '../errors.js';
import type { Role } from './permissions.js';
import { randomToken, tokenHash } from './secrets.js';

/** A session (one sign-in on one device) lives this long at most; refreshes rotate within it. */
export const SESSION_DAYS = 30;

export interface ClientMeta {
  ip?: string;
  userAgent?: string;
}

const invalidToken = () => new UnauthorizedError('invalid_token', 'The refresh token is invalid, spent or expired');

/** Opens a session and returns its first refresh token (only its hash is stored). */
export async function openSession(trx: Trx, userId: string, meta: ClientMeta) {
  const session = await trx
    .insertInto('sessions')
    .values({
      userId,
      userAgent: meta.userAgent?.slice(0, 512) ?? null,
      ip: meta.ip ?? null,
      expiresAt: sql<Date>`now() + make_interval(days => ${SESSION_DAYS})`,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const refreshToken = randomToken();
  await trx.insertInto('refreshTokens').values({ tokenHash: tokenHash(refreshToken), sessionId: session.id }).execute();
  return { sessionId: session.id, refreshToken };
}

export async function revokeSessions(db: DbOrTrx, userId: string, reason: string, sessionId?: string) {
  let query = db
    .updateTable('sessions')
    .set({ revokedAt: sql`now()`, revokedReason: reason })
    .where('userId', '=', userId)
    .where('revokedAt', 'is', null);
  if (sessionId) query = query.where('id', '=', sessionId);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Spends a refresh token and issues the next one of its session. The spend is one conditional UPDATE
 * (`WHERE spent_at IS NULL`), so of two refreshes racing with the same token exactly one wins. Presenting
 * a token that was already spent means it leaked (or a client replayed it): the whole session is revoked.
 */
export async function rotateRefreshToken(db: Db, presented: string, meta: ClientMeta) {
  const hash = tokenHash(presented);
  const result = await db.transaction().execute(async (trx) => {
    const spent = await trx
      .updateTable('refreshTokens')
      .set({ spentAt: sql`now()` })
      .where('tokenHash', '=', hash)
      .where('spentAt', 'is', null)
      .returning('sessionId')
      .executeTakeFirst();
    if (!spent) return { reused: true as const };
    const session = await trx
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.userId')
      .select(['sessions.id', 'sessions.userId', 'users.role'])
      .where('sessions.id', '=', spent.sessionId)
      .where('sessions.revokedAt', 'is', null)
      .where('sessions.expiresAt', '>', sql<Date>`now()`)
      .where('users.disabledAt', 'is', null)
      .executeTakeFirst();
    if (!session) return { invalid: true as const };
    const refreshToken = randomToken();
    await trx.insertInto('refreshTokens').values({ tokenHash: tokenHash(refreshToken), sessionId: session.id }).execute();
    await trx
      .updateTable('sessions')
      .set({ lastUsedAt: sql`now()`, ...(meta.ip ? { ip: meta.ip } : {}) })
      .where('id', '=', session.id)
      .execute();
    return { userId: session.userId, role: session.role as Role, sessionId: session.id, refreshToken };
  });
  if ('reused' in result) {
    // Unknown, or already spent: if it was ours, its whole session family ends here.
    const known = await db.selectFrom('refreshTokens').select('sessionId').where('tokenHash', '=', hash).executeTakeFirst();
    if (known) {
      await db
        .updateTable('sessions')
        .set({ revokedAt: sql`now()`, revokedReason: 'refresh_token_reuse' })
        .where('id', '=', known.sessionId)
        .where('revokedAt', 'is', null)
        .execute();
    }
    throw invalidToken();
  }
  if ('invalid' in result) throw invalidToken();
  return result;
}

/** Ends the session a refresh token belongs to; unknown tokens are ignored (logout is idempotent). */
export async function logout(db: Db, presented: string) {
  const row = await db.selectFrom('refreshTokens').select('sessionId').where('tokenHash', '=', tokenHash(presented)).executeTakeFirst();
  if (!row) return;
  await db
    .updateTable('sessions')
    .set({ revokedAt: sql`now()`, revokedReason: 'logout' })
    .where('id', '=', row.sessionId)
    .where('revokedAt', 'is', null)
    .execute();
}

export async function listSessions(db: DbOrTrx, userId: string) {
  const rows = await db
    .selectFrom('sessions')
    .select(['id', 'userAgent', 'ip', 'createdAt', 'lastUsedAt'])
    .where('userId', '=', userId)
    .where('revokedAt', 'is', null)
    .where('expiresAt', '>', sql<Date>`now()`)
    .orderBy('lastUsedAt', 'desc')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    device: r.userAgent,
    ip: r.ip,
    createdAt: new Date(r.createdAt).toISOString(),
    lastUsedAt: new Date(r.lastUsedAt).toISOString(),
  }));
}

/** Revokes one of the caller's own sessions; someone else's session is "not found". */
export async function revokeOwnSession(db: Db, userId: string, sessionId: string) {
  const n = await revokeSessions(db, userId, 'revoked_by_user', sessionId);
  if (n === 0) throw new NotFoundError('Session');
}
