import { UnrecoverableError } from 'bullmq';
import { sql } from 'kysely';
import { PaystackError } from '../../shared/integrations/paystack/client.js';
import { handleRefundEvent } from '../../shared/payments/refund-events.js';
import { applyVerification } from '../../shared/payments/verify.js';
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

async function markProcessed(ctx: JobContext, eventId: string, result: string) {
  await ctx.db
    .updateTable('webhookEvents')
    .set({ processedAt: sql<Date>`now()`, result })
    .where('id', '=', eventId)
    .execute();
}

export const paymentProcessor: ProcessorDefinition<'payment'> = {
  concurrency: 8,
  handlers: {
    'payment.webhook': async ({ eventId }, ctx) => {
      const row = await ctx.db
        .selectFrom('webhookEvents')
        .select(['id', 'event', 'payload', 'processedAt'])
        .where('id', '=', eventId)
        .executeTakeFirst();
      if (!row) throw new UnrecoverableError(`webhook event ${eventId} not found`);
      if (row.processedAt) return { skipped: 'already processed' };
      const payload = row.payload as { event?: string; data?: Record<string, unknown> };
      const data = payload.data ?? {};

      if (row.event === 'charge.success') {
        const reference = typeof data.reference === 'string' ? data.reference : undefined;
        if (!reference) {
          await markProcessed(ctx, eventId, 'ignored: no reference');
          return { ignored: true };
        }
        // The webhook only says "look": the amount and status come from the verify API.
        const result = await verify(reference, ctx, 'webhook');
        await markProcessed(ctx, eventId, result.outcome);
        ctx.log.info(
          { reference, outcome: result.outcome, orderId: result.orderId },
          'charge.success handled',
        );
        return result;
      }

      if (row.event.startsWith('refund.')) {
        // Only a signal: which of our refunds it is about is read from Paystack's list of the transaction's refunds.
        const outcome = await handleRefundEvent(ctx.db, ctx.paystack, { event: row.event, data }).catch(
          (err: unknown) => {
            if (err instanceof PaystackError && !err.retryable) throw new UnrecoverableError(err.message);
            throw err;
          },
        );
        await markProcessed(ctx, eventId, outcome);
        ctx.log.info({ event: row.event, outcome }, 'refund event handled');
        return { outcome };
      }

      await markProcessed(ctx, eventId, 'ignored');
      return { ignored: true };
    },

    'payment.verify': async ({ reference }, ctx) => {
      const result = await verify(reference, ctx, 'job');
      ctx.log.info({ reference, outcome: result.outcome, orderId: result.orderId }, 'payment verified');
      return result;
    },
  },
};
