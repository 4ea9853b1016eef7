import { sql, type Selectable } from 'kysely';
import type { Config } from '../config.js';
import type { DbOrTrx } from '../db/index.js';
import type { Users } from '../db/types.js';
import { setTimeout as delay } from 'node:timers/promises';
import { DomainError, TooManyRequestsError, UnauthorizedError } from '../errors.js';
import { verifyPassword } from './passwords.js';

type LockoutConfig = Pick<Config, 'LOCKOUT_THRESHOLD' | 'LOCKOUT_MINUTES'>;

export const invalidCredentials = () => new UnauthorizedError('invalid_credentials', 'Email or password is wrong');
export const accountLocked = (until: Date | string) =>
  new DomainError(423, 'account_locked', 'Too many failed sign-ins: the account is locked for a while', {
    lockedUntil: new Date(until).toISOString(),
  });

/** How a guess ended, for the `auth_attempts_total` metric (brute force shows up as `locked` and `wrong_*`). */
type AttemptOutcome = 'success' | 'wrong_password' | 'wrong_code' | 'code_required' | 'locked' | 'unknown_account' | 'disabled';
export type ObserveAttempt = (outcome: AttemptOutcome) => void;

export type Attempt =
  | { kind: 'unknown' }
  | { kind: 'locked'; lockedUntil: Date | string }
  | ClaimedAttempt;

export interface ClaimedAttempt {
  kind: 'claimed';
  /** The account as it is after the claim. */
  user: Selectable<Users>;
}

/** How often a guess waiting for a slot looks again, and for how long at most. */
const WAIT_MS = 20;
const WAIT_LIMIT_MS = 10_000;
/** Slots taken this long ago and never settled belong to a process that died: they count as failures. */
const STUCK_SECONDS = 30;

const lockInterval = (config: LockoutConfig) => sql<Date>`now() + make_interval(secs => ${config.LOCKOUT_MINUTES * 60})`;

/**
 * Claims one of the LOCKOUT_THRESHOLD guesses an account allows in a row, before anything is verified:
 * one conditional UPDATE, so of any number of parallel guesses at most LOCKOUT_THRESHOLD are ever being
 * evaluated or counted as failed (reading `locked_until` first and counting after the slow hash let about
 * twenty through). A claim counts as a failure until settled: `attemptSucceeded` starts the count again,
 * `releaseAttempt` gives the slot back, `attemptFailed` keeps it and locks once the slots are used up.
 * A guess that finds every slot taken by guesses still being evaluated waits for them rather than being
 * refused: a burst of right passwords is not a lockout; wrong ones end in the lock and are answered 423.
 * A lock that has run out starts a new window.
 */
export async function claimAttempt(db: DbOrTrx, config: LockoutConfig, by: { email: string } | { id: string }): Promise<Attempt> {
  const threshold = config.LOCKOUT_THRESHOLD;
  const started = Date.now();
  for (;;) {
    let claim = db
      .updateTable('users')
      .set({
        failedLoginCount: sql<number>`CASE WHEN locked_until IS NOT NULL THEN 1 ELSE failed_login_count + 1 END`,
        lockedUntil: null,
      })
      .where((eb) =>
        eb.or([
          eb.and([eb('lockedUntil', 'is', null), eb('failedLoginCount', '<', threshold)]),
          eb('lockedUntil', '<=', sql<Date>`now()`),
        ]),
      );
    claim = 'email' in by ? claim.where('email', '=', by.email) : claim.where('id', '=', by.id);
    const user = await claim.returningAll().executeTakeFirst();
    if (user) return { kind: 'claimed', user };

    let look = db
      .selectFrom('users')
      .select([
        'id',
        'failedLoginCount',
        sql<Date | null>`CASE WHEN locked_until > now() THEN locked_until END`.as('lockedUntil'),
        sql<boolean>`updated_at < now() - make_interval(secs => ${STUCK_SECONDS})`.as('stuck'),
      ]);
    look = 'email' in by ? look.where('email', '=', by.email) : look.where('id', '=', by.id);
    const state = await look.executeTakeFirst();
    if (!state) return { kind: 'unknown' };
    if (state.lockedUntil) return { kind: 'locked', lockedUntil: state.lockedUntil };
    if (state.failedLoginCount < threshold) continue; // settled meanwhile: claim again
    if (state.stuck) {
      await db
        .updateTable('users')
        .set({ lockedUntil: lockInterval(config) })
        .where('id', '=', state.id)
        .where('lockedUntil', 'is', null)
        .where('failedLoginCount', '>=', threshold)
        .execute();
      continue;
    }
    if (Date.now() - started > WAIT_LIMIT_MS) throw new TooManyRequestsError(1);
    await delay(WAIT_MS + Math.random() * WAIT_MS);
  }
}

/** The whole sign-in succeeded: the count starts again (and a lock set by a parallel guess is lifted). */
export async function attemptSucceeded(db: DbOrTrx, userId: string, set: { passwordHash?: string } = {}) {
  await db.updateTable('users').set({ failedLoginCount: 0, lockedUntil: null, ...set }).where('id', '=', userId).execute();
}

/** Not a failure (the password was right; a code is still to come, or the account is disabled): the slot goes back. */
export async function releaseAttempt(db: DbOrTrx, attempt: ClaimedAttempt) {
  await db
    .updateTable('users')
    .set({ failedLoginCount: sql<number>`greatest(failed_login_count - 1, 0)` })
    .where('id', '=', attempt.user.id)
    .execute();
}

/**
 * A wrong guess: its claim stays counted; once the slots are used up the account is locked. Returns the
 * error to answer: 423 when the account is (now) locked, else `error`.
 */
export async function attemptFailed(db: DbOrTrx, config: LockoutConfig, attempt: ClaimedAttempt, error: DomainError): Promise<DomainError> {
  const row = await db
    .updateTable('users')
    .set({
      lockedUntil: sql<Date | null>`CASE WHEN locked_until IS NULL AND failed_login_count >= ${config.LOCKOUT_THRESHOLD}
        THEN ${lockInterval(config)} ELSE locked_until END`,
    })
    .where('id', '=', attempt.user.id)
    .returning(sql<Date | null>`CASE WHEN locked_until > now() THEN locked_until END`.as('lockedUntil'))
    .executeTakeFirst();
  return row?.lockedUntil ? accountLocked(row.lockedUntil) : error;
}

/**
 * A signed-in user proves the password again (two-factor setup and disable): the same slots as sign-in,
 * so a stolen access token gives no more guesses than the sign-in form. The caller settles the claim.
 */
export async function claimWithPassword(
  db: DbOrTrx,
  config: LockoutConfig,
  userId: string,
  password: string,
  observe?: ObserveAttempt,
): Promise<ClaimedAttempt> {
  const attempt = await claimAttempt(db, config, { id: userId });
  if (attempt.kind === 'unknown') {
    observe?.('unknown_account');
    throw invalidCredentials();
  }
  if (attempt.kind === 'locked') {
    observe?.('locked');
    throw accountLocked(attempt.lockedUntil);
  }
  if (!(await verifyPassword(attempt.user.passwordHash, password))) {
    observe?.('wrong_password');
    throw await attemptFailed(db, config, attempt, invalidCredentials());
  }
  return attempt;
}
