import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { defaultJobOptions, queueNames, type QueueName } from './queues.js';

export type Queues = Record<QueueName, Queue>;

/** One BullMQ Queue per catalogue entry, sharing one connection, under the configured hash-tag prefix. */
export function createQueues(connection: Redis, prefix: string): Queues {
  return Object.fromEntries(
    queueNames.map((name) => {
      const queue = new Queue(name, { connection, prefix, defaultJobOptions });
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
