import { Worker, type Job } from 'bullmq';
import Fastify from 'fastify';
import { fileURLToPath } from 'node:url';
import { loadConfigOrExit, type Config } from '../shared/config.js';
import { workContext } from '../shared/context.js';
import { createDb } from '../shared/db/index.js';
import { assertMigrationsCurrent } from '../shared/db/migrate.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { closeQueues, createQueues, paystackBackoffStrategy } from '../shared/queue-registry.js';
import { resolveWorkerQueues, type JobData, type QueueName } from '../shared/queues.js';
import { closeRedis, createRedis } from '../shared/redis.js';
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
  /** Only run these queues (tests). Default: the groups and queues WORKER_QUEUES names (all by default). */
  queues?: readonly QueueName[];
  logger?: Logger;
  /** How long shutdown waits for active jobs before closing anyway. */
  shutdownTimeoutMs?: number;
  schedules?: boolean;
  /** Queues outside the catalogue with their handlers (tests: a slow job to watch shutdown). */
  extraQueues?: Record<string, ExtraQueue>;
}

export interface ExtraQueue {
  handlers: Record<string, (payload: unknown, ctx: JobContext) => Promise<unknown>>;
  concurrency?: number;
  limiter?: { max: number; duration: number };
}

export async function startWorker(config: Config, opts: StartWorkerOptions = {}) {
  const log = opts.logger ?? createLogger(config, 'worker');
  const db = createDb(config.DATABASE_URL, { poolSize: config.DATABASE_POOL_SIZE, applicationName: 'agape-worker' });
  await assertMigrationsCurrent(db).catch(async (err: unknown) => {
    await db.destroy();
    throw err;
  });

  const workerConnection = createRedis(config.REDIS_URL, 'worker', 'agape-worker');
  const producer = createRedis(config.REDIS_URL, 'producer', 'agape-worker-producer');
  const redis = createRedis(config.REDIS_URL, 'client', 'agape-worker-client');
  const queues = createQueues(producer, config.QUEUE_PREFIX, config);
  const metrics = createWorkerMetrics(queues, { db, stuckMs: config.PAYMENT_STUCK_MINUTES * 60_000 });
  const deps: WorkerDeps = { config, db, redis, queues, log, paystack: paystackFromConfig(config) };

  // Jobs started and not yet reported completed/failed: shutdown waits for these (bounded).
  const active = new Set<string>();
  const backoffStrategy = paystackBackoffStrategy(config);
  const definitions: [string, ExtraQueue][] = [
    // A fleet split by queue group (one deployment per group, each scaled on its own queues' depth)
    // runs the processors of its groups only; the outbox relay and the schedules run in every process.
    ...(opts.queues ?? resolveWorkerQueues(config.WORKER_QUEUES)).map((queue): [string, ExtraQueue] => [queue, processors[queue] as unknown as ExtraQueue]),
    ...Object.entries(opts.extraQueues ?? {}),
  ];
  const workers = definitions.map(([queue, def]) => {
    const handlers = def.handlers as Record<string, JobHandler<never>>;
    const worker = new Worker<JobData>(
      queue,
      async (job: Job<JobData>) => {
        active.add(`${queue}:${job.id}`);
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
      {
        connection: workerConnection,
        prefix: config.QUEUE_PREFIX,
        concurrency: def.concurrency ?? 4,
        ...(def.limiter ? { limiter: def.limiter } : {}),
        autorun: false,
        settings: { backoffStrategy },
      },
    );
    worker.on('completed', (job) => {
      active.delete(`${queue}:${job.id}`);
      metrics.jobs.inc({ queue, name: job.name, outcome: 'completed' });
      log.info({ queue, job: job.name, jobId: job.id, requestId: job.data.requestId }, 'job completed');
    });
    worker.on('failed', (job, err) => {
      if (job) active.delete(`${queue}:${job.id}`);
      const final = !job || job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError';
      metrics.jobs.inc({ queue, name: job?.name ?? 'unknown', outcome: final ? 'failed' : 'retried' });
      log.warn({ queue, job: job?.name, jobId: job?.id, requestId: job?.data.requestId, err: err.message, final }, 'job failed');
    });
    worker.on('error', (err) => log.error({ err, queue }, 'worker error'));
    void worker.run().catch((err: unknown) => log.error({ err, queue }, 'worker stopped'));
    return worker;
  });

  const relay = new OutboxRelay(db, config.DATABASE_URL, queues, log.child({ component: 'outbox' }), opts.relay);

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
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      log.info('worker shutting down: no new jobs, waiting for active ones');
      const deadline = opts.shutdownTimeoutMs ?? 25_000;
      await relay.stop();
      // Stop fetching, wait (bounded) for the jobs already running to finish and be recorded, then close
      // without waiting. Not worker.close(): it can wait forever (Redis away), and a later close(true)
      // returns that same pending promise. Jobs still running past the deadline lose their lock and
      // another worker runs them again (processors are idempotent).
      await Promise.all(workers.map((w) => w.pause(true)));
      const until = Date.now() + deadline;
      while (active.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      if (active.size > 0) log.warn({ jobs: [...active] }, 'shutdown deadline passed with jobs still running');
      await Promise.all(workers.map((w) => w.close(true)));
      await http.close();
      await closeQueues(queues);
      await deps.paystack.close();
      await Promise.all([closeRedis(workerConnection), closeRedis(producer), closeRedis(redis)]);
      await db.destroy();
      log.info('worker stopped');
    })());

  // A worker that fails to start closes what it opened (pool, connections, BullMQ workers) before throwing.
  let port: number;
  try {
    await relay.start();
    if (opts.schedules !== false) await registerSchedules(queues, config, log);
    await http.listen({ port: opts.port ?? config.WORKER_PORT, host: config.HOST });
    const address = http.server.address();
    port = typeof address === 'object' && address ? address.port : 0;
  } catch (err) {
    await close();
    throw err;
  }
  log.info({ port, queues: definitions.map(([q]) => q) }, 'worker started');

  return { deps, relay, workers, metrics, port, close };
}
export type RunningWorker = Awaited<ReturnType<typeof startWorker>>;

/** SIGTERM/SIGINT: close (bounded by shutdownTimeoutMs) and exit 0, or 1 if closing failed. */
export function closeOnSignals(worker: { close(): Promise<void> }, log: Logger): void {
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
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const config = loadConfigOrExit();
  const log = createLogger(config, 'worker');
  try {
    closeOnSignals(await startWorker(config, { logger: log }), log);
  } catch (err) {
    log.fatal({ err: err instanceof Error ? err.message : err }, 'worker failed to start');
    process.exit(1);
  }
}
