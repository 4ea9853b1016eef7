import { settleRefundPart } from '../../shared/payments/refund-events.js';
import { executeRefund } from '../../shared/payments/refunds.js';
import { enqueue } from '../../shared/outbox.js';
import type { ProcessorDefinition } from '../context.js';

/** Polls stop after this many checks (with doubling waits from REFUND_POLL_MS, capped at 6 h: days). */
export const REFUND_MAX_POLLS = 24;
const MAX_POLL_DELAY_MS = 6 * 3600_000;

export const refundProcessor: ProcessorDefinition<'refund'> = {
  // Each run holds a refund part's row lock across one Paystack call: a couple at a time is plenty.
  concurrency: 2,
  handlers: {
    'refund.execute': async ({ refundId, poll = 0 }, { db, paystack, config, log }) => {
      const result = await executeRefund(db, paystack, refundId, {
        recreateAfterMs: config.REFUND_RECREATE_AFTER_MS,
      });
      if (result.outcome === 'unknown_refund') return result;
      let open = false;
      let failure: Error | undefined;
      for (const part of result.parts) {
        const { partId } = part;
        if (part.outcome === 'error') {
          failure ??= part.error instanceof Error ? part.error : new Error(`refund part ${partId} failed`);
          continue;
        }
        log.info({ refundId, ...part }, 'refund part executed');
        if (part.outcome === 'already_settled') continue;
        if (part.outcome === 'refused') {
          await db
            .transaction()
            .execute((trx) => settleRefundPart(trx, partId, 'failed', { failureReason: part.reason }));
          continue;
        }
        const status = part.providerStatus;
        if (status === 'processed' || status === 'failed') {
          await db
            .transaction()
            .execute((trx) => settleRefundPart(trx, partId, status, { providerStatus: status }));
        } else open = true;
      }
      // A part whose Paystack call failed: the job retries (listing first, so nothing is refunded twice).
      if (failure) throw failure;
      // Not final yet: the webhook usually settles it; a delayed poll makes sure a missed one cannot
      // leave the refund hanging.
      if (open) {
        if (poll < REFUND_MAX_POLLS) {
          const delayMs = Math.min(config.REFUND_POLL_MS * 2 ** poll, MAX_POLL_DELAY_MS);
          await db
            .transaction()
            .execute((trx) => enqueue(trx, 'refund.execute', { refundId, poll: poll + 1 }, { delayMs }));
        } else {
          log.warn({ refundId }, 'refund still not settled after the last poll; left for staff');
        }
      }
      return {
        outcome: result.outcome,
        parts: result.parts.map(({ partId, outcome }) => ({ partId, outcome })),
      };
    },
  },
};
