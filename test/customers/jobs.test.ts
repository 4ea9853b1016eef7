import { sql } from 'kysely';
import t from 'tap';
import { enqueueMail } from '../../shared/mail/enqueue.js';
import { enqueue } from '../../shared/outbox.js';
import { CUSTOMERS_HOUSEKEEPING_SCHEDULER_ID, registerSchedules } from '../../worker/schedules.js';
import { createProduct, createUser, PASSWORD } from '../support/fixtures.js';
import { buildTestApp, eventually, startTestWorker, testEnv, tokenFor } from '../support/harness.js';

/** The customers queue's jobs run by the worker itself, fed through the outbox as in production. */
const { config, db } = await testEnv(t);
const app = await buildTestApp(t, config);
const worker = await startTestWorker(t, config, { queues: ['customers'] });

t.test('the hourly housekeeping is scheduled and sends a due reminder', async (t) => {
  await registerSchedules(worker.deps.queues, config, worker.deps.log);
  const scheduler = await worker.deps.queues.customers.getJobScheduler(CUSTOMERS_HOUSEKEEPING_SCHEDULER_ID);
  t.equal(scheduler?.pattern, '17 * * * *', 'hourly');
  await worker.deps.queues.customers.removeJobScheduler(CUSTOMERS_HOUSEKEEPING_SCHEDULER_ID);

  const user = await createUser(db);
  const { variants } = await createProduct(db);
  await sql`ALTER TABLE carts DISABLE TRIGGER carts_updated_at`.execute(db);
  const cart = await db.insertInto('carts').values({ userId: user.id, updatedAt: sql`now() - interval '2 days'` }).returning('id').executeTakeFirstOrThrow();
  await db.insertInto('cartItems').values({ cartId: cart.id, variantId: variants[0].id, quantity: 1, unitPrice: 100 }).execute();
  await db.transaction().execute((trx) => enqueue(trx, 'customers.housekeeping', {}));
  await eventually(async () => (await db.selectFrom('cartReminders').select('id').where('cartId', '=', cart.id).execute()).length === 1, { timeoutMs: 30_000 });
  t.pass('reminded by the job');
});

t.test('a data export requested over HTTP is built by the job', async (t) => {
  const user = await createUser(db);
  const res = await app.inject({ method: 'POST', url: '/api/v1/me/data-export', headers: { authorization: tokenFor(app, 'customer', user.id) } });
  t.equal(res.statusCode, 202);
  const id = res.json<{ id: string }>().id;
  const row = await eventually(async () => db.selectFrom('dataExports').selectAll().where('id', '=', id).where('readyAt', 'is not', null).executeTakeFirst(), { timeoutMs: 30_000 });
  t.ok(row?.storageKey?.startsWith(`exports/${user.id}/`), 'stored under exports/');
  t.ok(row && row.expiresAt!.getTime() - row.readyAt!.getTime() === 24 * 3600 * 1000, 'expires 24 h after it is ready');
});

t.test('after an erasure, mail already handed to BullMQ for the person is withdrawn unsent', async (t) => {
  const user = await createUser(db, { email: 'withdraw.me@example.test' });
  const mailId = await db.transaction().execute((trx) => enqueueMail(trx, null, 'notification', user.email, { name: user.name, title: 't', body: 'b' }));
  // The relay hands it to the email queue (no email worker runs here: it waits there).
  const job = await eventually(async () => worker.deps.queues.email.getJob(mailId), { timeoutMs: 30_000 });
  t.equal((job?.data as { payload: { to: string } }).payload.to, user.email);

  const res = await app.inject({ method: 'DELETE', url: '/api/v1/me', headers: { authorization: tokenFor(app, 'customer', user.id) }, payload: { password: PASSWORD } });
  t.equal(res.statusCode, 202);
  await eventually(async () => !(await worker.deps.queues.email.getJob(mailId)), { timeoutMs: 30_000 });
  t.pass('the job is gone from Redis');
  const outbox = await db.selectFrom('outbox').select('payload').where('id', '=', mailId).executeTakeFirstOrThrow();
  t.notMatch(JSON.stringify(outbox.payload), /withdraw\.me/, 'and its outbox row no longer holds the address');
});
