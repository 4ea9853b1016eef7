import t from 'tap';
import { createUser } from '../support/fixtures.js';
import { bearer, identityStack } from './helpers.js';

/**
 * An access token is verified once per token string and kept (api/plugins/auth.ts). The kept verification
 * must never outlive the token, stand in for a revocation check, or let a bad token through.
 */
t.test('verified tokens are kept per process: expiry, revocation and permissions still hold', async (t) => {
  const { app, db } = await identityStack(t, {}, { worker: false });
  const user = await createUser(db);
  const me = (token: string) => app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(token) });

  // Expiry: a token that was verified (and kept) stops at its exp.
  const short = app.jwt.sign({ sub: user.id, role: 'customer' }, { expiresIn: 2 });
  t.equal((await me(short)).statusCode, 200);
  t.equal((await me(short)).statusCode, 200, 'served from the kept verification');
  const exp = (JSON.parse(Buffer.from(short.split('.')[1] ?? '', 'base64url').toString()) as { exp: number }).exp;
  await new Promise((r) => setTimeout(r, Math.max(0, exp * 1000 - Date.now()) + 50));
  t.equal((await me(short)).statusCode, 401, 'an expired token is refused though it was verified before');

  // A tampered copy of a kept token is verified on its own (and refused).
  const token = app.signAccessToken({ id: user.id, role: 'customer' });
  t.equal((await me(token)).statusCode, 200);
  const [h, p, s] = token.split('.');
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), role: 'admin' })).toString('base64url')}.${s}`;
  t.equal((await me(forged)).statusCode, 401, 'a forged payload is not the kept token');
  const staffRoute = { method: 'GET' as const, url: '/api/v1/admin/users' };
  t.equal((await app.inject({ ...staffRoute, headers: bearer(token) })).statusCode, 403, 'a customer on a staff route');
  t.equal((await app.inject({ ...staffRoute, headers: bearer(token) })).statusCode, 403, 'still 403 from the kept verification');
  t.equal((await app.inject({ ...staffRoute, headers: bearer(forged) })).statusCode, 401);

  // Revocation is asked on every request, kept verification or not.
  await app.revocation.revoker.user(user.id, 1);
  t.equal((await me(token)).statusCode, 401, 'a revoked token stops at once');
});
