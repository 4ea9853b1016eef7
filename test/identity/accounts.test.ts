import t from 'tap';
import { createUser, PASSWORD } from '../support/fixtures.js';
import { bearer, identityStack, loginAs, tokenOfLink } from './helpers.js';

t.test('register → verification mail → verify → me → login → refresh → sessions → logout', async (t) => {
  const { app, db, sink } = await identityStack(t);
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/register',
    payload: { email: '  Ada.Lovelace@Example.COM ', password: PASSWORD, name: 'Ada' },
  });
  t.equal(res.statusCode, 201, res.body);
  const body = res.json();
  t.equal(body.user.email, 'ada.lovelace@example.com', 'email trimmed and lower-cased');
  t.equal(body.user.emailVerified, false);
  t.equal(body.expiresIn, 900);
  t.type(body.accessToken, 'string');
  t.type(body.refreshToken, 'string');
  t.same(Object.keys(body.user).sort(), ['createdAt', 'email', 'emailVerified', 'id', 'name', 'phone', 'role', 'twoFactorEnabled']);

  const mail = await sink.waitFor((m) => m.to.includes('ada.lovelace@example.com') && /Confirm/.test(m.subject));
  const link = mail.links.find((l) => l.includes('/verify-email?token='));
  t.ok(link?.startsWith('http://shop.test/verify-email?token='), 'link built on PUBLIC_URL');
  const token = tokenOfLink(link!);
  t.equal(Buffer.from(token, 'base64url').length, 32, '32 random bytes');
  const stored = await db.selectFrom('userTokens').selectAll().where('userId', '=', body.user.id).executeTakeFirstOrThrow();
  t.not(stored.tokenHash, token, 'only a hash is stored');

  const verified = await app.inject({ method: 'POST', url: '/api/v1/auth/verify-email', payload: { token } });
  t.equal(verified.statusCode, 200, verified.body);
  t.equal(verified.json().user.emailVerified, true);
  const again = await app.inject({ method: 'POST', url: '/api/v1/auth/verify-email', payload: { token } });
  t.equal(again.statusCode, 400);
  t.equal(again.json().code, 'invalid_token', 'single use');

  const me = await app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(body.accessToken) });
  t.equal(me.statusCode, 200);
  t.equal(me.json().emailVerified, true);
  const patched = await app.inject({ method: 'PATCH', url: '/api/v1/me', headers: bearer(body.accessToken), payload: { name: 'Ada L.' } });
  t.equal(patched.json().name, 'Ada L.');
  const blank = await app.inject({ method: 'PATCH', url: '/api/v1/me', headers: bearer(body.accessToken), payload: { name: '   ' } });
  t.equal(blank.statusCode, 400);
  const extra = await app.inject({ method: 'PATCH', url: '/api/v1/me', headers: bearer(body.accessToken), payload: { role: 'admin' } });
  t.equal(extra.statusCode, 400, 'role cannot be patched by the owner');
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/me' })).statusCode, 401);

  const login = await loginAs(app, 'ADA.LOVELACE@example.com');
  t.equal(login.statusCode, 200, login.body);
  const { refreshToken } = login.json();

  const refreshed = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken } });
  t.equal(refreshed.statusCode, 200, refreshed.body);
  const pair = refreshed.json();
  t.not(pair.refreshToken, refreshToken, 'rotated');
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(pair.accessToken) })).statusCode, 200);

  const sessions = await app.inject({ method: 'GET', url: '/api/v1/auth/sessions', headers: bearer(pair.accessToken) });
  t.equal(sessions.statusCode, 200);
  t.equal(sessions.json().items.length, 2, 'the register session and the login session');
  const item = sessions.json().items[0];
  t.ok(item.device && item.ip && item.createdAt && item.lastUsedAt);

  const out = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', payload: { refreshToken: pair.refreshToken } });
  t.equal(out.statusCode, 204);
  const afterLogout = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: pair.refreshToken } });
  t.equal(afterLogout.statusCode, 401);
  t.equal(afterLogout.json().code, 'invalid_token');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/logout', payload: { refreshToken: 'nope' } })).statusCode, 204);

  t.equal((await app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(pair.accessToken) })).statusCode, 401, 'the logged-out session’s access token stops too');
  const left = await app.inject({ method: 'GET', url: '/api/v1/auth/sessions', headers: bearer(body.accessToken) });
  t.equal(left.json().items.length, 1);
  const del = await app.inject({ method: 'DELETE', url: `/api/v1/auth/sessions/${left.json().items[0].id}`, headers: bearer(body.accessToken) });
  t.equal(del.statusCode, 204);
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: body.refreshToken } })).statusCode, 401);
});

t.test('register refuses taken, weak, common and email-containing passwords and bad emails', async (t) => {
  const { app, db } = await identityStack(t, {}, { worker: false });
  await createUser(db, { email: 'taken@example.com' });
  const post = (payload: object) => app.inject({ method: 'POST', url: '/api/v1/auth/register', payload });
  const taken = await post({ email: 'TAKEN@example.com ', password: PASSWORD, name: 'X' });
  t.equal(taken.statusCode, 409);
  t.equal(taken.json().code, 'email_taken');
  for (const [password, why] of [
    ['short1234', 'too short'],
    ['x'.repeat(129), 'too long'],
    ['1234567890', 'common'],
    ['Password123', 'common, any case'],
    ['grace.hopper-rocks-2026', 'contains the local part'],
  ]) {
    const res = await post({ email: 'grace.hopper@example.com', password, name: 'Grace' });
    t.equal(res.statusCode, 400, why);
    t.equal(res.json().code, 'weak_password', why);
    t.equal(res.json().errors[0].path, '/password');
  }
  const bad = await post({ email: 'not-an-email', password: PASSWORD, name: 'X' });
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().errors[0].path, '/email');
  const missing = await post({ email: 'a@b.co' });
  t.equal(missing.statusCode, 400);
  t.equal(missing.json().code, 'validation_failed');
});

t.test('login errors: unknown email and wrong password look the same; disabled accounts cannot sign in', async (t) => {
  const { app, db } = await identityStack(t, {}, { worker: false });
  const user = await createUser(db);
  const unknown = await loginAs(app, 'nobody@example.com');
  const wrong = await loginAs(app, user.email, 'wrong password 123');
  t.equal(unknown.statusCode, 401);
  t.equal(wrong.statusCode, 401);
  t.equal(unknown.json().code, 'invalid_credentials');
  t.equal(wrong.json().code, 'invalid_credentials');
  t.equal(unknown.json().detail, wrong.json().detail);

  await db.updateTable('users').set({ disabledAt: new Date() }).where('id', '=', user.id).execute();
  const disabled = await loginAs(app, user.email);
  t.equal(disabled.statusCode, 403);
  t.equal(disabled.json().code, 'account_disabled');
});

t.test('an outdated password hash is upgraded at login', async (t) => {
  const { app, db } = await identityStack(t, {}, { worker: false });
  const { hash } = await import('@node-rs/argon2');
  const user = await createUser(db);
  const weak = await hash(PASSWORD, { algorithm: 2, memoryCost: 8192, timeCost: 1, parallelism: 1 });
  await db.updateTable('users').set({ passwordHash: weak }).where('id', '=', user.id).execute();
  t.equal((await loginAs(app, user.email)).statusCode, 200);
  const row = await db.selectFrom('users').select('passwordHash').where('id', '=', user.id).executeTakeFirstOrThrow();
  t.match(row.passwordHash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  t.equal((await loginAs(app, user.email)).statusCode, 200, 'the new hash verifies');
});
