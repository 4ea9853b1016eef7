import { spawn } from 'node:child_process';
import net from 'node:net';
import { sql } from 'kysely';
import t, { type Test } from 'tap';
import { enqueue } from '../../shared/outbox.js';
import { closeQueues, createQueues, type Queues } from '../../shared/queue-registry.js';
import { closeRedis, createRedis } from '../../shared/redis.js';
import { OutboxRelay, type RelayOptions } from '../../worker/outbox-relay.js';
import { eventually, logCapture, testEnv } from '../support/harness.js';

const { config, db } = await testEnv(t);

function queuesOn(t: Test, url = config.REDIS_URL): Queues {
  const producer = createRedis(url, 'producer', 'outbox-test');
  const queues = createQueues(producer, config.QUEUE_PREFIX);
  t.teardown(async () => {
    await closeQueues(queues);
    await closeRedis(producer);
  });
  return queues;
}

async function startRelay(t: Test, queues: Queues, opts: RelayOptions = {}, log = logCapture('debug').logger) {
  const relay = new OutboxRelay(db, config.DATABASE_URL, queues, log, { maxBackoffMs: 300, ...opts });
  await relay.start();
  t.teardown(() => relay.stop());
  return relay;
}

const ping = (trx: Parameters<typeof enqueue>[0], message: string, requestId?: string) =>
  enqueue(trx, 'system.ping', { message }, requestId ? { requestId } : {});
const row = (id: string) => db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
/** Rows not yet delivered (among `ids` when given). */
const pending = async (ids?: string[]) => {
  let query = db.selectFrom('outbox').select((e) => e.fn.countAll().as('n')).where('deliveredAt', 'is', null);
  if (ids) query = query.where('id', 'in', ids);
  return Number((await query.executeTakeFirstOrThrow()).n);
};

t.test('a job enqueued in a committed transaction is delivered once, under the outbox id', async (t) => {
  const queues = queuesOn(t);
  const relay = await startRelay(t, queues);
  const id = await db.transaction().execute((trx) => ping(trx, 'committed', 'req-outbox-1'));
  await eventually(async () => (await row(id)).deliveredAt !== null);
  const job = await queues.system.getJob(id);
  t.ok(job, 'the BullMQ job id is the outbox id');
  t.equal(job?.name, 'system.ping');
  t.same(job?.data, { payload: { message: 'committed' }, requestId: 'req-outbox-1' });
  t.equal((await row(id)).attempts, 1);

  // A crash between "added to Redis" and "marked delivered" sends the row again: BullMQ ignores it.
  await db.updateTable('outbox').set({ deliveredAt: null }).where('id', '=', id).execute();
  relay.kick();
  await eventually(async () => (await row(id)).deliveredAt !== null);
  t.equal((await queues.system.getJobCounts('waiting')).waiting, 1, 'still one job');
  t.equal(await pending([id]), 0);
});

t.test('a rolled-back transaction delivers nothing', async (t) => {
  const queues = queuesOn(t);
  const relay = await startRelay(t, queues);
  const before = (await queues.system.getJobCounts('waiting')).waiting;
  let id = '';
  await t.rejects(
    db.transaction().execute(async (trx) => {
      id = await ping(trx, 'rolled back');
      throw new Error('the business change failed');
    }),
  );
  t.ok(id, 'a row was written inside the transaction');
  t.equal(await db.selectFrom('outbox').select('id').where('id', '=', id).executeTakeFirst(), undefined, 'and is gone');
  // Prove the relay is awake by delivering a committed row after it.
  const after = await db.transaction().execute((trx) => ping(trx, 'after'));
  await eventually(async () => (await row(after)).deliveredAt !== null);
  t.equal(await queues.system.getJob(id), undefined);
  t.equal((await queues.system.getJobCounts('waiting')).waiting, before + 1, 'only the committed one arrived');
  t.equal(relay.delivered, 1);
});

t.test('a delayed job is added as delayed', async (t) => {
  const queues = queuesOn(t);
  await startRelay(t, queues);
  const id = await db.transaction().execute((trx) => enqueue(trx, 'system.ping', { message: 'later' }, { delayMs: 60_000 }));
  await eventually(async () => (await row(id)).deliveredAt !== null);
  t.equal(await (await queues.system.getJob(id))?.getState(), 'delayed');
});

t.test('a payload that breaks its schema is refused before it is written', async (t) => {
  await t.rejects(
    db.transaction().execute((trx) => enqueue(trx, 'system.ping', { message: 42 } as never)),
    /invalid payload for job system.ping: \/message/,
  );
});

t.test('NOTIFY wakes the relay: delivery well under the poll interval', async (t) => {
  const queues = queuesOn(t);
  const relay = await startRelay(t, queues, { pollMs: 60_000 });
  await eventually(() => relay['listener'] !== undefined, { timeoutMs: 5_000 });
  const started = Date.now();
  const id = await db.transaction().execute((trx) => ping(trx, 'wake up'));
  await eventually(async () => (await row(id)).deliveredAt !== null, { timeoutMs: 3_000, intervalMs: 20 });
  t.ok(Date.now() - started < 3_000, `delivered in ${Date.now() - started} ms with a 60 s poll`);
});

