import { Queue } from 'bullmq';
import t from 'tap';
import { ConfigError, loadConfig } from '../../shared/config.js';
import { queueGroups, queueNames, resolveWorkerQueues } from '../../shared/queues.js';
import { createRedis } from '../../shared/redis.js';
import { eventually, startTestWorker, testEnv } from '../support/harness.js';

t.test('WORKER_QUEUES: groups, single queues and all; every queue in exactly one group', async (t) => {
  t.same(resolveWorkerQueues('all'), [...queueNames]);
  t.same(resolveWorkerQueues('mail'), ['email', 'notify', 'push']);
  t.same(resolveWorkerQueues('invoices'), ['invoice', 'imports']);
  t.same(resolveWorkerQueues(' payments , scheduled '), ['system', 'payment', 'refund', 'reconciliation', 'inventory', 'recommendations', 'reviews-recount', 'support', 'returns-expire', 'customers']);
  t.same(resolveWorkerQueues('mail,imports,email'), ['email', 'imports', 'notify', 'push'], 'groups and queue names mix; no queue twice');

  const grouped = Object.values(queueGroups).flat();
  t.same([...grouped].sort(), [...queueNames].sort(), 'the groups cover every queue exactly once');
  t.equal(new Set(grouped).size, grouped.length);

  t.equal(loadConfig({ NODE_ENV: 'test' }).WORKER_QUEUES, 'all', 'default: every queue');
  const problems = (() => {
    try {
      loadConfig({ NODE_ENV: 'test', WORKER_QUEUES: 'mail,invoice5,paymnts' });
      return [];
    } catch (err) {
      return err instanceof ConfigError ? err.problems : [String(err)];
    }
  })();
  t.equal(problems.length, 1, 'one problem, naming every unknown entry');
  t.match(problems[0], /^WORKER_QUEUES: unknown queue group or queue "invoice5", "paymnts"/);
  t.throws(() => loadConfig({ NODE_ENV: 'test', WORKER_QUEUES: ' , ' }), ConfigError, 'a list naming nothing is refused');
});

t.test('a worker runs only the processors of its groups; another group picks up the rest', async (t) => {
  const { config } = await testEnv(t);
  const mail = await startTestWorker(t, { ...config, WORKER_QUEUES: 'mail' });
  t.same(
    mail.workers.map((w) => w.name),
    ['email', 'notify', 'push'],
    'the mail worker consumes the queues of its group only',
  );

  const redis = createRedis(config.REDIS_URL, 'producer', 'agape-test-producer');
  const system = new Queue('system', { connection: redis, prefix: config.QUEUE_PREFIX });
  t.teardown(async () => {
    await system.close();
    redis.disconnect();
  });
  const job = await system.add('system.ping', { payload: { message: 'who runs me?' } });
  await new Promise((r) => setTimeout(r, 1_500));
  t.equal(await job.getState(), 'waiting', 'a system job is left alone by the mail worker');

  const scheduled = await startTestWorker(t, { ...config, WORKER_QUEUES: 'scheduled' });
  t.same(scheduled.workers.map((w) => w.name).sort(), ['customers', 'inventory', 'recommendations', 'returns-expire', 'reviews-recount', 'support', 'system']);
  await eventually(async () => (await system.getJob(job.id!))?.returnvalue?.pong === 'who runs me?', { timeoutMs: 15_000 });
  t.pass('the scheduled-group worker ran it');

  const all = await startTestWorker(t, config);
  t.same(all.workers.map((w) => w.name), [...queueNames], 'without WORKER_QUEUES a worker runs every queue');
});
