import { sql, type Selectable } from 'kysely';
import type { Config } from '../config.js';
import type { Db, DbOrTrx, Trx } from '../db/index.js';
import type { Users } from '../db/types.js';
import { BadRequestError, ConflictError, DomainError, isUniqueViolation, NotFoundError, UnauthorizedError } from '../errors.js';
import { enqueueMail } from '../mail/enqueue.js';
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
import { randomToken, tokenHash } from './secrets.js';
import { openSession, revokeSessions, type ClientMeta } from './sessions.js';
import { checkSecondFactor } from './two-factor.js';

export const VERIFY_TOKEN_HOURS = 24;
export const RESET_TOKEN_HOURS = 1;

type AuthConfig = Pick<Config, 'PUBLIC_URL' | 'ENCRYPTION_KEY' | 'LOCKOUT_THRESHOLD' | 'LOCKOUT_MINUTES'>;
type User = Selectable<Users>;

/** The account as its owner (and staff) see it: never hashes or secrets. */
export function userView(u: Pick<User, 'id' | 'email' | 'name' | 'role' | 'emailVerifiedAt' | 'totpEnabledAt' | 'createdAt'>) {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    role: u.role as Role,
    emailVerified: u.emailVerifiedAt !== null,
    twoFactorEnabled: u.totpEnabledAt !== null,
    createdAt: new Date(u.createdAt).toISOString(),
  };
}
export type UserView = ReturnType<typeof userView>;

const link = (config: Pick<Config, 'PUBLIC_URL'>, path: string, token: string) =>
  `${config.PUBLIC_URL.replace(/\/$/, '')}${path}?token=${encodeURIComponent(token)}`;

/** Issues a single-use token (only its hash is stored) and returns the raw value for the link. */
async function issueUserToken(trx: Trx, userId: string, purpose: 'verify_email' | 'reset_password', hours: number) {
  const token = randomToken();
  await trx
    .insertInto('userTokens')
    .values({ userId, purpose, tokenHash: tokenHash(token), expiresAt: sql<Date>`now() + make_interval(hours => ${hours})` })
    .execute();
  return token;
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
      const session = await openSession(trx, user.id, meta);
      return { user: userView(user), refreshToken: session.refreshToken };
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

const invalidCredentials = () => new UnauthorizedError('invalid_credentials', 'Email or password is wrong');
const locked = (until: Date | string) =>
  new DomainError(423, 'account_locked', 'Too many failed sign-ins: the account is locked for a while', {
    lockedUntil: new Date(until).toISOString(),
  });

/**
 * Counts a failure; the one that reaches the threshold locks the account (and starts a new count).
 * Returns the lock's end when this failure locked it.
 */
async function countFailure(db: DbOrTrx, config: AuthConfig, userId: string) {
  const threshold = config.LOCKOUT_THRESHOLD;
  const row = await db
    .updateTable('users')
    .set({
      failedLoginCount: sql`CASE WHEN failed_login_count + 1 >= ${threshold} THEN 0 ELSE failed_login_count + 1 END`,
      lockedUntil: sql`CASE WHEN failed_login_count + 1 >= ${threshold}
        THEN now() + make_interval(secs => ${config.LOCKOUT_MINUTES * 60}) ELSE locked_until END`,
    })
    .where('id', '=', userId)
    .returning(['lockedUntil'])
    .executeTakeFirst();
  return row?.lockedUntil && new Date(row.lockedUntil) > new Date() ? row.lockedUntil : null;
}

/**
 * Checks credentials (+ second factor) without opening a session. Unknown emails cost one argon2
 * verification like known ones and get the same answer. A locked account answers 423 before the
 * password is even looked at. Success resets the failure count and upgrades an outdated hash.
 */
export async function authenticate(db: Db, config: AuthConfig, input: LoginInput) {
  const email = normalizeEmail(input.email);
  const user = await db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
  if (!user) {
    await verifyPassword(await dummyHash(), input.password);
    throw invalidCredentials();
  }
  if (user.lockedUntil && new Date(user.lockedUntil) > new Date()) throw locked(user.lockedUntil);
  if (!(await verifyPassword(user.passwordHash, input.password))) {
    const lockedUntil = await countFailure(db, config, user.id);
    throw lockedUntil ? locked(lockedUntil) : invalidCredentials();
  }
  if (user.disabledAt) throw new DomainError(403, 'account_disabled', 'This account is disabled');
  if (user.totpEnabledAt) {
    if (!input.totp) throw new UnauthorizedError('totp_required', 'Enter the code from your authenticator app');
    if (!(await checkSecondFactor(db, config, user, input.totp))) {
      const lockedUntil = await countFailure(db, config, user.id);
      throw lockedUntil ? locked(lockedUntil) : new UnauthorizedError('invalid_totp', 'The code is not valid');
    }
  }
  const rehash = needsRehash(user.passwordHash) ? await hashPassword(input.password) : undefined;
  if (rehash || user.failedLoginCount > 0 || user.lockedUntil) {
    await db
      .updateTable('users')
      .set({ failedLoginCount: 0, lockedUntil: null, ...(rehash ? { passwordHash: rehash } : {}) })
      .where('id', '=', user.id)
      .execute();
  }
  return user;
}

/** Sign-in: credentials, then a new session (and a notice mail when the device is new). */
export async function login(db: Db, config: AuthConfig, input: LoginInput, meta: ClientMeta) {
  const user = await authenticate(db, config, input);
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
    return { user: userView(user), refreshToken: session.refreshToken };
  });
}

/** Always succeeds from the caller's view; a reset mail goes out only if the account exists. */
export async function forgotPassword(db: Db, config: AuthConfig, rawEmail: string) {
  const email = normalizeEmail(rawEmail);
  await db.transaction().execute(async (trx) => {
    const user = await trx.selectFrom('users').select(['id', 'email', 'name', 'disabledAt']).where('email', '=', email).executeTakeFirst();
    if (!user || user.disabledAt) return;
    const token = await issueUserToken(trx, user.id, 'reset_password', RESET_TOKEN_HOURS);
    await enqueueMail(trx, config, 'reset-password', user.email, { name: user.name }, {
      secret: { link: link(config, '/reset-password', token) },
    });
  });
}

/** Sets a new password from a reset link: every session ends and a lockout is lifted. */
export async function resetPassword(db: Db, config: AuthConfig, token: string, password: string) {
  return db.transaction().execute(async (trx) => {
    const userId = await spendUserToken(trx, token, 'reset_password');
    const user = await trx.selectFrom('users').select(['id', 'email', 'name']).where('id', '=', userId).executeTakeFirstOrThrow();
    // A weak password must not burn the link: the throw rolls the spend back.
    assertPasswordPolicy(password, user.email);
    await trx
      .updateTable('users')
      .set({ passwordHash: await hashPassword(password), failedLoginCount: 0, lockedUntil: null })
      .where('id', '=', userId)
      .execute();
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
    return { userId };
  });
}

export async function getMe(db: DbOrTrx, userId: string): Promise<UserView> {
  const user = await db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
  if (!user) throw new NotFoundError('User');
  return userView(user);
}

export async function updateMe(db: Db, userId: string, patch: { name?: string }): Promise<UserView> {
  const name = patch.name?.trim();
  if (patch.name !== undefined && !name) {
    throw new BadRequestError('validation_failed', 'The name is required', [{ path: '/name', message: 'must not be blank' }]);
  }
  if (name === undefined) return getMe(db, userId);
  const user = await db.updateTable('users').set({ name }).where('id', '=', userId).returningAll().executeTakeFirst();
  if (!user) throw new NotFoundError('User');
  return userView(user);
}
