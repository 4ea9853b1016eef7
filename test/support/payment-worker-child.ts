/**
 * A worker in its own process, for crash tests: `node --import tsx test/support/payment-worker-child.ts`
 * with the configuration in the environment. Prints "ready" once its processors run.
 */
import { loadConfig } from '../../shared/config.js';
import type { QueueName } from '../../shared/queues.js';
import { startWorker } from '../../worker/main.js';

const config = loadConfig(process.env);
const queues = (process.env.CHILD_QUEUES ?? 'payment').split(',') as QueueName[];
await startWorker(config, { port: 0, schedules: false, queues, relay: { pollMs: 200 } });
process.stdout.write('ready\n');
