import { settleRefund } from '../../shared/payments/refund-events.js';
import { executeRefund } from '../../shared/payments/refunds.js';
import { enqueue } from '../../shared/outbox.js';
import type { ProcessorDefinition } from '../context.js';

/** Polls stop after this many checks (with doubling waits from REFUND_POLL_MS, capped at 6 h: days). */
export const REFUND_MAX_POLLS = 24;
const MAX_POLL_DELAY_MS = 6 * 3600_000;

export const refundProcessor: ProcessorDefinition<'refund'> = {
  // Each run holds its refund's row lock across one Paystack call: a couple at a time is plenty.
  concurrency: 2,
  handlers: {
    'refund.execute': async ({ refundId, poll = 0 }, { db, paystack, config, log }) => {
      const result = await executeRefund(db, paystack, refundId);
      log.info({ refundId, ...result }, 'refund executed');
      if (result.outcome === 'already_settled' || result.outcome === 'unknown_refund') return result;
      if (result.outcome === 'refused') {
        await db
          .transaction()
          .execute((trx) => settleRefund(trx, refundId, 'failed', { failureReason: result.reason }));
        return result;
      }
      const status = result.providerStatus;
      if (status === 'processed' || status === 'failed') {
        const settled = await db
          .transaction()
          .execute((trx) =>
            settleRefund(trx, refundId, status, {
              providerRefundId: result.providerRefundId,
              providerStatus: status,
            }),
          );
        return { ...result, settled };
      }
      // Not final yet: the webhook usually settles it; a delayed poll makes sure a missed one cannot
      // leave the refund hanging.
      if (poll < REFUND_MAX_POLLS) {
        const delayMs = Math.min(config.REFUND_POLL_MS * 2 ** poll, MAX_POLL_DELAY_MS);
        await db
          .transaction()
          .execute((trx) => enqueue(trx, 'refund.execute', { refundId, poll: poll + 1 }, { delayMs }));
      } else {
        log.warn({ refundId, status }, 'refund still not settled after the last poll; left for staff');
      }
      return result;
    },
  },
};
