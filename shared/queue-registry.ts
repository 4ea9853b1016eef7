import { Queue, type BackoffStrategy, type DefaultJobOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from './config.js';
import { defaultJobOptions, queueNames, type QueueName } from './queues.js';

export type Queues = Record<QueueName, Queue>;

/**
 * Queues whose jobs call Paystack. A provider outage must not make them give up: they retry with a
 * backoff capped at PAYSTACK_RETRY_MAX_DELAY_MS for PAYSTACK_RETRY_HOURS (24 h by default), so a job
 * retries within a cap's time of Paystack coming back. Every other queue keeps `defaultJobOptions`.
 */
const paystackQueues: readonly QueueName[] = ['payment', 'refund', 'reconciliation'];

/** The custom backoff type of Paystack jobs; every Worker carries `backoffStrategy` for it. */
export const PAYSTACK_BACKOFF = 'paystack';
const FIRST_DELAY_MS = 2_000;
/** Each wait is 80–100 % of its step: retries of many jobs spread out instead of hitting Paystack at once. */
const JITTER_FLOOR = 0.8;

export type RetryConfig = Pick<Config, 'PAYSTACK_RETRY_HOURS' | 'PAYSTACK_RETRY_MAX_DELAY_MS'>;

/** The wait before retry number `attemptsMade` (1 = the first retry): doubling from 2 s, capped. */
export function paystackRetryDelay(attemptsMade: number, capMs: number, random = Math.random()): number {
  const step = Math.min(capMs, FIRST_DELAY_MS * 2 ** Math.min(Math.max(attemptsMade - 1, 0), 30));
  return Math.round(step * (JITTER_FLOOR + (1 - JITTER_FLOOR) * random));
}

/** Attempts whose shortest possible waits still add up to the retry window. */
function paystackRetryAttempts(config: RetryConfig): number {
  const windowMs = config.PAYSTACK_RETRY_HOURS * 3_600_000;
  let waited = 0;
  let retries = 0;
  while (waited < windowMs) waited += paystackRetryDelay(++retries, config.PAYSTACK_RETRY_MAX_DELAY_MS, 0);
  return retries + 1;
}

/** Job options per queue: the Paystack queues get the long, capped retry; the rest the defaults. */
function jobOptionsFor(queue: QueueName, config?: RetryConfig): DefaultJobOptions {
  if (!config || !paystackQueues.includes(queue)) return defaultJobOptions;
  return { ...defaultJobOptions, attempts: paystackRetryAttempts(config), backoff: { type: PAYSTACK_BACKOFF } };
}

/**
 * The Worker-side half of the custom backoff (BullMQ looks custom types up in the worker's settings).
 * A 429 that named its wait (Retry-After) is honoured, within the cap.
 */
export function paystackBackoffStrategy(config: RetryConfig): BackoffStrategy {
  return (attemptsMade, type, err) => {
    if (type !== PAYSTACK_BACKOFF) throw new Error(`unknown backoff strategy ${type}`);
    const delay = paystackRetryDelay(attemptsMade, config.PAYSTACK_RETRY_MAX_DELAY_MS);
    const hinted = (err as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
    return typeof hinted === 'number' ? Math.min(Math.max(delay, hinted), config.PAYSTACK_RETRY_MAX_DELAY_MS) : delay;
  };
}

/**
 * One BullMQ Queue per catalogue entry, sharing one connection, under the configured hash-tag prefix.
 * With `config`, the Paystack queues get their retry policy (the worker's relay adds jobs through these).
 */
export function createQueues(connection: Redis, prefix: string, config?: RetryConfig): Queues {
  return Object.fromEntries(
    queueNames.map((name) => {
      const queue = new Queue(name, { connection, prefix, defaultJobOptions: jobOptionsFor(name, config) });
      // Without a listener BullMQ prints every connection error to stderr, bypassing the logger; they
      // surface where it matters (commands fail, readiness checks, the relay's warnings).
      queue.on('error', () => {});
      return [name, queue];
    }),
  ) as Queues;
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.allSettled(Object.values(queues).map((q) => q.close()));
}
