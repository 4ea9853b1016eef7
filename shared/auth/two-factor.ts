import { sql } from 'kysely';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import type { Db, DbOrTrx, Trx } from '../db/index.js';
import { BadRequestError, ConflictError, NotFoundError } from '../errors.js';
import { enqueueMail } from '../mail/enqueue.js';
import { attemptFailed, attemptSucceeded, claimWithPassword, releaseAttempt, type ObserveAttempt } from './lockout.js';
import { decrypt, encrypt, tokenHash } from '../crypto.js';

const RECOVERY_CODE_COUNT = 10;
/** Accept the previous and next 30-second step too (clock drift). */
const EPOCH_TOLERANCE_SECONDS = 30;

type Keys = Pick<Config, 'ENCRYPTION_KEY'>;
type LockoutConfig = Pick<Config, 'LOCKOUT_THRESHOLD' | 'LOCKOUT_MINUTES'>;

const invalidTotp = () => new BadRequestError('invalid_totp', 'The code is not valid');

const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
/** `xxxxx-xxxxx` from an unambiguous alphabet: about 49 bits each. */
function recoveryCode(): string {
  const bytes = randomBytes(10);
  const chars = [...bytes].map((b) => RECOVERY_ALPHABET[b % RECOVERY_ALPHABET.length]).join('');
  return `${chars.slice(0, 5)}-${chars.slice(5)}`;
}
const normalizeRecovery = (code: string) => code.toLowerCase().replace(/[^a-z0-9]/g, '');
const isTotpShape = (code: string) => /^\d{6}$/.test(code.trim());
/** otplib and its hash and base32 code, loaded on first use: most sign-ins never reach a TOTP step. */
const otp = () => import('otplib');

/**
 * Step 1: a fresh secret, kept encrypted as pending until a code proves the app has it. Needs the password
 * (an access token alone must not enrol a thief's authenticator); a wrong one counts towards the lockout.
 */
export async function setupTwoFactor(
  db: Db,
  config: Keys & LockoutConfig & Pick<Config, 'SHOP_NAME'>,
  userId: string,
  password: string,
  observe?: ObserveAttempt,
) {
  const attempt = await claimWithPassword(db, config, userId, password, observe);
  if (attempt.user.totpEnabledAt) {
    await releaseAttempt(db, attempt);
    throw new ConflictError('totp_already_enabled', 'Two-factor authentication is already on');
  }
  const { generateSecret, generateURI } = await otp();
  const secret = generateSecret();
  // Without 2FA the password is the whole credential: proving it starts the failure count again.
  await db
    .updateTable('users')
    .set({ totpPendingSecretEnc: encrypt(config.ENCRYPTION_KEY, secret), failedLoginCount: 0, lockedUntil: null })
    .where('id', '=', userId)
    .execute();
  observe?.('success');
  const otpauthUrl = generateURI({ issuer: config.SHOP_NAME, label: attempt.user.email, secret });
  // Loaded on first use: few requests ever set up two-factor, every API process would hold it.
  const { default: QRCode } = await import('qrcode');
  const qrCode = await QRCode.toDataURL(otpauthUrl, { type: 'image/png', margin: 1, width: 240 });
  return { secret, otpauthUrl, qrCode };
}

/**
 * Checks a TOTP code and records its time step in one conditional UPDATE: a code accepted once (or an
 * older one) cannot be used again, even by two requests racing.
 */
async function acceptTotp(db: DbOrTrx, userId: string, secret: string, code: string, lastStep: number | null) {
  if (!isTotpShape(code)) return false;
  const { verify } = await otp();
  const result = await verify({
    secret,
    token: code.trim(),
    epochTolerance: EPOCH_TOLERANCE_SECONDS,
    ...(lastStep != null ? { afterTimeStep: lastStep } : {}),
  }).catch(() => ({ valid: false as const }));
  if (!result.valid || !('timeStep' in result)) return false;
  const step = result.timeStep;
  const updated = await db
    .updateTable('users')
    .set({ totpLastStep: step })
    .where('id', '=', userId)
    .where((eb) => eb.or([eb('totpLastStep', 'is', null), eb('totpLastStep', '<', step)]))
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1;
}

