/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import { generate } from 'otplib';
import { sql } from 'kysely';
import type pg from 'pg';
import t from 'tap';
import { buildApp } from '../../api/app.js';
import { LocalProfileCache } from '../../shared/auth/profile-cache.js';
import type { Config } from '../../shared/config.js';
import { tokenHash } from '../../shared/crypto.js';
import type { Db } from '../../shared/db/index.js';
import { createUser, PASSWORD } from '../support/fixtures.js';
import { buildTestApp, eventually, testEnv } from '../support/harness.js';
import { startApiProcess, timeUntil } from '../support/api-process.js';
import { bearer, loginAs } from './helpers.js';

/**
 * GET /me from each process's memory (shared/auth/profile-cache.ts, api/plugins/profile-cache.ts): never stale
 * on the process that wrote, fresh on the others (real operating-system processes sharing only PostgreSQL and
 * Redis) within 50 ms whoever wrote, revoked tokens still refused, and nothing served locally while the
 * LISTEN connection is down.
 */

t.setTimeout(300_000);
const WINDOW_MS = 50;
const LISTENER = 'agape-api-listener';

const localHits = async (host: string) => Number(/profile_cache_requests_total\{outcome="local"\} (\d+)/.exec(await (await fetch(`${host}/metrics`)).text())?.[1] ?? 0);

