import t from 'tap';
import { createUser, PASSWORD } from '../support/fixtures.js';
import { bearer, identityStack, loginAs, tokenOfLink } from './helpers.js';

t.test('5 failures in a row lock the account for 15 minutes; success resets the count; the lock expires', async (t) => {
  const { app, db } = await identityStack(t, {}, { worker: false });
  const user = await createUser(db);
  for (let i = 1; i <= 4; i++) t.equal((await loginAs(app, user.email, `wrong password ${i}`)).statusCode, 401, `failure ${i}`);
  t.equal((await loginAs(app, user.email)).statusCode, 200, 'a success after 4 failures');
  const row = await db.selectFrom('users').select('failedLoginCount').where('id', '=', user.id).executeTakeFirstOrThrow();
  t.equal(row.failedLoginCount, 0, 'success resets the count');

  for (let i = 1; i <= 4; i++) await loginAs(app, user.email, `wrong password ${i}`);
  const fifth = await loginAs(app, user.email, 'wrong password 5');
  t.equal(fifth.statusCode, 423, 'the fifth failure locks');
  t.equal(fifth.json().code, 'account_locked');
  const right = await loginAs(app, user.email);
  t.equal(right.statusCode, 423, 'locked even with the right password');
  const locked = await db.selectFrom('users').select('lockedUntil').where('id', '=', user.id).executeTakeFirstOrThrow();
  const minutes = (new Date(locked.lockedUntil!).getTime() - Date.now()) / 60_000;
  t.ok(minutes > 14 && minutes <= 15, `locked for 15 minutes (${minutes.toFixed(2)})`);

  // Time passes: move the lock into the past.
  await db.updateTable('users').set({ lockedUntil: new Date(Date.now() - 1000) }).where('id', '=', user.id).execute();
  t.equal((await loginAs(app, user.email)).statusCode, 200, 'the lock expired');
});

t.test('a short configured lockout expires by itself', async (t) => {
  const { app, db } = await identityStack(t, { LOCKOUT_THRESHOLD: '2', LOCKOUT_MINUTES: '0.01' }, { worker: false });
  const user = await createUser(db);
  await loginAs(app, user.email, 'wrong password 1');
  t.equal((await loginAs(app, user.email, 'wrong password 2')).statusCode, 423);
  await new Promise((r) => setTimeout(r, 700));
  t.equal((await loginAs(app, user.email)).statusCode, 200);
});

t.test('forgot → mail → reset: single use, 1 hour, revokes every session, lifts the lockout', async (t) => {
  const { app, db, sink } = await identityStack(t);
  const user = await createUser(db);
  const forgotUnknown = await app.inject({ method: 'POST', url: '/api/v1/auth/password/forgot', payload: { email: 'ghost@example.com' } });
  t.equal(forgotUnknown.statusCode, 202, 'no enumeration');
  const session = (await loginAs(app, user.email)).json();
  for (let i = 1; i <= 5; i++) await loginAs(app, user.email, `wrong password ${i}`);
  t.equal((await loginAs(app, user.email)).statusCode, 423);

  const forgot = await app.inject({ method: 'POST', url: '/api/v1/auth/password/forgot', payload: { email: user.email.toUpperCase() } });
  t.equal(forgot.statusCode, 202);
  const mail = await sink.waitFor((m) => m.to.includes(user.email) && /Reset/.test(m.subject));
  const link = mail.links.find((l) => l.startsWith('http://shop.test/reset-password?token='));
  t.ok(link, 'reset link on PUBLIC_URL');
  const token = tokenOfLink(link!);
  t.notOk(sink.messages.some((m) => m.to.includes('ghost@example.com')), 'no mail for an unknown address');

  const reset = (tok: string, password = 'a brand new passphrase 9') =>
    app.inject({ method: 'POST', url: '/api/v1/auth/password/reset', payload: { token: tok, password } });
  const weak = await reset(token, 'password123');
  t.equal(weak.statusCode, 400);
  t.equal(weak.json().code, 'weak_password');
  t.equal((await reset('wrong-token')).json().code, 'invalid_token');
  t.equal((await reset(token)).statusCode, 204, 'the weak attempt did not burn the link');
  const reused = await reset(token);
  t.equal(reused.statusCode, 400);
  t.equal(reused.json().code, 'invalid_token', 'single use');

  const refresh = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: session.refreshToken } });
  t.equal(refresh.statusCode, 401, 'sessions revoked');
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(session.accessToken) })).statusCode, 401, 'access tokens revoked');
  t.equal((await loginAs(app, user.email)).statusCode, 401, 'old password gone');
  t.equal((await loginAs(app, user.email, 'a brand new passphrase 9')).statusCode, 200, 'lockout lifted, new password works');
  await sink.waitFor((m) => m.to.includes(user.email) && /password was changed/.test(m.subject));

  // Expired link.
  await app.inject({ method: 'POST', url: '/api/v1/auth/password/forgot', payload: { email: user.email } });
  const second = await sink.waitFor((m) => m.to.includes(user.email) && /Reset/.test(m.subject) && m !== mail);
  await db.updateTable('userTokens').set({ expiresAt: new Date(Date.now() - 1000) }).where('usedAt', 'is', null).execute();
  const expired = await reset(tokenOfLink(second.links.find((l) => l.includes('token='))!));
  t.equal(expired.json().code, 'invalid_token', 'expired');
});

