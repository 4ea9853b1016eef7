import { UnrecoverableError, type JobsOptions, type Queue } from 'bullmq';
import { PaystackError } from '../../shared/integrations/paystack/client.js';
import { paymentsToReverify, refundsToRedrive, reportStuck, webhooksToRedrive } from '../../shared/payments/sweep.js';
import { applyVerification } from '../../shared/payments/verify.js';
import { processWebhookEvent, WebhookEventMissingError } from '../../shared/payments/webhook-events.js';
import type { JobData } from '../../shared/queues.js';
import type { JobContext, ProcessorDefinition } from '../context.js';

/**
 * Payment events. Every handler is idempotent: the inbox row says whether an event was handled, and
 * the verify path decides under the order lock from the state it finds. Transient Paystack failures
 * (429/5xx/network) throw and BullMQ retries with backoff; answers that will never change (bad key,
 * a malformed stored event) fail for good with UnrecoverableError, visible in the failed set.
 */

async function verify(reference: string, ctx: JobContext, source: 'webhook' | 'job') {
  try {
    return await applyVerification(ctx.db, reference, {
      paystack: ctx.paystack,
      publicUrl: ctx.config.PUBLIC_URL,
      source,
    });
  } catch (err) {
    if (err instanceof PaystackError && !err.retryable) throw new UnrecoverableError(err.message);
    throw err;
  }
}

/**
 * Jobs the sweep adds: one try each (the next sweep is the retry), and a job id per subject, so while one
 * waits or runs another sweep adds nothing (BullMQ ignores an id it holds). Removed when done, so the
 * next sweep may add it again.
 */
const sweepJob = (id: string): JobsOptions => ({ jobId: id, attempts: 1, removeOnComplete: true, removeOnFail: true });

/** Refunds some job is already driving (waiting, retrying, or a delayed status poll). */
async function refundsInQueue(queue: Queue): Promise<Set<string>> {
  const jobs = await queue.getJobs(['waiting', 'delayed', 'active', 'prioritized', 'waiting-children']);
  const ids = new Set<string>();
  for (const job of jobs) {
    const refundId = (job?.data as JobData<{ refundId?: unknown }> | undefined)?.payload?.refundId;
    if (typeof refundId === 'string') ids.add(refundId);
  }
  return ids;
}

/**
 * `payment.sweep`: re-drives what an outage left behind (shared/payments/sweep.ts) and reports what has
 * been stuck longer than PAYMENT_STUCK_MINUTES. Added straight to BullMQ, not through the outbox: it
 * changes no state, and the next sweep re-adds whatever a crash lost.
 */
async function sweep(ctx: JobContext) {
  const { db, queues, config } = ctx;
  const quiet = { quietMs: config.PAYMENT_SWEEP_MS };
  const driven = await refundsInQueue(queues.refund);
  const refunds = (await refundsToRedrive(db, quiet)).filter((id) => !driven.has(id));
  // Refunds keep their status polls: a refund whose chain is alive is in the queue and skipped above.
  for (const refundId of refunds)
    await queues.refund.add('refund.execute', { payload: { refundId } }, sweepJob(`sweep-refund-${refundId}`));
  const references = await paymentsToReverify(db, quiet);
  for (const reference of references)
    await queues.payment.add('payment.verify', { payload: { reference } }, sweepJob(`sweep-verify-${reference}`));
  const events = await webhooksToRedrive(db, quiet);
  for (const eventId of events)
    await queues.payment.add('payment.webhook', { payload: { eventId } }, sweepJob(`sweep-webhook-${eventId}`));
  const alerts = await reportStuck(db, { stuckMs: config.PAYMENT_STUCK_MINUTES * 60_000, publicUrl: config.PUBLIC_URL });
  const counts = { refunds: refunds.length, payments: references.length, webhooks: events.length, alerts };
  if (refunds.length || references.length || events.length || alerts) ctx.log.info(counts, 'payments sweep re-drove stuck work');
  return counts;
}

export const paymentProcessor: ProcessorDefinition<'payment'> = {
  concurrency: 8,
  handlers: {
    'payment.webhook': async ({ eventId }, ctx) => {
      try {
        return await processWebhookEvent(ctx.db, eventId, { paystack: ctx.paystack, publicUrl: ctx.config.PUBLIC_URL, log: ctx.log });
      } catch (err) {
        if (err instanceof WebhookEventMissingError) throw new UnrecoverableError(err.message);
        if (err instanceof PaystackError && !err.retryable) throw new UnrecoverableError(err.message);
        throw err;
      }
    },

    'payment.verify': async ({ reference }, ctx) => {
      const result = await verify(reference, ctx, 'job');
      ctx.log.info({ reference, outcome: result.outcome, orderId: result.orderId }, 'payment verified');
      return result;
    },

    'payment.sweep': async (_payload, ctx) => sweep(ctx),
  },
};
