import t from 'tap';
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
