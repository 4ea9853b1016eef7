import { sql, type Selectable } from 'kysely';
import type { Config } from '../config.js';
import { prepared, type Db, type DbOrTrx, type Trx } from '../db/index.js';
import type { Users } from '../db/types.js';
import { BadRequestError, ConflictError, DomainError, isUniqueViolation, NotFoundError, UnauthorizedError } from '../errors.js';
import { assertPhone } from '../phone.js';
import { enqueueMail } from '../mail/enqueue.js';
import { enqueue } from '../outbox.js';
import {
  accountLocked,
  attemptSucceeded,
  attemptFailed,
  claimAttempt,
  invalidCredentials,
  releaseAttempt,
  type ObserveAttempt,
} from './lockout.js';
import {
  assertEmail,
  assertPasswordPolicy,
  dummyHash,
  hashPassword,
  needsRehash,
  normalizeEmail,
  verifyPassword,
} from './passwords.js';
import type { Role } from './permissions.js';
import type { TokenRevoker } from './revocation.js';
import { decrypt, encrypt, randomToken, tokenHash } from '../crypto.js';
import { openSession, revokeSessions, type ClientMeta } from './sessions.js';
import { checkSecondFactor } from './two-factor.js';
import type { UserView } from './schemas.js';

const VERIFY_TOKEN_HOURS = 24;
const RESET_TOKEN_HOURS = 1;

type AuthConfig = Pick<Config, 'PUBLIC_URL' | 'ENCRYPTION_KEY' | 'LOCKOUT_THRESHOLD' | 'LOCKOUT_MINUTES'>;
type User = Selectable<Users>;

/** The account as its owner (and staff) see it: never hashes or secrets. */
export function userView(u: Pick<User, 'id' | 'email' | 'name' | 'phone' | 'role' | 'emailVerifiedAt' | 'totpEnabledAt' | 'createdAt'>): UserView {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    phone: u.phone,
    role: u.role,
    emailVerified: u.emailVerifiedAt !== null,
    twoFactorEnabled: u.totpEnabledAt !== null,
    createdAt: new Date(u.createdAt).toISOString(),
  };
}
export type { UserView } from './schemas.js';

/** What an access token is issued for: the user, the session and the user's token generation. */
export interface TokenSubject {
  id: string;
  role: Role;
  sessionId?: string;
  generation: number;
}

const link = (config: Pick<Config, 'PUBLIC_URL'>, path: string, token: string) =>
  `${config.PUBLIC_URL.replace(/\/$/, '')}${path}?token=${encodeURIComponent(token)}`;

/**
 * Issues a single-use token (only its hash is stored) and returns the raw value for the link; with a
 * `jobId`, once per job (undefined when that job issued one already).
 */
async function issueUserToken(trx: Trx, userId: string, purpose: 'verify_email' | 'reset_password', hours: number): Promise<string>;
async function issueUserToken(trx: Trx, userId: string, purpose: 'reset_password', hours: number, jobId: string): Promise<string | undefined>;
async function issueUserToken(trx: Trx, userId: string, purpose: 'verify_email' | 'reset_password', hours: number, jobId?: string) {
  const token = randomToken();
  const row = await trx
    .insertInto('userTokens')
    .values({
      userId,
      purpose,
      tokenHash: tokenHash(token),
      expiresAt: sql<Date>`now() + make_interval(hours => ${hours})`,
      ...(jobId ? { jobId } : {}),
    })
    .onConflict((oc) => oc.column('jobId').where('jobId', 'is not', null).doNothing())
    .returning('id')
    .executeTakeFirst();
  return row ? token : undefined;
}

/** Spends a token: one conditional UPDATE, so it works once even under a race. */
async function spendUserToken(trx: Trx, token: string, purpose: 'verify_email' | 'reset_password') {
  const row = await trx
    .updateTable('userTokens')
    .set({ usedAt: sql`now()` })
    .where('tokenHash', '=', tokenHash(token))
    .where('purpose', '=', purpose)
    .where('usedAt', 'is', null)
    .where('expiresAt', '>', sql<Date>`now()`)
    .returning('userId')
    .executeTakeFirst();
  if (!row) throw new BadRequestError('invalid_token', 'The link is invalid, used or expired');
  return row.userId;
}

async function queueVerification(trx: Trx, config: AuthConfig, user: { id: string; email: string; name: string }) {
  const token = await issueUserToken(trx, user.id, 'verify_email', VERIFY_TOKEN_HOURS);
  await enqueueMail(trx, config, 'verify-email', user.email, { name: user.name }, { secret: { link: link(config, '/verify-email', token) } });
}

export interface RegisterInput {
  email: string;
  password: string;
  name: string;
}

