import t, { type Test } from 'tap';
import { tokenHash } from '../../shared/crypto.js';
import { buildTestApp } from '../support/harness.js';
import { createUser, PASSWORD } from '../support/fixtures.js';
import { bearer, identityStack, loginAs } from './helpers.js';

const iatOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { iat: number }).iat;

/** Waits for the start of a wall-clock second, so what follows very likely happens within that second. */
async function startOfASecond() {
  await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
  return Math.floor(Date.now() / 1000);
}

/**
 * Runs `prepare`, then `attempt` at the start of a second, until the token `attempt` returns was signed in
 * that same second (the case the whole-second cut-off got wrong), at most ten times. Undefined (and a
 * failure) when the machine is too slow for that.
 */
async function inTheSameSecond(t: Test, prepare: () => Promise<void>, attempt: () => Promise<string>) {
  for (let i = 0; i < 10; i++) {
    await prepare();
    const second = await startOfASecond();
    const token = await attempt();
    if (iatOf(token) === second) return token;
  }
  t.fail('could not sign a token within the second of the change (machine too slow?)');
  return undefined;
}

t.test('a sign-in in the same second as a password reset gets a token that works at once; earlier tokens stop', async (t) => {
  const { app, db } = await identityStack(t, {}, { worker: false });
  const user = await createUser(db);
  const me = (token: string) => app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(token) });
  let before = '';
  let password = PASSWORD;
  let round = 0;
  let raw = '';
  const prepare = async () => {
    before = (await loginAs(app, user.email, password)).json().accessToken;
    // A reset link, issued directly (the mail round trip is another test's business).
    raw = `reset-token-${round++}-${Date.now()}`;
    await db
      .insertInto('userTokens')
      .values({ userId: user.id, purpose: 'reset_password', tokenHash: tokenHash(raw), expiresAt: new Date(Date.now() + 3_600_000) })
      .execute();
  };
  const fresh = await inTheSameSecond(t, prepare, async () => {
    password = `a brand new passphrase ${round}`;
    const reset = await app.inject({ method: 'POST', url: '/api/v1/auth/password/reset', payload: { token: raw, password } });
    t.equal(reset.statusCode, 204, reset.body);
    const login = await loginAs(app, user.email, password);
    t.equal(login.statusCode, 200, login.body);
    return login.json().accessToken as string;
  });
  if (!fresh) return;
  t.equal((await me(before)).statusCode, 401, 'a token from before the reset is refused');
  const res = await me(fresh);
  t.equal(res.statusCode, 200, 'the token signed in the same second as the reset works at once');
});

