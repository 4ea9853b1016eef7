import { sql } from 'kysely';
import t from 'tap';
import { createUser, PASSWORD } from '../support/fixtures.js';
import { identityStack, loginAs } from './helpers.js';

// The address-based and per-account rate limits would answer 429 long before 30 guesses: this file is
// about the lockout alone, so the test client is allow-listed.
const env = { RATE_LIMIT_ALLOWLIST: '127.0.0.1' };

t.test('30 parallel wrong logins: exactly LOCKOUT_THRESHOLD guesses are evaluated, then 423; the right password during the lock is 423 too', async (t) => {
  const { app, db } = await identityStack(t, env, { worker: false });
  const user = await createUser(db);
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) => loginAs(app, user.email, `wrong password ${i}`)));
  const statuses = results.map((r) => r.statusCode);
  const count = (status: number) => statuses.filter((s) => s === status).length;
  // An evaluated wrong guess answers 401 while the account is not locked yet, 423 once it is: how many of
  // the five see which depends on the order they finish in.
  t.equal(count(401) + count(423), 30, `only 401 and 423 (${statuses.join(',')})`);
  t.ok(count(401) <= 4, 'at most four evaluated guesses answered before the lock');
  t.ok(count(423) >= 26);
  t.ok(results.filter((r) => r.statusCode === 401).every((r) => r.json().code === 'invalid_credentials'));
  t.ok(results.filter((r) => r.statusCode === 423).every((r) => r.json().code === 'account_locked'));
  const row = await db.selectFrom('users').select(['failedLoginCount', 'lockedUntil']).where('id', '=', user.id).executeTakeFirstOrThrow();
  t.equal(row.failedLoginCount, 5, 'five failures counted, not one per request');
  t.ok(row.lockedUntil && new Date(row.lockedUntil) > new Date(), 'locked');
  // Counted where the password is checked: five evaluated, twenty-five refused without looking at it.
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /^auth_attempts_total\{outcome="wrong_password"\} 5$/m, 'exactly five passwords were verified');
  t.match(metrics, /^auth_attempts_total\{outcome="locked"\} 25$/m);

  const right = await loginAs(app, user.email, PASSWORD);
  t.equal(right.statusCode, 423, 'the right password during the lock is refused too');
  t.equal(right.json().code, 'account_locked');

  // A new window after the lock: again exactly five guesses.
  await db.updateTable('users').set({ lockedUntil: new Date(Date.now() - 1000) }).where('id', '=', user.id).execute();
  const again = await Promise.all(Array.from({ length: 12 }, (_, i) => loginAs(app, user.email, `wrong again ${i}`)));
  t.ok(again.every((r) => [401, 423].includes(r.statusCode)), 'only 401 and 423');
  const after = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(after, /^auth_attempts_total\{outcome="wrong_password"\} 10$/m, 'the next window evaluated five more, no more');
});

t.test('parallel guesses with the right password among them: the right one signs in, the count never exceeds the threshold', async (t) => {
  const { app, db } = await identityStack(t, env, { worker: false });
  const user = await createUser(db);
  const results = await Promise.all([
    ...Array.from({ length: 3 }, (_, i) => loginAs(app, user.email, `wrong password ${i}`)),
    loginAs(app, user.email, PASSWORD),
  ]);
  t.equal(results[3]?.statusCode, 200, 'a right password within the allowed guesses signs in');
  const row = await db.selectFrom('users').select(['failedLoginCount', 'lockedUntil']).where('id', '=', user.id).executeTakeFirstOrThrow();
  t.ok(row.failedLoginCount <= 3, `count ${row.failedLoginCount}`);
  t.equal(row.lockedUntil, null);
});

t.test('a burst of right passwords is not a lockout; slots left by a crashed process end in a lock, not a stuck account', async (t) => {
  const { app, db } = await identityStack(t, env, { worker: false });
  const user = await createUser(db);
  const burst = await Promise.all(Array.from({ length: 12 }, () => loginAs(app, user.email, PASSWORD)));
  t.same(burst.map((r) => r.statusCode), Array(12).fill(200), 'twelve parallel sign-ins with the right password all succeed');

  // Five claims that never settled (the process died mid-guess), long ago.
  await db.updateTable('users').set({ failedLoginCount: 5 }).where('id', '=', user.id).execute();
  await sql`ALTER TABLE users DISABLE TRIGGER users_updated_at`.execute(db);
  await sql`UPDATE users SET updated_at = now() - interval '1 minute' WHERE id = ${user.id}`.execute(db);
  await sql`ALTER TABLE users ENABLE TRIGGER users_updated_at`.execute(db);
  const res = await loginAs(app, user.email, PASSWORD);
  t.equal(res.statusCode, 423, 'counted as failures: locked for the window');
  await db.updateTable('users').set({ lockedUntil: new Date(Date.now() - 1000) }).where('id', '=', user.id).execute();
  t.equal((await loginAs(app, user.email, PASSWORD)).statusCode, 200, 'then a new window');
});
