import { purgeIdempotencyKeys } from '../../shared/idempotency/index.js';
import { expireReservations } from '../../shared/orders/index.js';
import type { ProcessorDefinition } from '../context.js';

/**
 * `inventory.expire-reservations`, every minute: cancels unpaid orders whose reservation expired, in
 * batches, each order in its own short transaction locked with SKIP LOCKED (so two workers, or a payment
 * being applied, never collide), giving stock and coupon redemptions back. Idempotent: an order already
 * released is skipped. Also drops idempotency keys past their 24 h.
 */
export const inventoryProcessor: ProcessorDefinition<'inventory'> = {
  concurrency: 1,
  handlers: {
    'inventory.expire-reservations': async (_payload, { db, log }) => {
      const expired = await expireReservations(db, { batchSize: 100, maxBatches: 50 });
      const purged = await purgeIdempotencyKeys(db);
      if (expired || purged) log.info({ expired, purgedIdempotencyKeys: purged }, 'reservations expired');
      return { expired, purged };
    },
  },
};
