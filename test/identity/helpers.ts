import type { Test } from 'tap';
import { hashPassword } from '../../shared/auth/passwords.js';
import type { Role } from '../../shared/auth/permissions.js';
import type { Config } from '../../shared/config.js';
import type { Db } from '../../shared/db/index.js';
import { buildTestApp, logCapture, startTestWorker, testEnv } from '../support/harness.js';
import { startSmtpSink } from '../support/smtp-sink.js';

export const PASSWORD = 'correct horse battery staple 42';

let n = 0;
let defaultHash: Promise<string> | undefined;
/** Inserts an account directly (faster than the API and free of its rate limits). */
export async function createUser(db: Db, opts: { role?: Role; email?: string; password?: string; verified?: boolean } = {}) {
  const email = opts.email ?? `user${process.pid}-${n++}@example.com`;
  const user = await db
    .insertInto('users')
    .values({
      email,
      name: `Test ${opts.role ?? 'customer'}`,
      role: opts.role ?? 'customer',
      // One argon2 hash for every account with the default password keeps the files fast.
      passwordHash: await (opts.password ? hashPassword(opts.password) : (defaultHash ??= hashPassword(PASSWORD))),
      emailVerifiedAt: opts.verified === false ? null : new Date(),
    })
    .returning(['id', 'email', 'role'])
    .executeTakeFirstOrThrow();
  return { ...user, password: opts.password ?? PASSWORD };
}

/** An app + worker + SMTP sink with captured logs: the whole identity stack. */
export async function identityStack(t: Test, env: Record<string, string> = {}, opts: { worker?: boolean } = {}) {
  const sink = await startSmtpSink();
  t.teardown(() => sink.close());
  const { config, db } = await testEnv(t, { SMTP_URL: sink.url, ...env });
  const logs = logCapture('debug');
  const app = await buildTestApp(t, config, { logger: logs.logger });
  if (opts.worker !== false) await startTestWorker(t, config, { queues: ['email'], logger: logs.logger });
  return { app, db, config, sink, logs };
}

export type Stack = Awaited<ReturnType<typeof identityStack>>;

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export async function loginAs(app: Stack['app'], email: string, password = PASSWORD, extra: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password, ...extra } });
}

/** The token of a link in a mail (`...?token=`). */
export const tokenOfLink = (link: string) => new URL(link).searchParams.get('token') ?? '';

export type { Config };