async function terminateListener(db: Db, config: Config) {
  const dbName = new URL(config.DATABASE_URL).pathname.slice(1);
  await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${dbName} AND application_name = ${LISTENER}`.execute(db);
}

t.test('two API processes: a write on one is never stale there and seen by the other within 50 ms', async (t) => {
  const { config, db } = await testEnv(t);
  const signer = await buildApp(config);
  t.teardown(() => signer.close());
  const user = await createUser(db, { name: 'Ngozi Eze' });
  const auth = { authorization: `Bearer ${signer.signAccessToken({ id: user.id, role: 'customer' })}`, 'content-type': 'application/json' };
  const [a, b] = await Promise.all([startApiProcess(t, config), startApiProcess(t, config)]);
  const me = async (host: string) => {
    const res = await fetch(`${host}/api/v1/me`, { headers: auth });
    t.equal(res.status, 200);
    return (await res.json()) as any;
  };

  // The bytes kept are exactly what the schema serialized: the same answer, field for field, as a miss gives.
  const first = await me(b);
  const before = await localHits(b);
  const second = await me(b);
  t.same(second, first, 'a local answer is the answer');
  t.same(Object.keys(second), Object.keys(first), 'in the same field order');
  t.equal((await fetch(`${b}/api/v1/me`, { headers: auth })).headers.get('content-type'), 'application/json; charset=utf-8');
  t.ok((await localHits(b)) - before >= 2, 'B answers from its own memory');

  const lags: number[] = [];
  for (let round = 1; round <= 8; round++) {
    const writer = round % 2 ? a : b;
    const other = round % 2 ? b : a;
    const name = `Ngozi Eze ${round}`;
    // Both processes hold the old answer right before the write.
    await me(writer);
    await me(other);
    const res = await fetch(`${writer}/api/v1/me`, { method: 'PATCH', headers: auth, body: JSON.stringify({ name }) });
    t.equal(res.status, 200);
    t.equal((await me(writer)).name, name, `round ${round}: the writer is fresh at once`);
    lags.push(await timeUntil(async () => (await me(other)).name === name));
  }
  t.ok(Math.max(...lags) < WINDOW_MS, `the other process is fresh within ${WINDOW_MS} ms (lags ${lags.map((l) => l.toFixed(1)).join(', ')} ms)`);

  // Writes by anyone else, straight in SQL (another domain, an admin script): both hear the trigger's notification.
  const changes: Array<[string, (u: any) => boolean, () => Promise<unknown>]> = [
    ['phone', (u) => u.phone === '+2348031234567', () => db.updateTable('users').set({ phone: '+2348031234567' }).where('id', '=', user.id).execute()],
    ['role', (u) => u.role === 'support', () => db.updateTable('users').set({ role: 'support' }).where('id', '=', user.id).execute()],
    ['2FA', (u) => u.twoFactorEnabled === true, () => db.updateTable('users').set({ totpEnabledAt: new Date() }).where('id', '=', user.id).execute()],
    ['email verification', (u) => u.emailVerified === false, () => db.updateTable('users').set({ emailVerifiedAt: null }).where('id', '=', user.id).execute()],
  ];
  for (const [what, seen, write] of changes) {
    await me(a);
    await me(b);
    await write();
    const hostLags = await Promise.all([a, b].map((host) => timeUntil(async () => seen(await me(host)))));
    t.ok(Math.max(...hostLags) < WINDOW_MS, `${what} changed in SQL reaches both within ${WINDOW_MS} ms (${hostLags.map((l) => l.toFixed(1)).join(', ')} ms)`);
  }

  // A deleted account: neither keeps answering for it.
  await me(a);
  await me(b);
  await db.deleteFrom('users').where('id', '=', user.id).execute();
  for (const host of [a, b]) {
    t.equal(await timeUntil(async () => (await fetch(`${host}/api/v1/me`, { headers: auth })).status === 404) < WINDOW_MS, true, 'a deleted user is 404 at once');
  }
});

t.test('the writing process drops its own answers before it replies, notification or not', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const user = await createUser(db, { name: 'Chidi Okafor', verified: false });
  const auth = bearer(app.signAccessToken({ id: user.id, role: 'customer' }));
  const me = async () => (await app.inject({ method: 'GET', url: '/api/v1/me', headers: auth })).json();
  t.equal((await me()).name, 'Chidi Okafor');
  t.ok(app.profileCache.local.get(user.id), 'kept');

  // Hold every notification: a listening session in a transaction gets them only once it ends.
  const listener = (app.dbListener as unknown as { client: pg.Client }).client;
  await listener.query('BEGIN');
  let held = true;
  t.teardown(() => (held ? listener.query('COMMIT').then(() => undefined) : undefined));

  // Another process's write is not heard while held: this proves the hold (the local level is still on).
  await db.updateTable('users').set({ phone: '+2348030000001' }).where('id', '=', user.id).execute();
  await new Promise((r) => setTimeout(r, 100));
  t.equal((await me()).phone, null, 'with notifications held, another writer is not heard yet (the hold works)');

  // This process's own writes: PATCH /me (the caller), verify-email (the user in the answer).
  const patched = await app.inject({ method: 'PATCH', url: '/api/v1/me', headers: auth, payload: { name: 'Chidi O.' } });
  t.equal(patched.statusCode, 200);
  t.equal((await me()).name, 'Chidi O.', 'PATCH /me then GET /me on the same process: the new name');
  t.equal((await me()).phone, '+2348030000001', 'and the reload saw everything committed');
  const raw = `verify-${Date.now()}`;
  await db
    .insertInto('userTokens')
    .values({ userId: user.id, purpose: 'verify_email', tokenHash: tokenHash(raw), expiresAt: new Date(Date.now() + 3_600_000) })
    .execute();
  t.equal((await me()).emailVerified, false);
  const verified = await app.inject({ method: 'POST', url: '/api/v1/auth/verify-email', payload: { token: raw } });
  t.equal(verified.statusCode, 200, verified.body);
  t.equal((await me()).emailVerified, true, 'verify-email then GET /me: verified');

  // 2FA on (an answer without the user) and off (an empty 204): the caller's answer goes too.
  const setup = await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/setup', headers: auth, payload: { password: PASSWORD } });
  t.equal(setup.statusCode, 200, setup.body);
  t.equal((await me()).twoFactorEnabled, false);
  const enable = await app.inject({ method: 'POST', url: '/api/v1/auth/2fa/enable', headers: auth, payload: { code: await generate({ secret: setup.json().secret }) } });
  t.equal(enable.statusCode, 200, enable.body);
  t.equal((await me()).twoFactorEnabled, true, '2FA enabled then GET /me: on');
  const disable = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/2fa/disable',
    headers: auth,
    payload: { code: enable.json().recoveryCodes[0], password: PASSWORD },
  });
  t.equal(disable.statusCode, 204, disable.body);
  t.equal((await me()).twoFactorEnabled, false, '2FA disabled (204) then GET /me: off');

  await listener.query('COMMIT');
  held = false;
  await db.updateTable('users').set({ phone: '+2348030000002' }).where('id', '=', user.id).execute();
  await eventually(async () => (await me()).phone === '+2348030000002', { timeoutMs: 2_000, intervalMs: 5 });
  t.pass('notifications flow again once released');
});

t.test('a revoked token is refused with the answer warm; the local level is off while the listener is down', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const user = await createUser(db, { name: 'Amaka Obi' });
  const login = (await loginAs(app, user.email)).json();
  const me = (token: string) => app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(token) });
  t.equal((await me(login.accessToken)).statusCode, 200);
  t.equal((await me(login.accessToken)).statusCode, 200);
  t.ok(app.profileCache.local.get(user.id), 'warm');
  const out = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(login.accessToken), payload: { refreshToken: login.refreshToken } });
  t.ok(out.statusCode < 300, out.body);
  t.equal((await me(login.accessToken)).statusCode, 401, 'the logged-out token is refused though its answer may be in memory');

  // Another session of the same user, disabled by staff: refused too.
  const again = (await loginAs(app, user.email)).json();
  t.equal((await me(again.accessToken)).statusCode, 200);
  const admin = await createUser(db, { role: 'admin' });
  const adminAuth = bearer(app.signAccessToken({ id: admin.id, role: 'admin' }));
  const disabled = await app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${user.id}`, headers: adminAuth, payload: { disabled: true } });
  t.equal(disabled.statusCode, 200, disabled.body);
  t.equal((await me(again.accessToken)).statusCode, 401, 'a disabled account is refused');
  await app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${user.id}`, headers: adminAuth, payload: { disabled: false } });

  // The listener goes down: nothing is served or kept locally until it is back, and what changed meanwhile is seen.
  const fresh = (await loginAs(app, user.email)).json().accessToken as string;
  t.equal((await me(fresh)).statusCode, 200);
  t.ok(app.profileCache.local.get(user.id));
  await terminateListener(db, config);
  await eventually(() => !app.profileCache.local.isLive, { timeoutMs: 5_000, intervalMs: 5 });
  t.equal(app.profileCache.local.size, 0, 'everything dropped');
  await db.updateTable('users').set({ name: 'Amaka O.' }).where('id', '=', user.id).execute();
  t.equal((await me(fresh)).json().name, 'Amaka O.', 'answered from the database while down');
  t.equal(app.profileCache.local.size, 0, 'and not kept');
  await eventually(() => app.profileCache.local.isLive, { timeoutMs: 10_000 });
  t.equal((await me(fresh)).json().name, 'Amaka O.');
  t.ok(app.profileCache.local.get(user.id), 'kept again once the listener is back');
});

t.test('LocalProfileCache: a load that started before a change is never kept; bounded', async (t) => {
  const cache = new LocalProfileCache(100, 1_000_000);
  const body = (s: string) => Buffer.from(s);
  cache.set('u', body('{}'), cache.mark());
  t.equal(cache.get('u'), undefined, 'nothing kept until live');
  cache.setLive(true);
  cache.set('u', body('{"a":1}'), cache.mark());
  t.equal(cache.get('u')?.toString(), '{"a":1}');
  let since = cache.mark();
  cache.changed('u');
  t.equal(cache.get('u'), undefined, 'a change drops it');
  cache.set('u', body('{"old":1}'), since);
  t.equal(cache.get('u'), undefined, 'a load from before the change is not kept');
  cache.set('v', body('{"v":1}'), since);
  t.ok(cache.get('v'), 'another user read at the same time is');
  since = cache.mark();
  cache.changedAll();
  cache.set('v', body('{"v":0}'), since);
  t.equal(cache.get('v'), undefined, 'nor after a drop of everything');
  for (let i = 0; i < 150; i++) cache.set(`n${i}`, body(`{"n":${i}}`), cache.mark());
  t.ok(cache.size <= 100);
  t.equal(cache.get('n0'), undefined, 'the oldest go first');
  t.ok(cache.get('n149'));
  cache.setLive(false);
  t.equal(cache.get('n149'), undefined);
  cache.setLive(true);
  t.equal(cache.get('n149'), undefined, 'going off forgets everything');
});
