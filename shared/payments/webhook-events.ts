import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import type { PaystackClient } from '../integrations/paystack/client.js';
import type { Logger } from '../logger.js';
import { handleRefundEvent } from './refund-events.js';
import type { RefundGateway } from './refund-binding.js';
import { applyVerification } from './verify.js';

/**
 * Handling a stored Paystack event (the `payment.webhook` job). Idempotent: the inbox row says whether the
 * event was handled, and the verify path decides under the order lock from the state it finds.
 */

/** The job names an event that is not in the inbox: asking again will not make it appear. */
export class WebhookEventMissingError extends Error {
  override name = 'WebhookEventMissingError';
}

export interface WebhookEventDeps {
  paystack: Pick<PaystackClient, 'verifyTransaction'> & Pick<RefundGateway, 'listRefunds'>;
  publicUrl: string;
  log: Logger;
}

async function markProcessed(db: Db, eventId: string, result: string) {
  await db
    .updateTable('webhookEvents')
    .set({ processedAt: sql<Date>`now()`, result })
    .where('id', '=', eventId)
    .execute();
}

/** Paystack errors propagate (the job decides what is retried); the event is marked handled only after its work. */
export async function processWebhookEvent(db: Db, eventId: string, deps: WebhookEventDeps) {
  const row = await db
    .selectFrom('webhookEvents')
    .select(['id', 'event', 'payload', 'processedAt'])
    .where('id', '=', eventId)
    .executeTakeFirst();
  if (!row) throw new WebhookEventMissingError(`webhook event ${eventId} not found`);
  if (row.processedAt) return { skipped: 'already processed' };
  const payload = row.payload as { event?: string; data?: Record<string, unknown> };
  const data = payload.data ?? {};

  if (row.event === 'charge.success') {
    const reference = typeof data.reference === 'string' ? data.reference : undefined;
    if (!reference) {
      await markProcessed(db, eventId, 'ignored: no reference');
      return { ignored: true };
    }
    // The webhook only says "look": the amount and status come from the verify API.
    const result = await applyVerification(db, reference, {
      paystack: deps.paystack,
      publicUrl: deps.publicUrl,
      source: 'webhook',
    });
    await markProcessed(db, eventId, result.outcome);
    deps.log.info({ reference, outcome: result.outcome, orderId: result.orderId }, 'charge.success handled');
    return result;
  }

  if (row.event.startsWith('refund.')) {
    // Only a signal: which of our refunds it is about is read from Paystack's list of the transaction's refunds.
    const outcome = await handleRefundEvent(db, deps.paystack, { event: row.event, data });
    await markProcessed(db, eventId, outcome);
    deps.log.info({ event: row.event, outcome }, 'refund event handled');
    return { outcome };
  }

  await markProcessed(db, eventId, 'ignored');
  return { ignored: true };
}
