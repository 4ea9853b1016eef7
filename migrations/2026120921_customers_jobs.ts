import { sql, type Kysely } from 'kysely';

/**
 * The outbox's queue and job-name CHECKs widened for the `customers` queue and its jobs (cart reminders
 * and guest-cart clean-up, data exports and their expiry, the mail jobs an erasure withdraws). The full
 * lists, as 2026120911_returns_jobs wrote them, plus these.
 */
const QUEUES = [
  'system',
  'email',
  'invoice',
  'payment',
  'refund',
  'reconciliation',
  'inventory',
  'imports',
  'recommendations',
  'reviews-recount',
  'notify',
  'push',
  'support',
  'returns-expire',
  'customers',
];
const JOBS = [
  'system.ping',
  'system.notify',
  'email.send',
  'email.password-reset',
  'invoice.render',
  'payment.webhook',
  'payment.verify',
  'payment.sweep',
  'refund.execute',
  'reconciliation.run',
  'inventory.expire-reservations',
  'import.products',
  'recommendations.rebuild',
  'reviews.recount',
  'notify.fanout',
  'notifications.cleanup',
  'push.send',
  'support.housekeeping',
  'returns.expire',
  'refund.return-settled',
  'customers.housekeeping',
  'customers.data-export',
  'customers.withdraw-mail',
];
const OLD_QUEUES = QUEUES.filter((q) => q !== 'customers');
const OLD_JOBS = JOBS.filter((j) => !j.startsWith('customers.'));

const list = (values: readonly string[]) => sql.join(values.map((v) => sql.lit(v)));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function setChecks(db: Kysely<any>, queues: readonly string[], jobs: readonly string[]) {
  await sql`
    ALTER TABLE outbox DROP CONSTRAINT outbox_queue_check, DROP CONSTRAINT outbox_name_check,
      ADD CONSTRAINT outbox_queue_check CHECK (queue IN (${list(queues)})),
      ADD CONSTRAINT outbox_name_check CHECK (name IN (${list(jobs)}))
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await setChecks(db, QUEUES, JOBS);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await setChecks(db, OLD_QUEUES, OLD_JOBS);
}
