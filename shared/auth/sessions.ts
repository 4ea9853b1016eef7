import { sql } from 'kysely';
import { hkdfSync } from 'node:crypto';
import type { Db, DbOrTrx, Trx } from '../db/index.js';
import { NotFoundError, UnauthorizedError } from '../errors.js';
import type { Role } from './permissions.js';
import type { TokenRevoker } from './revocation.js';
import { decrypt, encrypt, randomToken, tokenHash } from '../crypto.js';
import type { SessionRevokeReason } from './schemas.js';

/** A session (one sign-in on one device) lives this long at most; refreshes rotate within it. */
const SESSION_DAYS = 30;

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

export async function revokeSessions(db: DbOrTrx, userId: string, reason: SessionRevokeReason, sessionId?: string) {
  let query = db
    .updateTable('sessions')
    .set({ revokedAt: sql`now()`, revokedReason: reason })
    .where('userId', '=', userId)
    .where('revokedAt', 'is', null);
  if (sessionId) query = query.where('id', '=', sessionId);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** What a refresh answers: the next refresh token and an access token for the same session. */
export interface RefreshedPair {
  refreshToken: string;
  accessToken: string;
}

export interface RotateOptions {
  /** A spent token presented this soon after its rotation answers the same pair (REFRESH_REUSE_GRACE_SECONDS). */
  graceSeconds: number;
  /** Signs the access token of the new pair (the API's key; the domain never sees it). */
  signAccessToken(subject: { id: string; role: Role; sessionId: string; generation: number }): string;
  revoker: TokenRevoker;
}

/**
 * The key that seals the pair a rotation answered, derived from the spent token itself: only whoever
 * presents that token can open it, and the database holds neither the tokens nor the key (the stored
 * hash is SHA-256 of the token, this an HKDF of it).
 */
const successorKey = (presented: string) =>
  Buffer.from(hkdfSync('sha256', presented, Buffer.alloc(0), 'agape refresh-token successor v1', 32)).toString('hex');

/**
 * Spends a refresh token and issues the next pair of its session. The spend is one conditional UPDATE
 * (`WHERE spent_at IS NULL`), so of two refreshes racing with the same token exactly one rotates. The
 * other (two tabs refreshing at once) arrives within the grace and gets the same pair, opened from the
 * sealed copy stored with the spent token in the same transaction. A spent token presented after the
 * grace means it leaked (or a client replayed it): the whole session is revoked, its access tokens too.
 */
export async function rotateRefreshToken(db: Db, presented: string, meta: ClientMeta, opts: RotateOptions): Promise<RefreshedPair> {
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
      .select(['sessions.id', 'sessions.userId', 'users.role', 'users.tokenGeneration'])
      .where('sessions.id', '=', spent.sessionId)
      .where('sessions.revokedAt', 'is', null)
      .where('sessions.expiresAt', '>', sql<Date>`now()`)
      .where('users.disabledAt', 'is', null)
      .executeTakeFirst();
    if (!session) return { invalid: true as const };
    const pair: RefreshedPair = {
      refreshToken: randomToken(),
      // Role and generation come from the same snapshot: a token can never carry a role from before a
      // change together with a generation from after it.
      accessToken: opts.signAccessToken({ id: session.userId, role: session.role, sessionId: session.id, generation: session.tokenGeneration }),
    };
    await trx.insertInto('refreshTokens').values({ tokenHash: tokenHash(pair.refreshToken), sessionId: session.id }).execute();
    if (opts.graceSeconds > 0) {
      await trx
        .updateTable('refreshTokens')
        .set({ successorEnc: encrypt(successorKey(presented), JSON.stringify(pair)) })
        .where('tokenHash', '=', hash)
        .execute();
    }
    await trx
      .updateTable('sessions')
      .set({ lastUsedAt: sql`now()`, ...(meta.ip ? { ip: meta.ip } : {}) })
      .where('id', '=', session.id)
      .execute();
    return { pair };
  });
  if ('pair' in result && result.pair) return result.pair;
  if ('invalid' in result) throw invalidToken();

  // Unknown, or already spent.
  const known = await db
    .selectFrom('refreshTokens')
    .innerJoin('sessions', 'sessions.id', 'refreshTokens.sessionId')
    .innerJoin('users', 'users.id', 'sessions.userId')
    .select([
      'refreshTokens.sessionId',
      'refreshTokens.successorEnc',
      'sessions.userId',
      sql<boolean>`refresh_tokens.spent_at > now() - make_interval(secs => ${opts.graceSeconds})
        AND sessions.revoked_at IS NULL AND sessions.expires_at > now() AND users.disabled_at IS NULL`.as('withinGrace'),
    ])
    .where('refreshTokens.tokenHash', '=', hash)
    .executeTakeFirst();
  if (!known) throw invalidToken();
  if (known.withinGrace && known.successorEnc) {
    try {
      return JSON.parse(decrypt(successorKey(presented), known.successorEnc)) as RefreshedPair;
    } catch {
      // Unreadable: treat as reuse.
    }
  }
  // Its whole session family ends here, access tokens included.
  const revoked = await db
    .updateTable('sessions')
    .set({ revokedAt: sql`now()`, revokedReason: 'refresh_token_reuse' })
    .where('id', '=', known.sessionId)
    .where('revokedAt', 'is', null)
    .executeTakeFirst();
  if (Number(revoked.numUpdatedRows) > 0) await opts.revoker.sessions(known.userId, [known.sessionId]);
  throw invalidToken();
}

/** Ends the session a refresh token belongs to and stops its access tokens; unknown tokens are ignored (logout is idempotent). */
export async function logout(db: Db, revoker: TokenRevoker, presented: string) {
  const row = await db
    .updateTable('sessions')
    .set({ revokedAt: sql`now()`, revokedReason: 'logout' })
    .where('id', '=', db.selectFrom('refreshTokens').select('sessionId').where('tokenHash', '=', tokenHash(presented)))
    .where('revokedAt', 'is', null)
    .returning(['id', 'userId'])
    .executeTakeFirst();
  if (row) await revoker.sessions(row.userId, [row.id]);
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

/** Revokes one of the caller's own sessions and stops its access tokens; someone else's session is "not found". */
export async function revokeOwnSession(db: Db, revoker: TokenRevoker, userId: string, sessionId: string) {
  const n = await revokeSessions(db, userId, 'revoked_by_user', sessionId);
  if (n === 0) throw new NotFoundError('Session');
  await revoker.sessions(userId, [sessionId]);
}
