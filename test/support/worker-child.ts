/**
 * A worker process of its own (multi-host tests): `node --import tsx test/support/worker-child.ts`,
 * configured by its environment (WORKER_QUEUES picks its queues, as in production); prints
 * `ready <queues>` once its processors run.
 */
import { loadConfig } from '../../shared/config.js';
import { closeOnSignals, startWorker } from '../../worker/main.js';
import { createLogger } from '../../shared/logger.js';

const config = loadConfig(process.env);
const worker = await startWorker(config, { port: 0, schedules: false, relay: { pollMs: 200 } });
closeOnSignals(worker, createLogger(config, 'worker'));
process.stdout.write(`ready ${worker.workers.map((w) => w.name).join(',')}\n`);
