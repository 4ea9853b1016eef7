import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import type { Queues } from '../shared/queue-registry.js';

export const RECONCILIATION_SCHEDULER_ID = 'reconciliation-daily';
export const RESERVATION_EXPIRY_SCHEDULER_ID = 'inventory-expire-reservations';
export const PAYMENT_SWEEP_SCHEDULER_ID = 'payments-sweep';
export const RECOMMENDATIONS_SCHEDULER_ID = 'recommendations-nightly';
export const REVIEWS_RECOUNT_SCHEDULER_ID = 'reviews-recount-nightly';
export const SUPPORT_HOUSEKEEPING_SCHEDULER_ID = 'support-housekeeping';
export const NOTIFICATIONS_CLEANUP_SCHEDULER_ID = 'notifications-cleanup';
export const RETURNS_EXPIRE_SCHEDULER_ID = 'returns-expire';
export const CUSTOMERS_HOUSEKEEPING_SCHEDULER_ID = 'customers-housekeeping';

/**
 * The payments sweep, every PAYMENT_SWEEP_MS. One attempt per run and few kept: the next run is its
 * retry, and a sweep that failed during an outage says nothing the failed set needs to keep.
 */
export async function registerPaymentSweep(queues: Queues, config: Pick<Config, 'PAYMENT_SWEEP_MS'>): Promise<void> {
  await queues.payment.upsertJobScheduler(
    PAYMENT_SWEEP_SCHEDULER_ID,
    { every: config.PAYMENT_SWEEP_MS },
    {
      name: 'payment.sweep',
      data: { payload: {} },
      opts: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
    },
  );
}

/**
 * Recurring work as BullMQ job schedulers (upserted, so every worker replica may call this at start).
 * Domains add their schedules here.
 */
export async function registerSchedules(queues: Queues, config: Config, log: Logger): Promise<void> {
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
  // Payments: what a Paystack outage left behind is re-driven within a sweep of Paystack's return.
  await registerPaymentSweep(queues, config);
  // Recommendations: a new generation every night from the orders of the last RECS_WINDOW_DAYS.
  await queues.recommendations.upsertJobScheduler(
    RECOMMENDATIONS_SCHEDULER_ID,
    { pattern: '0 3 * * *', tz: config.SHOP_TIMEZONE },
    { name: 'recommendations.rebuild', data: { payload: { trigger: 'schedule' } } },
  );
  // Reviews: the rating counters checked against the published reviews (expected: 0 drift).
  await queues['reviews-recount'].upsertJobScheduler(
    REVIEWS_RECOUNT_SCHEDULER_ID,
    { pattern: '30 3 * * *', tz: config.SHOP_TIMEZONE },
    { name: 'reviews.recount', data: { payload: { trigger: 'schedule' } } },
  );
  // Support: close conversations resolved 7 days ago, purge day-old unattached uploads, hourly.
  await queues.support.upsertJobScheduler(
    SUPPORT_HOUSEKEEPING_SCHEDULER_ID,
    { pattern: '7 * * * *', tz: config.SHOP_TIMEZONE },
    { name: 'support.housekeeping', data: { payload: {} } },
  );
  // Notifications: drop in-app rows past NOTIFICATION_RETENTION_DAYS at 04:00 shop time.
  await queues.notify.upsertJobScheduler(
    NOTIFICATIONS_CLEANUP_SCHEDULER_ID,
    { pattern: '0 4 * * *', tz: config.SHOP_TIMEZONE },
    { name: 'notifications.cleanup', data: { payload: {} } },
  );
  // Returns: approved returns not received within RETURN_SHIP_DAYS expire (exchange holds released), hourly.
  await queues['returns-expire'].upsertJobScheduler(
    RETURNS_EXPIRE_SCHEDULER_ID,
    { pattern: '13 * * * *', tz: config.SHOP_TIMEZONE },
    { name: 'returns.expire', data: { payload: {} } },
  );
  // Customers: cart reminders due after ABANDONED_CART_HOURS, guest carts past CART_TTL_DAYS, expired
  // data exports, hourly.
  await queues.customers.upsertJobScheduler(
    CUSTOMERS_HOUSEKEEPING_SCHEDULER_ID,
    { pattern: '17 * * * *', tz: config.SHOP_TIMEZONE },
    { name: 'customers.housekeeping', data: { payload: {} } },
  );
  log.debug('job schedules registered');
}