t.test('a role change: the old token stops, a refresh in the same second carries the new role and works at once', async (t) => {
  const { app, db } = await identityStack(t, {}, { worker: false });
  const admin = await createUser(db, { role: 'admin' });
  const user = await createUser(db);
  const adminToken = (await loginAs(app, admin.email)).json().accessToken;
  let refreshToken = (await loginAs(app, user.email)).json().refreshToken as string;
  let old = '';
  const roleOf = (n: number) => (n % 2 === 0 ? 'support' : 'manager');
  let round = 0;
  let refreshed = { accessToken: '', refreshToken: '' };
  const prepare = async () => {
    refreshed = (await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken } })).json();
    old = refreshed.accessToken;
  };
  const fresh = await inTheSameSecond(t, prepare, async () => {
    const role = roleOf(round++);
    const patch = await app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${user.id}`, headers: bearer(adminToken), payload: { role } });
    t.equal(patch.statusCode, 200, patch.body);
    const renewed = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: refreshed.refreshToken } });
    t.equal(renewed.statusCode, 200, renewed.body);
    refreshToken = renewed.json().refreshToken;
    return renewed.json().accessToken as string;
  });
  if (!fresh) return;
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(old) })).statusCode, 401, 'the old-role token is refused');
  const me = await app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(fresh) });
  t.equal(me.statusCode, 200, 'the new token works within the same second');
  t.equal(me.json().role, roleOf(round - 1));
});

t.test('revoking a session (or logging out) stops that session’s access tokens at once; other sessions keep working', async (t) => {
  const { app, db } = await identityStack(t, {}, { worker: false });
  const user = await createUser(db);
  const laptop = (await loginAs(app, user.email)).json();
  const phone = (await loginAs(app, user.email)).json();
  const me = (token: string) => app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(token) });
  t.equal((await me(laptop.accessToken)).statusCode, 200);
  const sessions = (await app.inject({ method: 'GET', url: '/api/v1/auth/sessions', headers: bearer(phone.accessToken) })).json().items as { id: string }[];
  const laptopSession = await db
    .selectFrom('refreshTokens')
    .select('sessionId')
    .where('tokenHash', '=', tokenHash(laptop.refreshToken))
    .executeTakeFirstOrThrow();
  t.ok(sessions.some((s) => s.id === laptopSession.sessionId));

  const del = await app.inject({ method: 'DELETE', url: `/api/v1/auth/sessions/${laptopSession.sessionId}`, headers: bearer(phone.accessToken) });
  t.equal(del.statusCode, 204);
  t.equal((await me(laptop.accessToken)).statusCode, 401, 'the revoked session’s access token is refused at once');
  t.equal((await me(phone.accessToken)).statusCode, 200, 'the other session is untouched');

  const out = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', payload: { refreshToken: phone.refreshToken } });
  t.equal(out.statusCode, 204);
  t.equal((await me(phone.accessToken)).statusCode, 401, 'logging out stops the access token too');
  const again = (await loginAs(app, user.email)).json();
  t.equal((await me(again.accessToken)).statusCode, 200, 'a new sign-in works at once');
});

t.test('a revocation on one replica reaches another at once (not after its cache expires)', async (t) => {
  const { app, db, config } = await identityStack(t, {}, { worker: false });
  const other = await buildTestApp(t, config);
  await Promise.all([app.revocation.ready, other.revocation.ready]);
  const user = await createUser(db);
  const laptop = (await loginAs(app, user.email)).json();
  const phone = (await loginAs(app, user.email)).json();
  const laptopSession = await db
    .selectFrom('refreshTokens')
    .select('sessionId')
    .where('tokenHash', '=', tokenHash(laptop.refreshToken))
    .executeTakeFirstOrThrow();
  const onOther = (token: string) => other.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(token) });
  t.equal((await onOther(laptop.accessToken)).statusCode, 200, 'the other replica has just seen (and cached) the token as good');

  const del = await app.inject({ method: 'DELETE', url: `/api/v1/auth/sessions/${laptopSession.sessionId}`, headers: bearer(phone.accessToken) });
  t.equal(del.statusCode, 204);
  // The per-process cache holds an answer for a second; the revocation must not wait for it.
  const started = Date.now();
  let status = 200;
  while (status === 200 && Date.now() - started < 500) {
    status = (await onOther(laptop.accessToken)).statusCode;
    if (status === 200) await new Promise((r) => setTimeout(r, 10));
  }
  t.equal(status, 401, `the other replica refuses the token (after ${Date.now() - started} ms)`);
  t.equal((await onOther(phone.accessToken)).statusCode, 200);
});

t.test('the queue dashboard refuses a token or cookie issued before a revocation', async (t) => {
  const { app, db } = await identityStack(t, {}, { worker: false });
  const root = await createUser(db, { role: 'admin' });
  const admin = await createUser(db, { role: 'admin' });
  const rootToken = (await loginAs(app, root.email)).json().accessToken;
  const bearerToken = (await loginAs(app, admin.email)).json().accessToken;
  const form = await app.inject({
    method: 'POST',
    url: '/admin/queues/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ email: admin.email, password: PASSWORD }).toString(),
  });
  t.equal(form.statusCode, 303);
  const cookie = String(form.headers['set-cookie']).split(';')[0];
  const board = (headers: Record<string, string>) => app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers });
  t.equal((await board({ cookie })).statusCode, 200);
  t.equal((await board(bearer(bearerToken))).statusCode, 200);

  const patch = await app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${admin.id}`, headers: bearer(rootToken), payload: { disabled: true } });
  t.equal(patch.statusCode, 200);
  // A token that is not (or no longer) an admin's answers 403, like a forged one (test/platform/operations.test.ts).
  t.equal((await board({ cookie })).statusCode, 403, 'the dashboard cookie of a disabled admin is refused');
  t.equal((await board(bearer(bearerToken))).statusCode, 403, 'so is the bearer token');
  const page = await app.inject({ method: 'GET', url: '/admin/queues/', headers: { cookie, accept: 'text/html' } });
  t.equal(page.statusCode, 302, 'the browser is sent to the sign-in form');
});
