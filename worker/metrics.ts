import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Db } from '../shared/db/index.js';
import { stuckCounts } from '../shared/payments/sweep.js';
import type { Queues } from '../shared/queue-registry.js';
import { queueNames } from '../shared/queues.js';

export interface PaymentsMetricsSource {
  db: Db;
  /** PAYMENT_STUCK_MINUTES, in ms. */
  stuckMs: number;
}

/**
 * Worker metrics: queue depths and oldest waiting age read at scrape time, job outcomes and durations,
 * and (with `payments`) what has been stuck in payments longer than PAYMENT_STUCK_MINUTES.
 */
export function createWorkerMetrics(queues: Queues, payments?: PaymentsMetricsSource) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const jobs = new Counter({
    name: 'agape_jobs_total',
    help: 'Jobs finished by this worker, by queue, job name and outcome',
    labelNames: ['queue', 'name', 'outcome'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'agape_job_duration_seconds',
    help: 'Job processing time',
    labelNames: ['queue', 'name'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  new Gauge({
    name: 'agape_queue_jobs',
    help: 'Jobs in each queue by state',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      await Promise.all(
        queueNames.map(async (q) => {
          const counts = await queues[q].getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized');
          for (const [state, n] of Object.entries(counts)) this.set({ queue: q, state }, n);
        }),
      );
    },
  });
  new Gauge({
    name: 'agape_queue_oldest_waiting_seconds',
    help: 'Age of the oldest job waiting in each queue',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      await Promise.all(
        queueNames.map(async (q) => {
          const [oldest] = await queues[q].getJobs(['waiting'], 0, 0, true);
          this.set({ queue: q }, oldest ? (Date.now() - oldest.timestamp) / 1000 : 0);
        }),
      );
    },
  });
  if (payments) {
    new Gauge({
      name: 'agape_payments_stuck',
      help: 'Payment work stuck longer than PAYMENT_STUCK_MINUTES: refunds Paystack has not accepted (refund), payments it could not confirm (payment), webhook events not handled (webhook)',
      labelNames: ['kind'] as const,
      registers: [registry],
      async collect() {
        // A database hiccup must not fail the whole scrape: the last values stay.
        const counts = await stuckCounts(payments.db, payments.stuckMs).catch(() => undefined);
        for (const [kind, n] of Object.entries(counts ?? {})) this.set({ kind }, n);
      },
    });
  }
  return { registry, jobs, duration };
}
export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
