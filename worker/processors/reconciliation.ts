import { UnrecoverableError } from 'bullmq';
import { PaystackError } from '../../shared/integrations/paystack/client.js';
import { createScheduledRun } from '../../shared/payments/reconciliation-runs.js';
import { runReconciliation } from '../../shared/payments/reconciliation.js';
import type { ProcessorDefinition } from '../context.js';

/**
 * `reconciliation.run`: from the admin endpoint (the run row exists, its id in the payload) or from
 * the daily scheduler (no id: the run row is created here, once per job, so a retried scheduled job
 * continues the same run). One at a time per worker: it pages through Paystack and must not hog it.
 */
export const reconciliationProcessor: ProcessorDefinition<'reconciliation'> = {
  concurrency: 1,
  handlers: {
    'reconciliation.run': async (payload, ctx) => {
      let runId = payload.runId;
      if (!runId) {
        // Scheduled: remember the run on the job so a retry resumes it instead of starting another.
        const remembered = (ctx.job.data as { runId?: string }).runId;
        runId =
          remembered ??
(await createScheduledRun(ctx.db, payload.trigger));
        if (!remembered) await ctx.job.updateData({ ...ctx.job.data, runId });
      }
      try {
        const counts = await runReconciliation(ctx.db, runId, {
          paystack: ctx.paystack,
          publicUrl: ctx.config.PUBLIC_URL,
          timeZone: ctx.config.SHOP_TIMEZONE,
        });
        ctx.log.info({ runId, ...counts }, 'reconciliation finished');
        return { runId, counts };
      } catch (err) {
        if (err instanceof PaystackError && !err.retryable) throw new UnrecoverableError(err.message);
        throw err;
      }
    },
  },
};
