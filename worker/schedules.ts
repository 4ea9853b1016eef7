import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import type { Queues } from '../shared/queue-registry.js';

/**
 * Recurring work as BullMQ job schedulers (upserted, so every worker replica may call this at start).
 * Domains add their schedules here.
 */
export async function registerSchedules(_queues: Queues, _config: Config, log: Logger): Promise<void> {
  log.debug('job schedules registered');
}
