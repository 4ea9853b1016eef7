import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import { enqueue } from '../outbox.js';

/** Events whose work happens in the payment processor; every other event is stored and ignored. */
export const HANDLED_EVENTS = new Set([
  'charge.success',
  'refund.pending',
  'refund.processing',
  'refund.processed',
  'refund.failed',
  'refund.needs-attention',
]);

export interface WebhookBody {
  event: string;
  data: Record<string, unknown>;
}

const text = (v: unknown) =>
  v === null || v === undefined ? '' : typeof v === 'string' || typeof v === 'number' ? String(v) : '';

/**
 * The identity of a Paystack event (Paystack sends no event id). Per PAYSTACK.md: `charge.success` by
 * the transaction id (or reference); refund events by transaction reference + refund reference (null
 * while pending/processing) + amount. Anything else: a hash of the bytes, so exact replays dedupe.
 */
export function webhookEventKey(body: WebhookBody, rawBody: Buffer): string {
  const d = body.data;
  if (body.event === 'charge.success') return `charge.success:${text(d.id) || text(d.reference)}`;
  if (body.event.startsWith('refund.')) {
    return `${body.event}:${text(d.transaction_reference)}:${text(d.refund_reference)}:${text(d.amount)}`;
  }
  return `${body.event}:sha256:${createHash('sha256').update(rawBody).digest('hex')}`;
}

/** Parses a signed body into `{event, data}`; undefined for anything else. */
export function parseWebhookBody(rawBody: Buffer): WebhookBody | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawBody.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object') return undefined;
  const { event, data } = parsed as { event?: unknown; data?: unknown };
  if (typeof event !== 'string' || !event || event.length > 100) return undefined;
  if (!data || typeof data !== 'object' || Array.isArray(data)) return undefined;
  return { event, data: data as Record<string, unknown> };
}

export type StoreResult = { eventId: string; duplicate: false } | { eventId: null; duplicate: true };

/**
 * Stores the event in the inbox and, for events we act on, its outbox job, in one transaction: after
 * the commit the work cannot be lost, and a second delivery of the same event hits the unique key and
 * does nothing.
 */
export async function storeWebhookEvent(db: Db, body: WebhookBody, rawBody: Buffer): Promise<StoreResult> {
  const eventKey = webhookEventKey(body, rawBody);
  const handled = HANDLED_EVENTS.has(body.event);
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('webhookEvents')
      .values({
        provider: 'paystack',
        eventKey,
        event: body.event,
        // Stored as received (jsonb normalises whitespace; the signature was already checked on the bytes).
        payload: sql`${rawBody.toString('utf8')}::jsonb`,
        ...(handled ? {} : { processedAt: sql<Date>`now()`, result: 'ignored' }),
      })
      .onConflict((oc) => oc.columns(['provider', 'eventKey']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!row) return { eventId: null, duplicate: true };
    if (handled) await enqueue(trx, 'payment.webhook', { eventId: row.id });
    return { eventId: row.id, duplicate: false };
  });
}
