import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import type { Queues } from '../shared/queue-registry.js';

export const RECONCILIATION_SCHEDULER_ID = 'reconciliation-daily';
export const RESERVATION_EXPIRY_SCHEDULER_ID = 'inventory-expire-reservations';

/**
 * Recurring work as BullMQ job schedulers (upserted, so every worker replica may call this at start).
 * Domains add their schedules here.
 */
export async function registerSchedules(queues: Queues, _config: Config, log: Logger): Promise<void> {
  // Payments: reconcile with Paystack daily at 02:00 Lagos time (quiet hours; the window covers 48 h).
  await queues.reconciliation.upsertJobScheduler(
    RECONCILIATION_SCHEDULER_ID,
    { pattern: '0 2 * * *', tz: 'Africa/Lagos' },
    { name: 'reconciliation.run', data: { payload: { trigger: 'schedule' } } },
  );
  // Inventory: release stock held by unpaid orders past RESERVATION_TTL_MINUTES, every minute.
  await queues.inventory.upsertJobScheduler(
    RESERVATION_EXPIRY_SCHEDULER_ID,
    { pattern: '* * * * *', tz: 'UTC' },
    { name: 'inventory.expire-reservations', data: { payload: {} } },
  );
  log.debug('job schedules registered');
}
