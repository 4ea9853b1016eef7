import { purgeIdempotencyKeys } from '../../shared/idempotency/index.js';
import { expireUnpaidOrders } from '../../shared/payments/expiry.js';
import type { ProcessorDefinition } from '../context.js';

/**
 * `inventory.expire-reservations`, every minute: cancels unpaid orders whose reservation expired, in
 * batches, each order in its own short transaction locked with SKIP LOCKED (so two workers, or a payment
 * being applied, never collide), giving stock and coupon redemptions back. An order with a payment
 * attempt is verified with Paystack first (shared/payments/expiry.ts): paid ones are applied, ones
 * Paystack cannot confirm are kept up to PAYMENT_HOLD_MINUTES. Idempotent: an order already released is
 * skipped. Also drops idempotency keys past their 24 h.
 */
export const inventoryProcessor: ProcessorDefinition<'inventory'> = {
  concurrency: 1,
  handlers: {
    'inventory.expire-reservations': async (_payload, { db, log, paystack, config }) => {
      const counts = await expireUnpaidOrders(
        db,
        { paystack, publicUrl: config.PUBLIC_URL, holdMinutes: config.PAYMENT_HOLD_MINUTES, log },
        { batchSize: 100, maxBatches: 50 },
      );
      const purged = await purgeIdempotencyKeys(db);
      if (counts.expired || counts.paid || counts.held || purged) log.info({ ...counts, purgedIdempotencyKeys: purged }, 'reservations expired');
      return { ...counts, purged };
    },
  },
};
