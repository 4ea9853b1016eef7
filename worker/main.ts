import { Worker, type Job } from 'bullmq';
import Fastify from 'fastify';
import { fileURLToPath } from 'node:url';
import { loadConfigOrExit, type Config } from '../shared/config.js';
import { workContext } from '../shared/context.js';
import { createDb } from '../shared/db/index.js';
import { assertMigrationsCurrent } from '../shared/db/migrate.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { closeQueues, createQueues } from '../shared/queue-registry.js';
import { queueNames, type JobData, type QueueName } from '../shared/queues.js';
import { createRedis } from '../shared/redis.js';
import { checkDependencies } from '../shared/health.js';
import { paystackFromConfig } from '../shared/integrations/paystack/client.js';
import type { JobContext, JobHandler, WorkerDeps } from './context.js';
import { createWorkerMetrics } from './metrics.js';
import { OutboxRelay, type RelayOptions } from './outbox-relay.js';
import { processors } from './processors/index.js';
import { registerSchedules } from './schedules.js';

export interface StartWorkerOptions {
  /** Serve /health and /metrics on this port (WORKER_PORT by default; 0 picks a free one). */
  port?: number;
  relay?: RelayOptions;
  /** Only run these queues (tests, or a fleet split by queue). Default: all. */
  queues?: readonly QueueName[];
  logger?: Logger;
  /** How long shutdown waits for active jobs before closing anyway. */
  shutdownTimeoutMs?: number;
  schedules?: boolean;
}

export async function startWorker(config: Config, opts: StartWorkerOptions = {}) {
  const log = opts.logger ?? createLogger(config, 'worker');
  const db = createDb(config.DATABASE_URL, { poolSize: config.DATABASE_POOL_SIZE, applicationName: 'agape-worker' });
  await assertMigrationsCurrent(db);

  const workerConnection = createRedis(config.REDIS_URL, 'worker', 'agape-worker');
  const producer = createRedis(config.REDIS_URL, 'producer', 'agape-worker-producer');
  const redis = createRedis(config.REDIS_URL, 'client', 'agape-worker-client');
  const queues = createQueues(producer, config.QUEUE_PREFIX);
  const metrics = createWorkerMetrics(queues);
  const deps: WorkerDeps = { config, db, redis, queues, log, paystack: paystackFromConfig(config) };

  const workers = (opts.queues ?? queueNames).map((queue) => {
    const def = processors[queue];
    const handlers = def.handlers as Record<string, JobHandler<never>>;
    const worker = new Worker<JobData>(
      queue,
      async (job: Job<JobData>) => {
        const handler = handlers[job.name];
        const jobLog = log.child({ queue, job: job.name, jobId: job.id, requestId: job.data.requestId, attempt: job.attemptsMade + 1 });
        if (!handler) throw new Error(`no handler for job ${job.name} on queue ${queue}`);
        const ctx: JobContext = { ...deps, job, log: jobLog, requestId: job.data.requestId };
        const end = metrics.duration.startTimer({ queue, name: job.name });
        try {
          return await workContext.run({ requestId: job.data.requestId }, () => handler(job.data.payload as never, ctx));
        } finally {
          end();
        }
      },
      { connection: workerConnection, prefix: config.QUEUE_PREFIX, concurrency: def.concurrency ?? 4, autorun: false },
    );
    worker.on('completed', (job) => {
      metrics.jobs.inc({ queue, name: job.name, outcome: 'completed' });
      log.info({ queue, job: job.name, jobId: job.id, requestId: job.data.requestId }, 'job completed');
    });
    worker.on('failed', (job, err) => {
      const final = !job || job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError';
      metrics.jobs.inc({ queue, name: job?.name ?? 'unknown', outcome: final ? 'failed' : 'retried' });
      log.warn({ queue, job: job?.name, jobId: job?.id, requestId: job?.data.requestId, err: err.message, final }, 'job failed');
    });
    worker.on('error', (err) => log.error({ err, queue }, 'worker error'));
    void worker.run().catch((err: unknown) => log.error({ err, queue }, 'worker stopped'));
    return worker;
  });

  const relay = new OutboxRelay(db, config.DATABASE_URL, queues, log.child({ component: 'outbox' }), opts.relay);
  await relay.start();
  if (opts.schedules !== false) await registerSchedules(queues, config, log);

  const http = Fastify({ logger: false });
  http.get('/health/live', async () => ({ status: 'ok' }));
  http.get('/health/ready', async (_req, reply) => {
    const result = await checkDependencies(db, redis);
    return reply.code(result.ok ? 200 : 503).send(result);
  });
  http.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  await http.listen({ port: opts.port ?? config.WORKER_PORT, host: config.HOST });
  const address = http.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  log.info({ port, queues: opts.queues ?? queueNames }, 'worker started');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      log.info('worker shutting down: no new jobs, waiting for active ones');
      const deadline = opts.shutdownTimeoutMs ?? 25_000;
      await relay.stop();
      // worker.close() waits for active jobs; past the deadline force-close so their locks expire
      // and another worker picks them up (they are idempotent).
      const graceful = Promise.all(workers.map((w) => w.close()));
      const timedOut = await Promise.race([
        graceful.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), deadline).unref()),
      ]);
      if (timedOut) await Promise.all(workers.map((w) => w.close(true)));
      await http.close();
      await closeQueues(queues);
      await Promise.allSettled([workerConnection.quit(), producer.quit(), redis.quit()]);
      await db.destroy();
      log.info('worker stopped');
    })());

  return { deps, relay, workers, metrics, port, close };
}
export type RunningWorker = Awaited<ReturnType<typeof startWorker>>;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const config = loadConfigOrExit();
  const log = createLogger(config, 'worker');
  try {
    const worker = await startWorker(config, { logger: log });
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        log.info({ signal }, 'signal received');
        worker.close().then(
          () => process.exit(0),
          (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      });
    }
  } catch (err) {
    log.fatal({ err: err instanceof Error ? err.message : err }, 'worker failed to start');
    process.exit(1);
  }
}
