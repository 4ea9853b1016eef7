import net from 'node:net';
import { sql } from 'kysely';
import t from 'tap';
import { closeRedis, createRedis, waitForReady } from '../../shared/redis.js';
import { startWorker } from '../../worker/main.js';
import { eventually, REDIS_URL, testEnv } from '../support/harness.js';

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

t.test('waitForReady resolves true when connected, false after its timeout, and leaves no listeners', async (t) => {
  const up = createRedis(REDIS_URL, 'client');
  t.teardown(() => closeRedis(up));
  t.equal(await waitForReady(up, 2_000), true);
  t.equal(await waitForReady(up, 2_000), true, 'at once when already ready');

  const down = createRedis(`redis://127.0.0.1:${await closedPort()}`, 'client');
  t.teardown(() => closeRedis(down));
  const results = await Promise.all(Array.from({ length: 50 }, () => waitForReady(down, 50)));
  t.ok(results.every((r) => r === false));
  // ioredis itself holds at most one 'ready' listener while a connection attempt is pending.
  t.ok(down.listenerCount('ready') <= 1, `every timed-out wait removed its listener (${down.listenerCount('ready')} left)`);
});

t.test('closeRedis ends a connection in any state, without reconnecting afterwards', async (t) => {
  for (const role of ['client', 'producer', 'worker'] as const) {
    const down = createRedis(`redis://127.0.0.1:${await closedPort()}`, role);
    await eventually(() => down.status === 'reconnecting' || down.status === 'connecting');
    await closeRedis(down);
    await eventually(() => down.status === 'end', { timeoutMs: 3_000 });
    t.pass(`${role}: a connection that never connected is ended (no more reconnecting)`);
    const up = createRedis(REDIS_URL, role);
    await waitForReady(up);
    await closeRedis(up);
    await eventually(() => up.status === 'end', { timeoutMs: 3_000 });
    t.pass(`${role}: a connected one quits`);
  }
});

t.test('a worker that cannot start (port taken) closes everything it opened', async (t) => {
  const { config, db } = await testEnv(t);
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '0.0.0.0', resolve));
  t.teardown(() => taken.close());
  const { port } = taken.address() as net.AddressInfo;
  await t.rejects(startWorker(config, { port, schedules: false, queues: ['system'] }), { code: 'EADDRINUSE' });
  const dbName = new URL(config.DATABASE_URL).pathname.slice(1);
  await eventually(async () => {
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = ${dbName} AND application_name IN ('agape-worker', 'agape-outbox-listener')`.execute(db);
    return rows[0]?.n === 0;
  });
  t.pass('no database connection of the worker or its relay is left');
});
