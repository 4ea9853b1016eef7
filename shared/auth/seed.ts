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
 * A seed step that will not do what the configuration asks because it would be unsafe; nothing was changed.
 * `npm run seed` stops with the message (exit 1); `npm run dev` reports it and goes on.
 */
export class SeedRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SeedRefusal';
  }
}

/**
 * Seed step: the first admin from ADMIN_EMAIL/ADMIN_PASSWORD, with a verified email. Idempotent: an
 * enabled admin with that address is left as it is. Any other account with that address is refused, never
 * changed: promoting it would hand the shop to whoever registered the address first (with their password),
 * and re-enabling a disabled admin would undo a decision staff made.
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
  assertPasswordPolicy(password, email);
  const created = await db
    .insertInto('users')
    .values({ email, name: 'Administrator', role: 'admin', passwordHash: await hashPassword(password), emailVerifiedAt: sql`now()` })
    .onConflict((oc) => oc.column('email').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (created) {
    log(`created admin ${email}`);
    return;
  }
  const existing = await db.selectFrom('users').select(['role', 'disabledAt']).where('email', '=', email).executeTakeFirstOrThrow();
  if (existing.role !== 'admin') {
    throw new SeedRefusal(
      `ADMIN_EMAIL ${email} belongs to an existing ${existing.role} account; the seed never promotes an existing account ` +
        '(it would hand the shop to whoever registered that address). Set ADMIN_EMAIL to an address without an account, ' +
        'or have an admin change its role (PATCH /api/v1/admin/users/:id).',
    );
  }
  if (existing.disabledAt) {
    throw new SeedRefusal(
      `ADMIN_EMAIL ${email} is a disabled admin account; the seed never re-enables an account. ` +
        'Another admin can enable it (PATCH /api/v1/admin/users/:id {"disabled": false}), or set ADMIN_EMAIL to another address.',
    );
  }
  log(`${email} is an admin already (password unchanged)`);
}
