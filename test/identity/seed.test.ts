import t from 'tap';
import { createUser } from '../support/fixtures.js';
import { identityStack, loginAs } from './helpers.js';

t.test('seed: the admin from ADMIN_EMAIL/ADMIN_PASSWORD, verified, idempotently; a dev default otherwise', async (t) => {
  const { seedAdmin, DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD } = await import('../../shared/auth/seed.js');
  const { runSeed, steps } = await import('../../scripts/seed.js');
  const { app, db, config } = await identityStack(t, { ADMIN_EMAIL: 'Root@Example.com', ADMIN_PASSWORD: 'seeded admin passphrase 1' }, { worker: false });
  const messages: string[] = [];
  t.ok(steps.some((s) => s.run === seedAdmin), 'registered in npm run seed');
  for (let i = 0; i < 2; i++) await runSeed({ db, config, log: (m) => messages.push(m), args: [] }, [{ name: 'admin user', run: seedAdmin }]);
  const admins = await db.selectFrom('users').selectAll().where('role', '=', 'admin').execute();
  t.equal(admins.length, 1, 'one admin after two runs');
  t.equal(admins[0]?.email, 'root@example.com');
  t.ok(admins[0]?.emailVerifiedAt, 'verified');
  const login = await loginAs(app, 'root@example.com', 'seeded admin passphrase 1');
  t.equal(login.statusCode, 200);
  t.equal(login.json().user.role, 'admin');

  const log: string[] = [];
  await seedAdmin({ db, config: { ...config, ADMIN_EMAIL: undefined, ADMIN_PASSWORD: undefined }, log: (m) => log.push(m) });
  t.ok(log.some((m) => m.includes(DEV_ADMIN_PASSWORD)), 'the dev password is printed');
  t.equal((await loginAs(app, DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD)).statusCode, 200);
  await t.rejects(
    seedAdmin({ db, config: { ...config, NODE_ENV: 'production', ADMIN_EMAIL: undefined, ADMIN_PASSWORD: undefined }, log: () => {} }),
    /required in production/,
  );
});

t.test('seed never promotes an existing account nor re-enables a disabled admin: it says so and stops', async (t) => {
  const { seedAdmin } = await import('../../shared/auth/seed.js');
  const { runSeed } = await import('../../scripts/seed.js');
  const adminPassword = 'seeded admin passphrase 1';
  const { app, db, config } = await identityStack(t, { ADMIN_EMAIL: 'Owner@Example.com', ADMIN_PASSWORD: adminPassword }, { worker: false });
  // Someone registered the address before the first seed ran.
  const squatter = await createUser(db, { email: 'owner@example.com', password: 'squatter passphrase 77' });
  const log: string[] = [];
  const adminStep = [{ name: 'admin user', run: seedAdmin }];
  await t.rejects(runSeed({ db, config, log: (m) => log.push(m), args: [] }, adminStep), {
    message: /owner@example\.com.*customer.*never promotes/,
  });
  const row = await db.selectFrom('users').select(['role', 'disabledAt']).where('id', '=', squatter.id).executeTakeFirstOrThrow();
  t.equal(row.role, 'customer', 'not promoted');
  const asSquatter = await loginAs(app, 'owner@example.com', 'squatter passphrase 77');
  t.equal(asSquatter.json().user.role, 'customer');
  t.equal((await loginAs(app, 'owner@example.com', adminPassword)).statusCode, 401, 'the password was not replaced either');

  // A disabled admin stays disabled.
  await db.updateTable('users').set({ role: 'admin', disabledAt: new Date() }).where('id', '=', squatter.id).execute();
  await t.rejects(runSeed({ db, config, log: () => {}, args: [] }, adminStep), { message: /disabled.*never re-enables/ });
  const still = await db.selectFrom('users').select('disabledAt').where('id', '=', squatter.id).executeTakeFirstOrThrow();
  t.ok(still.disabledAt, 'still disabled');

  // `npm run dev` reports the refusal and goes on with the other steps; `npm run seed` exits non-zero.
  const warnings: string[] = [];
  const ran: string[] = [];
  await runSeed({ db, config, log: () => {}, args: [] }, [...adminStep, { name: 'after', run: async () => void ran.push('after') }], {
    onRefusal: (message) => warnings.push(message),
  });
  t.same(ran, ['after'], 'later steps still run in development');
  t.match(warnings.join('\n'), /never re-enables/);

  const { spawnSync } = await import('node:child_process');
  const { repoRoot } = await import('../../shared/config.js');
  const cli = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/seed.ts'], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, NODE_ENV: 'test', DATABASE_URL: config.DATABASE_URL, REDIS_URL: config.REDIS_URL, ADMIN_EMAIL: 'owner@example.com', ADMIN_PASSWORD: adminPassword },
    timeout: 60_000,
  });
  t.equal(cli.status, 1, 'npm run seed exits 1');
  t.match(cli.stderr, /never re-enables/, 'with the reason on stderr');
});
