import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import type { Db } from '../shared/db/index.js';
import type { PaystackClient } from '../shared/integrations/paystack/client.js';
import type { Logger } from '../shared/logger.js';
import type { Queues } from '../shared/queue-registry.js';
import type { JobName, JobPayload, JobsOfQueue, QueueName } from '../shared/queues.js';

/** What every processor may use. Built once in worker/main.ts; processors never reach for globals. */
export interface WorkerDeps {
  config: Config;
  db: Db;
  /** Fail-fast client for pub/sub publishing and caches. */
  redis: Redis;
  queues: Queues;
  log: Logger;
  /** Paystack API (PAYSTACK_BASE_URL, PAYSTACK_SECRET_KEY). */
  paystack: PaystackClient;
}

export interface JobContext extends WorkerDeps {
  job: Job;
  /** A logger bound to this job and the request that caused it. */
  log: Logger;
  requestId?: string;
}

export type JobHandler<N extends JobName> = (payload: JobPayload<N>, ctx: JobContext) => Promise<unknown>;

/** Every job of a queue must have a handler: a missing one is a compile error. */
export type QueueHandlers<Q extends QueueName> = { [N in JobsOfQueue<Q>]: JobHandler<N> };

export interface ProcessorDefinition<Q extends QueueName> {
  handlers: QueueHandlers<Q>;
  /** Jobs run at once per worker process. */
  concurrency?: number;
  /** At most `max` jobs per `duration` ms per worker (outside services' rate limits: push). */
  limiter?: { max: number; duration: number };
}
