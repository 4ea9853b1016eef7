import { generate } from 'otplib';
import t from 'tap';
import { createUser, PASSWORD } from '../support/fixtures.js';
import { bearer, identityStack, loginAs } from './helpers.js';

const codeAt = (secret: string, offsetSteps = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSteps * 30 });

t.test('2FA: setup, enable with recovery codes, login with code, replay refused, recovery codes once, disable', async (t) => {
  const { app, db, sink, config } = await identityStack(t);
  const user = await createUser(db);
  const { accessToken } = (await loginAs(app, user.email)).json();
  const auth = bearer(accessToken);

  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/setup', payload: { password: PASSWORD } })).statusCode, 401);
  const notSetUp = await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/enable', headers: auth, payload: { code: '123456' } });
  t.equal(notSetUp.statusCode, 400);

  const setup = await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/setup', headers: auth, payload: { password: PASSWORD } });
  t.equal(setup.statusCode, 200, setup.body);
  const { secret, otpauthUrl, qrCode } = setup.json();
  t.match(otpauthUrl, /^otpauth:\/\/totp\//);
  t.ok(otpauthUrl.includes(`secret=${secret}`));
  t.match(qrCode, /^data:image\/png;base64,/);
  const png = Buffer.from(qrCode.split(',')[1], 'base64');
  t.equal(png.subarray(1, 4).toString(), 'PNG');
  const row = await db.selectFrom('users').select(['totpPendingSecretEnc', 'totpSecretEnc']).where('id', '=', user.id).executeTakeFirstOrThrow();
  t.ok(row.totpPendingSecretEnc && !row.totpPendingSecretEnc.includes(secret), 'stored encrypted');

  const wrong = await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/enable', headers: auth, payload: { code: '000000' } });
  t.equal(wrong.statusCode, 400);
  t.equal(wrong.json().code, 'invalid_totp');
  const enable = await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/enable', headers: auth, payload: { code: await codeAt(secret) } });
  t.equal(enable.statusCode, 200, enable.body);
  const { recoveryCodes } = enable.json();
  t.equal(recoveryCodes.length, 10);
  t.equal(new Set(recoveryCodes).size, 10);
  const stored = await db.selectFrom('recoveryCodes').select('codeHash').where('userId', '=', user.id).execute();
  t.equal(stored.length, 10);
  t.notOk(stored.some((r) => recoveryCodes.includes(r.codeHash)), 'recovery codes stored hashed');
  await sink.waitFor((m) => m.to.includes(user.email) && /Two-factor/.test(m.subject));
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/me', headers: auth })).json().twoFactorEnabled, true);
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/setup', headers: auth, payload: { password: PASSWORD } })).statusCode, 409);

  const noCode = await loginAs(app, user.email);
  t.equal(noCode.statusCode, 401);
  t.equal(noCode.json().code, 'totp_required');
  const badCode = await loginAs(app, user.email, undefined, { totp: '000000' });
  t.equal(badCode.json().code, 'invalid_totp');

  // The enable code's step is spent: use the next step (within the ±1 step tolerance).
  const next = await codeAt(secret, 1);
  const ok = await loginAs(app, user.email, undefined, { totp: next });
  t.equal(ok.statusCode, 200, ok.body);
  const replay = await loginAs(app, user.email, undefined, { totp: next });
  t.equal(replay.statusCode, 401);
  t.equal(replay.json().code, 'invalid_totp', 'an accepted code cannot be replayed');
  const older = await loginAs(app, user.email, undefined, { totp: await codeAt(secret) });
  t.equal(older.json().code, 'invalid_totp', 'nor an older one');

  const recovery = await loginAs(app, user.email, undefined, { totp: recoveryCodes[0].toUpperCase() });
  t.equal(recovery.statusCode, 200, 'a recovery code works in place of a code');
  const recoveryAgain = await loginAs(app, user.email, undefined, { totp: recoveryCodes[0] });
  t.equal(recoveryAgain.json().code, 'invalid_totp', 'once');

  const disableWrong = await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/disable', headers: auth, payload: { code: '111111', password: PASSWORD } });
  t.equal(disableWrong.statusCode, 400);
  t.equal(disableWrong.json().code, 'invalid_totp');
  const disable = await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/disable', headers: auth, payload: { code: recoveryCodes[1], password: PASSWORD } });
  t.equal(disable.statusCode, 204);
  t.equal((await loginAs(app, user.email)).statusCode, 200, 'no code needed any more');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/disable', headers: auth, payload: { code: '111111', password: PASSWORD } })).statusCode, 409);
  t.ok(config);
});

t.test('wrong codes count toward the lockout', async (t) => {
  const { app, db } = await identityStack(t, {}, { worker: false });
  const user = await createUser(db);
  const { accessToken } = (await loginAs(app, user.email)).json();
  const { secret } = (await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/setup', headers: bearer(accessToken), payload: { password: PASSWORD } })).json();
  await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/enable', headers: bearer(accessToken), payload: { code: await codeAt(secret) } });
  for (let i = 0; i < 4; i++) t.equal((await loginAs(app, user.email, undefined, { totp: '000000' })).json().code, 'invalid_totp');
  t.equal((await loginAs(app, user.email, undefined, { totp: '000000' })).statusCode, 423);
  t.equal((await loginAs(app, user.email, undefined, { totp: await codeAt(secret, 1) })).statusCode, 423, 'locked even with a right code');
});

t.test('2FA setup and disable need the password; wrong passwords and codes count towards the lockout; disable is rate-limited', async (t) => {
  const { app, db } = await identityStack(t, {}, { worker: false });
  const post = (url: string, token: string, payload?: object) =>
    app.inject({ method: 'POST', url: `/api/v1/auth/2fa/${url}`, headers: bearer(token), ...(payload ? { payload } : {}) });

  // A stolen access token alone cannot enrol the thief's authenticator.
  const victim = await createUser(db);
  const stolen = (await loginAs(app, victim.email)).json().accessToken;
  const bare = await post('setup', stolen);
  t.equal(bare.statusCode, 400, 'setup without a password is refused');
  const guesses = [];
  for (let i = 0; i < 4; i++) guesses.push(await post('setup', stolen, { password: `guess number ${i}` }));
  t.same(guesses.map((r) => r.statusCode), [401, 401, 401, 401]);
  t.ok(guesses.every((r) => r.json().code === 'invalid_credentials'));
  const fifth = await post('setup', stolen, { password: 'guess number 5' });
  t.equal(fifth.statusCode, 423, 'the fifth wrong password locks the account');
  t.equal(fifth.json().code, 'account_locked');
  t.equal((await loginAs(app, victim.email)).statusCode, 423, 'sign-in is locked too');
  t.equal((await post('setup', stolen, { password: PASSWORD })).statusCode, 423, 'setup is locked, even with the right password');
  const row = await db.selectFrom('users').select('totpPendingSecretEnc').where('id', '=', victim.id).executeTakeFirstOrThrow();
  t.equal(row.totpPendingSecretEnc, null, 'no secret was ever stored for the thief');

  // Disable: both the password and the code count; the route is rate-limited per account.
  const user = await createUser(db);
  const token = (await loginAs(app, user.email)).json().accessToken;
  const { secret } = (await post('setup', token, { password: PASSWORD })).json();
  t.equal((await post('enable', token, { code: await codeAt(secret) })).statusCode, 200);
  t.equal((await post('disable', token, { code: '000000' })).statusCode, 400, 'the password is required');
  const wrongPassword = await post('disable', token, { code: await codeAt(secret, 1), password: 'not my password' });
  t.equal(wrongPassword.statusCode, 401);
  t.equal(wrongPassword.json().code, 'invalid_credentials');
  const wrongCode = await post('disable', token, { code: '000000', password: PASSWORD });
  t.equal(wrongCode.statusCode, 400);
  t.equal(wrongCode.json().code, 'invalid_totp');
  const counted = await db.selectFrom('users').select('failedLoginCount').where('id', '=', user.id).executeTakeFirstOrThrow();
  t.equal(counted.failedLoginCount, 2, 'a wrong password and a wrong code: two failures');
  for (let i = 0; i < 2; i++) await post('disable', token, { code: '000000', password: PASSWORD });
  const locking = await post('disable', token, { code: '000000', password: PASSWORD });
  t.equal(locking.statusCode, 423, 'the fifth failure locks');
  const statuses: number[] = [];
  for (let i = 0; i < 10; i++) statuses.push((await post('disable', token, { code: '000000', password: PASSWORD })).statusCode);
  t.ok(statuses.includes(429), `disable is rate-limited (${statuses.join(',')})`);
  const limited = await post('disable', token, { code: '000000', password: PASSWORD });
  t.equal(limited.statusCode, 429);
  t.equal(limited.json().code, 'rate_limited');
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After');
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(token) })).json().twoFactorEnabled, true, 'still on');
});