/** Spends one recovery code (each works once). */
async function acceptRecoveryCode(db: DbOrTrx, userId: string, code: string) {
  const normalized = normalizeRecovery(code);
  if (normalized.length !== 10) return false;
  const used = await db
    .updateTable('recoveryCodes')
    .set({ usedAt: sql`now()` })
    .where('userId', '=', userId)
    .where('codeHash', '=', tokenHash(normalized))
    .where('usedAt', 'is', null)
    .executeTakeFirst();
  return Number(used.numUpdatedRows) === 1;
}

/** A second factor at login or for disabling: a TOTP code or an unused recovery code. */
export async function checkSecondFactor(
  db: DbOrTrx,
  config: Keys,
  user: { id: string; totpSecretEnc: string | null; totpLastStep: number | null },
  code: string,
): Promise<boolean> {
  if (!user.totpSecretEnc) return false;
  if (isTotpShape(code)) return acceptTotp(db, user.id, decrypt(config.ENCRYPTION_KEY, user.totpSecretEnc), code, user.totpLastStep);
  return acceptRecoveryCode(db, user.id, code);
}

/** Step 2: a code from the app turns 2FA on and yields the recovery codes, shown this once. */
export async function enableTwoFactor(db: Db, config: Keys, userId: string, code: string) {
  return db.transaction().execute(async (trx: Trx) => {
    const user = await trx
      .selectFrom('users')
      .select(['email', 'name', 'totpPendingSecretEnc', 'totpEnabledAt', 'totpLastStep'])
      .where('id', '=', userId)
      .forUpdate()
      .executeTakeFirst();
    if (!user) throw new NotFoundError('User');
    if (user.totpEnabledAt) throw new ConflictError('totp_already_enabled', 'Two-factor authentication is already on');
    if (!user.totpPendingSecretEnc) throw new BadRequestError('totp_not_set_up', 'Call /auth/2fa/setup first');
    const secret = decrypt(config.ENCRYPTION_KEY, user.totpPendingSecretEnc);
    if (!(await acceptTotp(trx, userId, secret, code, user.totpLastStep))) throw invalidTotp();
    await trx
      .updateTable('users')
      .set({ totpSecretEnc: user.totpPendingSecretEnc, totpPendingSecretEnc: null, totpEnabledAt: sql`now()` })
      .where('id', '=', userId)
      .execute();
    const recoveryCodes = Array.from({ length: RECOVERY_CODE_COUNT }, recoveryCode);
    await trx.deleteFrom('recoveryCodes').where('userId', '=', userId).execute();
    await trx
      .insertInto('recoveryCodes')
      .values(recoveryCodes.map((c) => ({ userId, codeHash: tokenHash(normalizeRecovery(c)) })))
      .execute();
    await enqueueMail(trx, config, 'two-factor-enabled', user.email, { name: user.name });
    return { recoveryCodes };
  });
}

/**
 * Turns 2FA off: the password and a current code (or a recovery code). Both count towards the lockout like
 * a sign-in, so a stolen access token gets no more guesses at either than the sign-in form.
 */
export async function disableTwoFactor(db: Db, config: Keys & LockoutConfig, userId: string, code: string, password: string, observe?: ObserveAttempt) {
  const attempt = await claimWithPassword(db, config, userId, password, observe);
  if (!attempt.user.totpEnabledAt) {
    await releaseAttempt(db, attempt);
    throw new ConflictError('totp_not_enabled', 'Two-factor authentication is not on');
  }
  const wrongCode = await db.transaction().execute(async (trx) => {
    const user = await trx
      .selectFrom('users')
      .select(['id', 'totpSecretEnc', 'totpLastStep', 'totpEnabledAt'])
      .where('id', '=', userId)
      .forUpdate()
      .executeTakeFirst();
    if (!user) throw new NotFoundError('User');
    if (!user.totpEnabledAt) throw new ConflictError('totp_not_enabled', 'Two-factor authentication is not on');
    // The claim was committed before this transaction: a wrong code stays counted.
    if (!(await checkSecondFactor(trx, config, user, code))) return true;
    await trx
      .updateTable('users')
      .set({ totpSecretEnc: null, totpPendingSecretEnc: null, totpEnabledAt: null, totpLastStep: null })
      .where('id', '=', userId)
      .execute();
    await trx.deleteFrom('recoveryCodes').where('userId', '=', userId).execute();
    await attemptSucceeded(trx, userId);
    return false;
  });
  if (wrongCode) {
    observe?.('wrong_code');
    throw await attemptFailed(db, config, attempt, invalidTotp());
  }
  observe?.('success');
}
