import type { Test } from 'tap';
import type { Config } from '../../shared/config.js';
import { PASSWORD } from '../support/fixtures.js';
import { buildTestApp, logCapture, startTestWorker, testEnv } from '../support/harness.js';
import { startSmtpSink } from '../support/smtp-sink.js';

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
