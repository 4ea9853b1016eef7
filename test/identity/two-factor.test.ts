import { generate } from 'otplib';
import t from 'tap';
import { bearer, createUser, identityStack, loginAs } from './helpers.js';

const codeAt = (secret: string, offsetSteps = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSteps * 30 });

t.test('2FA: setup, enable with recovery codes, login with code, replay refused, recovery codes once, disable', async (t) => {
  const { app, db, sink, config } = await identityStack(t);
  const user = await createUser(db);
  const { accessToken } = (await loginAs(app, user.email)).json();
  const auth = bearer(accessToken);

  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/setup' })).statusCode, 401);
  const notSetUp = await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/enable', headers: auth, payload: { code: '123456' } });
  t.equal(notSetUp.statusCode, 400);

  const setup = await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/setup', headers: auth });
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
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/setup', headers: auth })).statusCode, 409);

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

  const disableWrong = await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/disable', headers: auth, payload: { code: '111111' } });
  t.equal(disableWrong.statusCode, 400);
  t.equal(disableWrong.json().code, 'invalid_totp');
  const disable = await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/disable', headers: auth, payload: { code: recoveryCodes[1] } });
  t.equal(disable.statusCode, 204);
  t.equal((await loginAs(app, user.email)).statusCode, 200, 'no code needed any more');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/disable', headers: auth, payload: { code: '111111' } })).statusCode, 409);
  t.ok(config);
});

t.test('wrong codes count toward the lockout', async (t) => {
  const { app, db } = await identityStack(t, {}, { worker: false });
  const user = await createUser(db);
  const { accessToken } = (await loginAs(app, user.email)).json();
  const { secret } = (await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/setup', headers: bearer(accessToken) })).json();
  await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/enable', headers: bearer(accessToken), payload: { code: await codeAt(secret) } });
  for (let i = 0; i < 4; i++) t.equal((await loginAs(app, user.email, undefined, { totp: '000000' })).json().code, 'invalid_totp');
  t.equal((await loginAs(app, user.email, undefined, { totp: '000000' })).statusCode, 423);
  t.equal((await loginAs(app, user.email, undefined, { totp: await codeAt(secret, 1) })).statusCode, 423, 'locked even with a right code');
});
