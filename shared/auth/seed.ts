import { sql } from 'kysely';
import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import { assertEmail, assertPasswordPolicy, hashPassword, normalizeEmail } from './passwords.js';

/** Development only, when ADMIN_EMAIL/ADMIN_PASSWORD are unset (never in production). */
export const DEV_ADMIN_EMAIL = 'admin@agape.local';
export const DEV_ADMIN_PASSWORD = 'Agape development only 2026!';

interface SeedContext {
  db: Db;
  config: Config;
  log: (message: string) => void;
}

/**
 * Seed step: the first admin from ADMIN_EMAIL/ADMIN_PASSWORD, with a verified email. Idempotent: an
 * existing account keeps its password and is made a verified, enabled admin.
 */
export async function seedAdmin({ db, config, log }: SeedContext): Promise<void> {
  let email = config.ADMIN_EMAIL;
  let password = config.ADMIN_PASSWORD;
  if (!email || !password) {
    if (config.NODE_ENV === 'production') throw new Error('ADMIN_EMAIL and ADMIN_PASSWORD are required in production');
    email ??= DEV_ADMIN_EMAIL;
    password ??= DEV_ADMIN_PASSWORD;
    if (email === DEV_ADMIN_EMAIL && password === DEV_ADMIN_PASSWORD) {
      log(`development admin: ${DEV_ADMIN_EMAIL} / ${DEV_ADMIN_PASSWORD} (set ADMIN_EMAIL and ADMIN_PASSWORD to choose)`);
    }
  }
  email = normalizeEmail(email);
  assertEmail(email);
  const existing = await db.selectFrom('users').select(['id', 'role', 'emailVerifiedAt', 'disabledAt']).where('email', '=', email).executeTakeFirst();
  if (existing) {
    if (existing.role !== 'admin' || !existing.emailVerifiedAt || existing.disabledAt) {
      await db
        .updateTable('users')
        .set({ role: 'admin', emailVerifiedAt: sql`coalesce(email_verified_at, now())`, disabledAt: null })
        .where('id', '=', existing.id)
        .execute();
      log(`${email} exists: made a verified, enabled admin`);
    } else {
      log(`${email} exists already`);
    }
    return;
  }
  assertPasswordPolicy(password, email);
  await db
    .insertInto('users')
    .values({ email, name: 'Administrator', role: 'admin', passwordHash: await hashPassword(password), emailVerifiedAt: sql`now()` })
    .onConflict((oc) => oc.column('email').doNothing())
    .execute();
  log(`created admin ${email}`);
}
