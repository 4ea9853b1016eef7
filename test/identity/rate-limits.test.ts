import t from 'tap';
import { createUser } from '../support/fixtures.js';
import { identityStack, loginAs } from './helpers.js';

t.test('rate limits per address and per account answer 429 rate_limited with Retry-After', async (t) => {
  const { app, db } = await identityStack(t, {}, { worker: false });
  const user = await createUser(db, { email: 'limited@example.com' });
  let perAccount = await loginAs(app, user.email, 'wrong password');
  for (let i = 1; i < 21; i++) perAccount = await loginAs(app, user.email, `wrong password ${i}`);
  // Lockout (5) answers 423 first; the per-account limit still counts every attempt.
  t.equal(perAccount.statusCode, 429, 'the 21st attempt for one account in a minute');
  t.equal(perAccount.json().code, 'rate_limited');
  t.ok(Number(perAccount.headers['retry-after']) > 0, 'Retry-After');

  const fromOneAddress = (i: number) =>
    app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: '10.1.1.1', payload: { email: `someone${i}@example.com`, password: 'wrong password 1' } });
  let perIp = await fromOneAddress(0);
  for (let i = 1; i < 31; i++) perIp = await fromOneAddress(i);
  t.equal(perIp.statusCode, 429, 'the 31st login from one address in a minute');
  t.ok(Number(perIp.headers['retry-after']) > 0);
  const elsewhere = await app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: '10.9.8.7', payload: { email: 'x@example.com', password: 'wrong password 1' } });
  t.equal(elsewhere.statusCode, 401, 'another address is not limited');

  const forgotFrom = (i: number) =>
    app.inject({ method: 'POST', url: '/api/v1/auth/password/forgot', remoteAddress: `10.0.0.${i}`, payload: { email: 'a@example.com' } });
  let forgot = await forgotFrom(0);
  for (let i = 1; i < 6; i++) forgot = await forgotFrom(i);
  t.equal(forgot.statusCode, 429, 'forgot is limited per account across addresses');
});
