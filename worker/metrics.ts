import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Queues } from '../shared/queue-registry.js';
import { queueNames } from '../shared/queues.js';

/** Worker metrics: queue depths and oldest waiting age read at scrape time, job outcomes and durations. */
export function createWorkerMetrics(queues: Queues) {
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
  return { registry, jobs, duration };
}
export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
