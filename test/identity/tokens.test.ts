import { generateKeyPairSync } from 'node:crypto';
import t from 'tap';
import { publicJwk } from '../../api/plugins/auth.js';
import { createUser } from '../support/fixtures.js';
import { jwt } from '../support/jwt.js';
import { bearer, identityStack, loginAs } from './helpers.js';

const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

t.test('the JWT attack set answers 401 unauthorized, never 500; a rotated-out key still verifies', async (t) => {
  const previous = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const previousPublic = previous.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const previousPrivate = previous.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const { app, db, config } = await identityStack(t, { JWT_PREVIOUS_PUBLIC_KEY: previousPublic }, { worker: false });
  const user = await createUser(db);
  const login = await loginAs(app, user.email);
  const good: string = login.json().accessToken;
  const [h, p, s] = good.split('.') as [string, string, string];
  const header = JSON.parse(Buffer.from(h, 'base64url').toString());
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
  t.equal(header.alg, 'RS256');
  t.equal(header.kid, publicJwk(config.JWT_PUBLIC_KEY).kid, 'kid of the current key');
  t.equal(payload.sub, user.id);
  t.equal(payload.role, 'customer');
  t.equal(payload.exp - payload.iat, 900, '15 minutes');

  const jwks = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
  t.equal(jwks.keys.length, 2, 'current and previous keys published');

  const me = (token: string) => app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(token) });
  t.equal((await me(good)).statusCode, 200);

  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const claims = { sub: user.id, role: 'admin', iat: now(), exp: now() + 600 };
  const attacks: Record<string, string> = {
    'alg none': jwt({ alg: 'none', typ: 'JWT', kid: header.kid }, claims),
    'HS256 signed with the public key': jwt({ alg: 'HS256', typ: 'JWT', kid: header.kid }, claims, config.JWT_PUBLIC_KEY),
    'tampered payload': `${h}.${b64({ ...payload, role: 'admin' })}.${s}`,
    expired: jwt(header, { ...payload, iat: now() - 3600, exp: now() - 1800 }, config.JWT_PRIVATE_KEY),
    'unknown kid': jwt({ ...header, kid: 'not-a-key' }, payload, config.JWT_PRIVATE_KEY),
    'no kid': jwt({ alg: 'RS256', typ: 'JWT' }, payload, config.JWT_PRIVATE_KEY),
    'foreign key under our kid': jwt(header, claims, other),
    garbage: 'not.a.jwt',
    'two parts': `${h}.${p}`,
  };
  for (const [name, token] of Object.entries(attacks)) {
    const res = await me(token);
    t.equal(res.statusCode, 401, name);
    t.equal(res.json().code, 'unauthorized', name);
  }
  for (const authorization of ['Bearer', 'Bearer ', 'Basic abc', 'bearer']) {
    t.equal((await app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization } })).statusCode, 401, authorization);
  }

  const rotated = jwt({ alg: 'RS256', typ: 'JWT', kid: publicJwk(previousPublic).kid }, { ...payload, iat: now(), exp: now() + 600 }, previousPrivate);
  t.equal((await me(rotated)).statusCode, 200, 'a token of the previous key is still accepted');
});

t.test('without a reuse grace: refresh tokens rotate; a spent one revokes the session; racing refreshes: exactly one wins', async (t) => {
  const { app, db } = await identityStack(t, { REFRESH_REUSE_GRACE_SECONDS: '0' }, { worker: false });
  const user = await createUser(db);
  const refresh = (refreshToken: string) => app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken } });

  const first = (await loginAs(app, user.email)).json().refreshToken;
  const second = (await refresh(first)).json().refreshToken;
  t.ok(second);
  const stored = await db.selectFrom('refreshTokens').select('tokenHash').execute();
  t.notOk(stored.some((r) => r.tokenHash === first || r.tokenHash === second), 'only hashes stored');

  const reuse = await refresh(first);
  t.equal(reuse.statusCode, 401);
  t.equal(reuse.json().code, 'invalid_token');
  const afterReuse = await refresh(second);
  t.equal(afterReuse.statusCode, 401, 'the whole session family is revoked');
  const session = await db.selectFrom('sessions').select(['revokedAt', 'revokedReason']).where('userId', '=', user.id).executeTakeFirstOrThrow();
  t.equal(session.revokedReason, 'refresh_token_reuse');

  t.equal((await refresh('never-issued')).statusCode, 401);

  // Race: the same token twice at once, several times.
  for (let round = 0; round < 5; round++) {
    const token = (await loginAs(app, user.email)).json().refreshToken;
    const results = await Promise.all([refresh(token), refresh(token), refresh(token)]);
    const ok = results.filter((r) => r.statusCode === 200);
    t.equal(ok.length, 1, `round ${round}: exactly one refresh succeeds`);
    t.ok(results.every((r) => r.statusCode === 200 || (r.statusCode === 401 && r.json().code === 'invalid_token')));
  }

  // Expired sessions cannot refresh.
  const late = (await loginAs(app, user.email)).json().refreshToken;
  await db.updateTable('sessions').set({ expiresAt: new Date(Date.now() - 1000) }).where('userId', '=', user.id).execute();
  t.equal((await refresh(late)).statusCode, 401);
});

