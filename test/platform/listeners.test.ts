import { sql } from 'kysely';
import t, { type Test } from 'tap';
import { buildApp } from '../../api/app.js';
import { DbListener } from '../../api/plugins/db-listener.js';
import { noticesChannel } from '../../shared/realtime/notices.js';
import type { Config } from '../../shared/config.js';
import type { Db } from '../../shared/db/index.js';
import { closeQueues, createQueues } from '../../shared/queue-registry.js';
import { closeRedis, createRedis } from '../../shared/redis.js';
import { startWorker } from '../../worker/main.js';
import { OutboxRelay } from '../../worker/outbox-relay.js';
import { eventually, logCapture, REDIS_URL, testEnv } from '../support/harness.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

/**
 * LISTEN connections (issue 18, item 21): the catalog cache's and the outbox relay's PostgreSQL
 * listeners and the realtime hub's Redis subscriber must be gone once their owner has closed, even when
 * a connection was still being made at that moment (it finishes connecting after close).
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function connectionsOf(db: Db, config: Config, applicationName: string): Promise<number> {
  const dbName = new URL(config.DATABASE_URL).pathname.slice(1);
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
    WHERE datname = ${dbName} AND application_name = ${applicationName}`.execute(db);
  return rows[0]?.n ?? 0;
}

async function terminate(db: Db, config: Config, applicationName: string) {
  const dbName = new URL(config.DATABASE_URL).pathname.slice(1);
  await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE datname = ${dbName} AND application_name = ${applicationName}`.execute(db);
}

/** The test's configuration with PostgreSQL behind a proxy that can hold new connections. */
async function behindProxy(t: Test) {
  const { config, db } = await testEnv(t);
  const target = new URL(config.DATABASE_URL);
  const proxy = await startTcpProxy(t, { host: target.hostname, port: Number(target.port || 5432) });
  return { config: { ...config, DATABASE_URL: proxy.via(config.DATABASE_URL) } as Config, db, proxy };
}

/** No such connection now, nor a moment later (a late connect would show up by then). */
async function noneLeft(t: Test, db: Db, config: Config, applicationName: string) {
  await eventually(async () => (await connectionsOf(db, config, applicationName)) === 0, {
    timeoutMs: 3_000,
  }).catch(() => undefined);
  await sleep(1_500);
  t.equal(await connectionsOf(db, config, applicationName), 0, `no ${applicationName} connection remains`);
}

t.test(
  'API listener (catalog and profile caches): closed while its listener is reconnecting, the app leaves no LISTEN connection',
  async (t) => {
    const { config, db, proxy } = await behindProxy(t);
    const app = await buildApp(config, { logger: logCapture('warn').logger });
    await app.ready();
    const name = 'agape-api-listener';
    await eventually(async () => (await connectionsOf(db, config, name)) === 1);

    // The listener loses its connection; its reconnect is caught halfway by the proxy.
    proxy.hold();
    await terminate(db, config, name);
    await eventually(() => proxy.waiting >= 1, { timeoutMs: 5_000 });
    const closing = app.close();
    await sleep(100);
    proxy.release(); // the connection finishes after close began
    await closing;
    await noneLeft(t, db, config, name);
  },
);

t.test('API listener (catalog and profile caches): closed right after start, no listener remains', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildApp(config, { logger: logCapture('warn').logger });
  await app.ready();
  await app.close();
  await noneLeft(t, db, config, 'agape-api-listener');
});

t.test(
  'outbox relay: stopped while its listener is reconnecting, no LISTEN connection remains',
  async (t) => {
    const { config, db, proxy } = await behindProxy(t);
    const producer = createRedis(REDIS_URL, 'producer', 'listeners-test');
    const queues = createQueues(producer, config.QUEUE_PREFIX);
    t.teardown(async () => {
      await closeQueues(queues);
      await closeRedis(producer);
    });
    const relay = new OutboxRelay(db, config.DATABASE_URL, queues, logCapture('error').logger, {
      pollMs: 100,
    });
    await relay.start();
    const name = 'agape-outbox-listener';
    await eventually(async () => (await connectionsOf(db, config, name)) === 1);

    proxy.hold();
    await terminate(db, config, name);
    await eventually(() => proxy.waiting >= 1, { timeoutMs: 5_000 });
    const stopping = relay.stop();
    await sleep(100);
    proxy.release();
    await stopping;
    await noneLeft(t, db, config, name);
  },
);

t.test('worker: closed right after start, no pool or listener connection remains', async (t) => {
  const { config, db } = await testEnv(t);
  const worker = await startWorker(config, {
    port: 0,
    schedules: false,
    queues: ['system'],
    logger: logCapture('error').logger,
  });
  await worker.close();
  await noneLeft(t, db, config, 'agape-outbox-listener');
  t.equal(await connectionsOf(db, config, 'agape-worker'), 0);
});

t.test('realtime: closed right after start, the notices subscription is gone', async (t) => {
  const { config } = await testEnv(t);
  const redis = createRedis(REDIS_URL, 'client', 'listeners-test-check');
  t.teardown(() => closeRedis(redis));
  const subscribers = async () =>
    Number(((await redis.pubsub('NUMSUB', noticesChannel(config))) as [string, number])[1]);
  for (let i = 0; i < 3; i++) {
    const app = await buildApp(config, { logger: logCapture('warn').logger });
    await app.ready();
    await app.close();
  }
  await sleep(1_500);
  t.equal(await subscribers(), 0, 'no subscriber on this prefix’s notices channel');
});

t.test('API listener: a connection that goes silent (no error, no answer) is given up within the heartbeat, and made again', async (t) => {
  const { config, db, proxy } = await behindProxy(t);
  const events: string[] = [];
  const notes: string[] = [];
  const warnings: unknown[] = [];
  const listener = new DbListener(config.DATABASE_URL, 'agape-test-silent', (err) => warnings.push(err), { everyMs: 200, timeoutMs: 300 });
  t.teardown(() => listener.close());
  await listener.subscribe(['test_silent'], {
    notify: (_channel, payload) => notes.push(payload),
    up: async () => {
      events.push('up');
    },
    down: () => events.push('down'),
  });
  t.same(events, ['up']);
  await sleep(800);
  t.same(events, ['up'], 'a live connection answers its heartbeats: never given up');

  proxy.blackhole();
  await eventually(() => events.includes('down'), { timeoutMs: 3_000 });
  t.match(String(warnings[0]), /no answer to a heartbeat/, 'the loss is logged');
  // A new connection goes through (the proxy forwards new connections) and LISTENs again.
  await eventually(() => events.length === 3, { timeoutMs: 5_000 });
  t.same(events, ['up', 'down', 'up']);
  await sql`SELECT pg_notify('test_silent', 'after')`.execute(db);
  await eventually(() => notes.includes('after'), { timeoutMs: 3_000 });
  t.pass('notifications are heard on the new connection');
});
