import { runRefundJob } from '../../shared/payments/refund-execution.js';
import { returnRefundSettled } from '../../shared/returns/staff.js';
import type { ProcessorDefinition } from '../context.js';

export const refundProcessor: ProcessorDefinition<'refund'> = {
  // Each run holds a refund part's row lock across one Paystack call: a couple at a time is plenty.
  concurrency: 2,
  handlers: {
    'refund.execute': async ({ refundId, poll = 0 }, { db, paystack, config, log }) =>
      runRefundJob(db, paystack, refundId, poll, {
        recreateAfterMs: config.REFUND_RECREATE_AFTER_MS,
        pollMs: config.REFUND_POLL_MS,
        log,
      }),
    // A return's refund settled: the return completes, or shows the failure for a retry.
    'refund.return-settled': async ({ refundId, returnId }, { db }) => ({ outcome: await returnRefundSettled(db, refundId, returnId) }),
  },
};