t.test('disabling a user or changing the role stops refresh and the access tokens already issued', async (t) => {
  const { app, db } = await identityStack(t, {}, { worker: false });
  const admin = await createUser(db, { role: 'admin' });
  const user = await createUser(db);
  const adminToken = (await loginAs(app, admin.email)).json().accessToken;
  const signedIn = (await loginAs(app, user.email)).json();
  const patch = await app.inject({
    method: 'PATCH',
    url: `/api/v1/admin/users/${user.id}`,
    headers: bearer(adminToken),
    payload: { disabled: true },
  });
  t.equal(patch.statusCode, 200, patch.body);
  t.equal(patch.json().disabled, true);
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(signedIn.accessToken) })).statusCode, 401, 'access token refused');
  const refreshed = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: signedIn.refreshToken } });
  t.equal(refreshed.statusCode, 401);
  t.equal((await loginAs(app, user.email)).statusCode, 403);

  await app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${user.id}`, headers: bearer(adminToken), payload: { disabled: false } });
  const back = await loginAs(app, user.email);
  t.equal(back.statusCode, 200, 'enabled again');
  await app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${user.id}`, headers: bearer(adminToken), payload: { role: 'manager' } });
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(back.json().accessToken) })).statusCode, 401, 'old-role token refused');
  const renewed = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: back.json().refreshToken } });
  t.equal(renewed.statusCode, 200, 'refresh issues a token with the new role');
  const me = await app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(renewed.json().accessToken) });
  t.equal(me.json().role, 'manager');
});

t.test('reuse grace: two tabs refreshing at once both get the same new pair; after the grace, reuse revokes the family', async (t) => {
  const { app, db } = await identityStack(t, {}, { worker: false });
  const user = await createUser(db);
  const refresh = (refreshToken: string) => app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken } });
  const me = (token: string) => app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(token) });

  // Two tabs, one refresh token, at the same moment (several rounds: the race goes either way).
  for (let round = 0; round < 3; round++) {
    const { refreshToken } = (await loginAs(app, user.email)).json();
    const tabs = await Promise.all([refresh(refreshToken), refresh(refreshToken)]);
    t.same(tabs.map((r) => r.statusCode), [200, 200], `round ${round}: both tabs stay signed in`);
    t.same(tabs[0].json(), tabs[1].json(), 'the same new pair');
    const next = await refresh(tabs[0].json().refreshToken);
    t.equal(next.statusCode, 200, 'the shared new refresh token works');
    t.equal((await me(next.json().accessToken)).statusCode, 200);
  }

  // A late tab (within the grace) gets the pair the first one got.
  const login = (await loginAs(app, user.email)).json();
  const first = await refresh(login.refreshToken);
  const late = await refresh(login.refreshToken);
  t.equal(late.statusCode, 200);
  t.same(late.json(), first.json(), 'the same pair again');
  const sealed = await db.selectFrom('refreshTokens').select('successorEnc').where('successorEnc', 'is not', null).execute();
  t.ok(sealed.length > 0);
  const stored = JSON.stringify(sealed);
  t.notOk(stored.includes(first.json().refreshToken) || stored.includes(first.json().accessToken), 'no token stored in clear');

  // After the grace: the spent token is a leak; the whole family ends, access tokens included.
  const { tokenHash } = await import('../../shared/crypto.js');
  await db
    .updateTable('refreshTokens')
    .set({ spentAt: new Date(Date.now() - 11_000) })
    .where('tokenHash', '=', tokenHash(login.refreshToken))
    .execute();
  const reuse = await refresh(login.refreshToken);
  t.equal(reuse.statusCode, 401);
  t.equal(reuse.json().code, 'invalid_token');
  t.equal((await refresh(first.json().refreshToken)).statusCode, 401, 'the session family is revoked');
  t.equal((await me(first.json().accessToken)).statusCode, 401, 'and its access tokens stop at once');
  const session = await db
    .selectFrom('refreshTokens')
    .innerJoin('sessions', 'sessions.id', 'refreshTokens.sessionId')
    .select('sessions.revokedReason')
    .where('tokenHash', '=', tokenHash(login.refreshToken))
    .executeTakeFirstOrThrow();
  t.equal(session.revokedReason, 'refresh_token_reuse');
});