export async function register(db: Db, config: AuthConfig, input: RegisterInput, meta: ClientMeta) {
  const email = normalizeEmail(input.email);
  assertEmail(email);
  assertPasswordPolicy(input.password, email);
  const name = input.name.trim();
  if (!name) throw new BadRequestError('validation_failed', 'The name is required', [{ path: '/name', message: 'is required' }]);
  const passwordHash = await hashPassword(input.password);
  try {
    return await db.transaction().execute(async (trx) => {
      const user = await trx.insertInto('users').values({ email, name, passwordHash }).returningAll().executeTakeFirstOrThrow();
      await queueVerification(trx, config, user);
      await enqueueMail(trx, null, 'welcome', user.email, { name: user.name });
      const session = await openSession(trx, user.id, meta);
      const subject: TokenSubject = { id: user.id, role: user.role, sessionId: session.sessionId, generation: user.tokenGeneration };
      return { user: userView(user), refreshToken: session.refreshToken, subject };
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError('email_taken', 'An account with this email exists');
    throw err;
  }
}

export async function verifyEmail(db: Db, token: string) {
  return db.transaction().execute(async (trx) => {
    const userId = await spendUserToken(trx, token, 'verify_email');
    const user = await trx
      .updateTable('users')
      .set({ emailVerifiedAt: sql`coalesce(email_verified_at, now())` })
      .where('id', '=', userId)
      .returningAll()
      .executeTakeFirstOrThrow();
    return { user: userView(user) };
  });
}

/** Sends a new verification link unless the address is verified already (then nothing happens). */
export async function resendVerification(db: Db, config: AuthConfig, userId: string) {
  await db.transaction().execute(async (trx) => {
    const user = await trx.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
    if (!user) throw new NotFoundError('User');
    if (user.emailVerifiedAt) return;
    await queueVerification(trx, config, user);
  });
}

export interface LoginInput {
  email: string;
  password: string;
  totp?: string;
}

/**
 * Checks credentials (+ second factor) without opening a session. Unknown emails cost one argon2
 * verification like known ones and get the same answer. Every guess first claims one of the few the
 * account allows (shared/auth/lockout.ts), so a locked account answers 423 without the password being
 * looked at, however many guesses arrive at once. Success resets the count and upgrades an outdated hash.
 */
export async function authenticate(db: Db, config: AuthConfig, input: LoginInput, observe?: ObserveAttempt) {
  const email = normalizeEmail(input.email);
  const attempt = await claimAttempt(db, config, { email });
  if (attempt.kind === 'unknown') {
    await verifyPassword(await dummyHash(), input.password);
    observe?.('unknown_account');
    throw invalidCredentials();
  }
  if (attempt.kind === 'locked') {
    observe?.('locked');
    throw accountLocked(attempt.lockedUntil);
  }
  const { user } = attempt;
  if (!(await verifyPassword(user.passwordHash, input.password))) {
    observe?.('wrong_password');
    throw await attemptFailed(db, config, attempt, invalidCredentials());
  }
  if (user.disabledAt) {
    await releaseAttempt(db, attempt);
    observe?.('disabled');
    throw new DomainError(403, 'account_disabled', 'This account is disabled');
  }
  if (user.totpEnabledAt) {
    if (!input.totp) {
      await releaseAttempt(db, attempt);
      observe?.('code_required');
      throw new UnauthorizedError('totp_required', 'Enter the code from your authenticator app');
    }
    if (!(await checkSecondFactor(db, config, user, input.totp))) {
      observe?.('wrong_code');
      throw await attemptFailed(db, config, attempt, new UnauthorizedError('invalid_totp', 'The code is not valid'));
    }
  }
  const rehash = needsRehash(user.passwordHash) ? await hashPassword(input.password) : undefined;
  await attemptSucceeded(db, user.id, rehash ? { passwordHash: rehash } : {});
  observe?.('success');
  return user;
}

/** Sign-in: credentials, then a new session (and a notice mail when the device is new). */
export async function login(db: Db, config: AuthConfig, input: LoginInput, meta: ClientMeta, observe?: ObserveAttempt) {
  const user = await authenticate(db, config, input, observe);
  return db.transaction().execute(async (trx) => {
    const knownDevice = await trx
      .selectFrom('sessions')
      .select('id')
      .where('userId', '=', user.id)
      .where('userAgent', 'is not distinct from', meta.userAgent?.slice(0, 512) ?? null)
      .limit(1)
      .executeTakeFirst();
    if (!knownDevice) {
      await enqueueMail(trx, config, 'new-sign-in', user.email, {
        name: user.name,
        device: meta.userAgent?.slice(0, 200) ?? 'unknown device',
        ip: meta.ip ?? 'unknown',
        at: new Date().toISOString(),
      });
    }
    const session = await openSession(trx, user.id, meta);
    const subject: TokenSubject = { id: user.id, role: user.role, sessionId: session.sessionId, generation: user.tokenGeneration };
    return { user: userView(user), refreshToken: session.refreshToken, subject };
  });
}

/**
 * Always the same work whether the account exists or not (no enumeration by timing): one job, with the
 * address sealed; the job looks the account up (`sendPasswordReset`).
 */
export async function forgotPassword(db: Db, config: AuthConfig, rawEmail: string) {
  const email = normalizeEmail(rawEmail);
  await db.transaction().execute((trx) => enqueue(trx, 'email.password-reset', { emailSealed: encrypt(config.ENCRYPTION_KEY, email) }));
}

/**
 * The job behind forgot-password: a reset link for an existing, enabled account, nothing otherwise. The
 * token is bound to the job, so a retried job neither issues a second link nor mails twice.
 */
export async function sendPasswordReset(db: Db, config: AuthConfig, jobId: string, emailSealed: string) {
  const email = decrypt(config.ENCRYPTION_KEY, emailSealed);
  return db.transaction().execute(async (trx) => {
    const user = await trx.selectFrom('users').select(['id', 'email', 'name', 'disabledAt']).where('email', '=', email).executeTakeFirst();
    if (!user || user.disabledAt) return { sent: false };
    const token = await issueUserToken(trx, user.id, 'reset_password', RESET_TOKEN_HOURS, jobId);
    if (!token) return { sent: false };
    await enqueueMail(trx, config, 'reset-password', user.email, { name: user.name }, {
      secret: { link: link(config, '/reset-password', token) },
    });
    return { sent: true };
  });
}

/**
 * Sets a new password from a reset link: every session ends, every access token issued before stops (a new
 * token generation) and a lockout is lifted.
 */
export async function resetPassword(db: Db, config: AuthConfig, revoker: TokenRevoker, token: string, password: string) {
  const { userId, generation } = await db.transaction().execute(async (trx) => {
    const userId = await spendUserToken(trx, token, 'reset_password');
    const user = await trx.selectFrom('users').select(['id', 'email', 'name']).where('id', '=', userId).executeTakeFirstOrThrow();
    // A weak password must not burn the link: the throw rolls the spend back.
    assertPasswordPolicy(password, user.email);
    const { tokenGeneration } = await trx
      .updateTable('users')
      .set({
        passwordHash: await hashPassword(password),
        failedLoginCount: 0,
        lockedUntil: null,
        tokenGeneration: sql<number>`token_generation + 1`,
      })
      .where('id', '=', userId)
      .returning('tokenGeneration')
      .executeTakeFirstOrThrow();
    // Other outstanding reset links die with the old password.
    await trx
      .updateTable('userTokens')
      .set({ usedAt: sql`now()` })
      .where('userId', '=', userId)
      .where('purpose', '=', 'reset_password')
      .where('usedAt', 'is', null)
      .execute();
    await revokeSessions(trx, userId, 'password_reset');
    await enqueueMail(trx, config, 'password-changed', user.email, { name: user.name });
    return { userId, generation: tokenGeneration };
  });
  await revoker.user(userId, generation);
  return { userId };
}

/**
 * GET /me is the hottest signed-in read: one prepared statement (no query building or planning per request), only
 * the columns the view shows, the two flags decided by the database and the timestamp formatted by it.
 */
const ME_QUERY = `SELECT id, email, name, phone, role, email_verified_at IS NOT NULL AS email_verified, totp_enabled_at IS NOT NULL AS two_factor_enabled,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at FROM users WHERE id = $1`;

export async function getMe(db: DbOrTrx, userId: string): Promise<UserView> {
  const { rows } = await db.executeQuery<UserView>(prepared(ME_QUERY, [userId]));
  const user = rows[0];
  if (!user) throw new NotFoundError('User');
  return user;
}

/** PATCH /me: the name, and the phone (E.164; Nigerian local form normalized; null removes it). */
export async function updateMe(db: Db, userId: string, patch: { name?: string; phone?: string | null }): Promise<UserView> {
  const name = patch.name?.trim();
  if (patch.name !== undefined && !name) {
    throw new BadRequestError('validation_failed', 'The name is required', [{ path: '/name', message: 'must not be blank' }]);
  }
  const phone = patch.phone === undefined || patch.phone === null ? patch.phone : assertPhone(patch.phone, '/phone');
  if (name === undefined && phone === undefined) return getMe(db, userId);
  const user = await db
    .updateTable('users')
    .set({ ...(name !== undefined ? { name } : {}), ...(phone !== undefined ? { phone } : {}) })
    .where('id', '=', userId)
    .returningAll()
    .executeTakeFirst();
  if (!user) throw new NotFoundError('User');
  return userView(user);
}