t.test('verification tokens: resend, expired, wrong', async (t) => {
  const { app, db, sink } = await identityStack(t);
  const reg = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: 'v@example.com', password: PASSWORD, name: 'V' } });
  const { accessToken } = reg.json();
  await sink.waitFor((m) => m.to.includes('v@example.com') && /Confirm/.test(m.subject));
  const resend = await app.inject({ method: 'POST', url: '/api/v1/auth/resend-verification', headers: bearer(accessToken) });
  t.equal(resend.statusCode, 202);
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/resend-verification' })).statusCode, 401);
  // Registration also sends the welcome mail (no link with a token): only the verification mails count here.
  const verifications = () => sink.messages.filter((m) => m.to.includes('v@example.com') && /Confirm/.test(m.subject));
  await sink.waitFor(() => verifications().length === 2);
  const links = verifications().map((m) => tokenOfLink(m.links.find((l) => l.includes('token='))!));
  const rows = await db.selectFrom('userTokens').select(['id', 'expiresAt', 'createdAt']).where('purpose', '=', 'verify_email').execute();
  for (const r of rows) {
    const hours = (new Date(r.expiresAt).getTime() - new Date(r.createdAt).getTime()) / 3_600_000;
    t.equal(Math.round(hours), 24, 'valid 24 hours');
  }
  await db.updateTable('userTokens').set({ expiresAt: new Date(Date.now() - 1000) }).where('purpose', '=', 'verify_email').execute();
  for (const token of links) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/auth/verify-email', payload: { token } });
    t.equal(res.json().code, 'invalid_token', 'expired');
  }
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/verify-email', payload: { token: 'x' } })).json().code, 'invalid_token');
});

t.test('forgot-password does the same work for known, unknown and disabled addresses; only the known one gets a mail', async (t) => {
  const { startSmtpSink } = await import('../support/smtp-sink.js');
  const { buildTestApp, logCapture, startTestWorker, testEnv } = await import('../support/harness.js');
  const sink = await startSmtpSink();
  t.teardown(() => sink.close());
  const { config, db } = await testEnv(t, { SMTP_URL: sink.url });
  let queries: string[] | undefined;
  const app = await buildTestApp(t, config, { logger: logCapture('warn').logger, onQuery: (q) => queries?.push(q) });
  const known = await createUser(db, { email: 'known@example.com' });
  const disabled = await createUser(db, { email: 'disabled@example.com' });
  await db.updateTable('users').set({ disabledAt: new Date() }).where('id', '=', disabled.id).execute();

  const forgot = async (email: string) => {
    queries = [];
    const res = await app.inject({ method: 'POST', url: '/api/v1/auth/password/forgot', payload: { email } });
    t.equal(res.statusCode, 202, email);
    const seen = queries;
    queries = undefined;
    return seen;
  };
  const forKnown = await forgot('Known@Example.com');
  const forUnknown = await forgot('ghost@example.com');
  const forDisabled = await forgot('disabled@example.com');
  t.ok(forKnown.length > 0, `${forKnown.length} statements`);
  t.same(forUnknown, forKnown, 'an unknown address runs exactly the statements a known one does');
  t.same(forDisabled, forKnown, 'so does a disabled account');
  t.notOk(forKnown.some((q) => /from "users"|user_tokens/i.test(q)), 'the request does not even look the account up');
  const outbox = await db.selectFrom('outbox').select(['name', 'payload']).execute();
  t.equal(outbox.length, 3, 'one job each');
  t.notOk(JSON.stringify(outbox).includes('known@example.com'), 'the address is sealed in the job payload');

  await startTestWorker(t, config, { queues: ['email'] });
  const mail = await sink.waitFor((m) => m.to.includes('known@example.com') && /Reset/.test(m.subject));
  t.ok(mail.links.some((l) => l.startsWith('http://shop.test/reset-password?token=')));
  await new Promise((r) => setTimeout(r, 500));
  t.same(sink.messages.map((m) => m.to).flat(), ['known@example.com'], 'nothing for the unknown or disabled address');
  const tokens = await db.selectFrom('userTokens').select('userId').where('purpose', '=', 'reset_password').execute();
  t.same(tokens.map((r) => r.userId), [known.id], 'one reset token, for the known account only');
});
