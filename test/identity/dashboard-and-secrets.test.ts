import { generate } from 'otplib';
import t from 'tap';
import { tokenHash } from '../../shared/crypto.js';
import { createUser, PASSWORD } from '../support/fixtures.js';
import { bearer, identityStack, loginAs, tokenOfLink } from './helpers.js';

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

t.test('queue dashboard sign-in: form, HttpOnly cookie, then /admin/queues loads', async (t) => {
  const { app, db } = await identityStack(t, {}, { worker: false });
  const admin = await createUser(db, { role: 'admin' });
  const manager = await createUser(db, { role: 'manager' });

  const redirect = await app.inject({ method: 'GET', url: '/admin/queues', headers: { accept: 'text/html' } });
  t.equal(redirect.statusCode, 302);
  t.equal(redirect.headers.location, '/admin/queues/login');
  const page = await app.inject({ method: 'GET', url: '/admin/queues/login' });
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /text\/html/);
  t.match(page.body, /<form method="post" action="\/admin\/queues\/login">/);

  const post = (fields: Record<string, string>) =>
    app.inject({
      method: 'POST',
      url: '/admin/queues/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: form(fields),
    });
  const wrong = await post({ email: admin.email, password: 'wrong password 1' });
  t.equal(wrong.statusCode, 401);
  t.match(wrong.body, /Email or password is wrong/);
  t.notOk(wrong.headers['set-cookie']);
  const notAdmin = await post({ email: manager.email, password: PASSWORD });
  t.equal(notAdmin.statusCode, 403);
  t.notOk(notAdmin.headers['set-cookie']);
  t.equal((await post({ email: admin.email })).statusCode, 400);

  const ok = await post({ email: admin.email.toUpperCase(), password: PASSWORD });
  t.equal(ok.statusCode, 303);
  t.equal(ok.headers.location, '/admin/queues/');
  const cookie = String(ok.headers['set-cookie']);
  t.match(cookie, /^agape_dashboard=/);
  t.match(cookie, /HttpOnly/);
  t.match(cookie, /SameSite=Strict/);
  t.match(cookie, /Path=\/admin\/queues/);
  t.match(cookie, /Max-Age=900/);
  const value = cookie.split(';')[0];

  const board = await app.inject({ method: 'GET', url: '/admin/queues/', headers: { cookie: value, accept: 'text/html' } });
  t.equal(board.statusCode, 200);
  t.match(board.body, /<html/i);
  const api = await app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { cookie: value } });
  t.equal(api.statusCode, 200);
  const forged = await app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { cookie: 'agape_dashboard=forged' } });
  t.ok([401, 403].includes(forged.statusCode), `a forged cookie is refused (${forged.statusCode})`);
});

t.test('no password, hash, token, token hash or TOTP secret in any response or log line', async (t) => {
  const { app, db, sink, logs } = await identityStack(t);
  const secrets: string[] = [PASSWORD];
  const reg = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: 'leak@example.com', password: PASSWORD, name: 'Leak' } });
  const bodies: string[] = [reg.body];
  const { accessToken, refreshToken } = reg.json();
  secrets.push(accessToken, refreshToken, tokenHash(refreshToken));
  const verifyMail = await sink.waitFor((m) => m.to.includes('leak@example.com') && /Confirm/.test(m.subject));
  const verifyToken = tokenOfLink(verifyMail.links.find((l) => l.includes('token='))!);
  secrets.push(verifyToken, tokenHash(verifyToken));
  bodies.push((await app.inject({ method: 'POST', url: '/api/v1/auth/verify-email', payload: { token: verifyToken } })).body);

  const setup = await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/setup', headers: bearer(accessToken), payload: { password: PASSWORD } });
  const { secret } = setup.json();
  secrets.push(secret);
  const enable = await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/enable', headers: bearer(accessToken), payload: { code: await generate({ secret }) } });
  const { recoveryCodes } = enable.json();
  secrets.push(...recoveryCodes);
  const login = await loginAs(app, 'leak@example.com', PASSWORD, { totp: recoveryCodes[0] });
  bodies.push(login.body, (await app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(accessToken) })).body);
  secrets.push(login.json().refreshToken, login.json().accessToken);
  bodies.push((await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: login.json().refreshToken } })).body);
  bodies.push((await loginAs(app, 'leak@example.com', 'wrong password 1')).body);

  await app.inject({ method: 'POST', url: '/api/v1/auth/password/forgot', payload: { email: 'leak@example.com' } });
  const resetMail = await sink.waitFor((m) => /Reset/.test(m.subject));
  const resetToken = tokenOfLink(resetMail.links.find((l) => l.includes('token='))!);
  secrets.push(resetToken, tokenHash(resetToken), 'another long passphrase 7');
  bodies.push((await app.inject({ method: 'POST', url: '/api/v1/auth/password/reset', payload: { token: resetToken, password: 'another long passphrase 7' } })).body);

  const user = await db.selectFrom('users').select(['passwordHash', 'totpSecretEnc']).where('email', '=', 'leak@example.com').executeTakeFirstOrThrow();
  secrets.push(user.passwordHash, user.totpSecretEnc!);
  await sink.waitFor((m) => /password was changed/.test(m.subject));

  const logText = logs.text();
  t.ok(logs.lines.length > 10, `captured ${logs.lines.length} log lines`);
  t.ok(logText.includes('"msg":"mail sent"'), 'worker lines are in the capture too');
  const responses = bodies.join('\n');
  for (const s of secrets) {
    t.notOk(logText.includes(s), `log free of ${s.slice(0, 6)}…`);
  }
  for (const s of secrets.filter((s) => s !== accessToken && s !== refreshToken && !s.startsWith('eyJ') && s !== login.json().refreshToken)) {
    t.notOk(responses.includes(s), `responses free of ${s.slice(0, 6)}…`);
  }
  t.notOk(/argon2|passwordHash|totpSecret/i.test(responses + logText), 'no hash or secret field names');
});