t.test('the listener comes back after Postgres drops its connection', async (t) => {
  const queues = queuesOn(t);
  const logs = logCapture('debug');
  const relay = await startRelay(t, queues, { pollMs: 60_000 }, logs.logger);
  await eventually(() => relay['listener'] !== undefined, { timeoutMs: 5_000 });
  const dbName = new URL(config.DATABASE_URL).pathname.slice(1);
  await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = ${dbName} AND application_name = 'agape-outbox-listener'`.execute(db);
  await eventually(() => logs.text().includes('outbox listener lost its connection'));
  // Reconnected listener: a new backend LISTENing again.
  await eventually(async () => {
    const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = ${dbName} AND application_name = 'agape-outbox-listener'`.execute(db);
    return r.rows[0]?.n === 1 && relay['listener'] !== undefined;
  });
  const id = await db.transaction().execute((trx) => ping(trx, 'after a restart'));
  await eventually(async () => (await row(id)).deliveredAt !== null, { timeoutMs: 3_000, intervalMs: 20 });
  t.pass('delivered by NOTIFY on the new connection');
});

t.test('rows locked by another transaction are skipped, not waited for', async (t) => {
  const queues = queuesOn(t);
  const held = await db.transaction().execute((trx) => ping(trx, 'held'));
  let release: () => void = () => {};
  let holding: Promise<void> = Promise.resolve();
  await new Promise<void>((locked) => {
    holding = db.transaction().execute(async (trx) => {
      await trx.selectFrom('outbox').select('id').where('id', '=', held).forUpdate().execute();
      locked();
      await new Promise<void>((r) => (release = r));
    });
  });
  const free = await db.transaction().execute((trx) => ping(trx, 'free'));
  const relay = await startRelay(t, queues);
  await eventually(async () => (await row(free)).deliveredAt !== null);
  t.equal((await row(held)).deliveredAt, null, 'the locked row waits');
  release();
  await holding;
  relay.kick();
  await eventually(async () => (await row(held)).deliveredAt !== null);
  t.pass('and goes once the lock is released');
});

t.test('two relays on many rows never deliver a row twice', async (t) => {
  const queues = queuesOn(t);
  const before = (await queues.system.getJobCounts('waiting', 'delayed')) as Record<string, number>;
  const relays = await Promise.all([1, 2, 3].map(() => startRelay(t, queues, { batchSize: 25, pollMs: 200 })));
  const ids: string[] = [];
  // Written while the relays run, in many small transactions (a few at a time, within the pool): every
  // commit wakes all of them.
  for (let wave = 0; wave < 5; wave++) {
    await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        db.transaction().execute(async (trx) => {
          for (let j = 0; j < 20; j++) ids.push(await ping(trx, `bulk ${wave}.${i}.${j}`));
        }),
      ),
    );
  }
  await eventually(async () => (await pending(ids)) === 0, { timeoutMs: 30_000 });
  const rows = await db.selectFrom('outbox').select(['id', 'attempts']).where('id', 'in', ids).execute();
  t.equal(rows.length, 400);
  t.ok(rows.every((r) => r.attempts === 1), 'every row was claimed and sent exactly once');
  t.equal(relays.reduce((n, r) => n + r.delivered, 0), 400, 'the relays delivered 400 between them');
  t.ok(relays.filter((r) => r.delivered > 0).length >= 2, `work was shared: ${relays.map((r) => r.delivered).join(' / ')}`);
  const after = await queues.system.getJobCounts('waiting');
  t.equal(after.waiting - (before.waiting ?? 0), 400, '400 BullMQ jobs');
});

/** A port nothing listens on yet. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

t.test('while Redis is down rows wait; when it returns they are delivered once', async (t) => {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const queues = queuesOn(t, url);
  const logs = logCapture('debug');
  const relay = await startRelay(t, queues, { pollMs: 60_000 }, logs.logger);
  const ids = await db.transaction().execute(async (trx) => [await ping(trx, 'one', 'req-down'), await ping(trx, 'two')]);
  await eventually(() => logs.text().includes('outbox relay could not deliver; rows wait'));
  t.equal(await pending(ids), 2, 'rows wait in the outbox');
  const stopping = Date.now();
  await relay.stop();
  t.ok(Date.now() - stopping < 1_000, `a relay waiting for Redis stops at once (${Date.now() - stopping} ms)`);
  const second = await startRelay(t, queues, { pollMs: 60_000 }, logs.logger);

  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  t.teardown(() => {
    redis.kill('SIGKILL');
  });
  await eventually(async () => (await pending(ids)) === 0, { timeoutMs: 15_000 });
  t.equal(second.delivered, 2);
  for (const id of ids) t.equal((await row(id)).attempts, 1, 'each sent once');
  const job = await queues.system.getJob(ids[0] ?? '');
  t.same(job?.data, { payload: { message: 'one' }, requestId: 'req-down' }, 'the job arrived in the Redis that came back');
  t.equal((await queues.system.getJobCounts('waiting')).waiting, 2);
});
