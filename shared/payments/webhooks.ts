import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import { currentRequestId } from '../context.js';
import { BadRequestError, UnauthorizedError } from '../errors.js';
import { verifyWebhookSignature } from '../integrations/paystack/client.js';
import { OUTBOX_CHANNEL } from '../outbox.js';
import { jobs } from '../queues.js';

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
 * Stores the event in the inbox and, for events we act on, its outbox job, atomically: after this the
 * work cannot be lost, and a second delivery of the same event hits the unique key and does nothing.
 *
 * One statement instead of `db.transaction()` + `enqueue()`: a single statement is its own transaction,
 * and this is the hot path Paystack waits on (one round trip instead of five). It writes exactly the
 * outbox row `enqueue` would (same queue, name, payload shape, request id) and the same NOTIFY.
 */
export async function storeWebhookEvent(db: Db, body: WebhookBody, rawBody: Buffer): Promise<StoreResult> {
  const eventKey = webhookEventKey(body, rawBody);
  const handled = HANDLED_EVENTS.has(body.event);
  const job = jobs['payment.webhook'];
  const { rows } = await sql<{ id: string }>`
    WITH event AS (
      INSERT INTO webhook_events (provider, event_key, event, payload, processed_at, result)
      VALUES ('paystack', ${eventKey}, ${body.event}, ${rawBody.toString('utf8')}::jsonb,
              ${handled ? null : sql`now()`}, ${handled ? null : 'ignored'})
      ON CONFLICT (provider, event_key) DO NOTHING
      RETURNING id
    ), job AS (
      INSERT INTO outbox (queue, name, payload, request_id)
      SELECT ${job.queue}, 'payment.webhook', jsonb_build_object('eventId', event.id), ${currentRequestId() ?? null}
      FROM event WHERE ${handled}
      RETURNING id
    )
    SELECT event.id, (SELECT count(pg_notify(${OUTBOX_CHANNEL}, '')) FROM job) AS notified FROM event`.execute(
    db,
  );
  const row = rows[0];
  return row ? { eventId: row.id, duplicate: false } : { eventId: null, duplicate: true };
}

/**
 * `POST /webhooks/paystack`: the signature is an HMAC of exactly the raw bytes, checked before anything
 * is parsed; then the event is stored once (`storeWebhookEvent`). Without a secret key nothing is accepted.
 */
export async function receivePaystackWebhook(
  db: Db,
  raw: Buffer,
  signature: string | undefined,
  secretKey: string | undefined,
): Promise<StoreResult & { event: string }> {
  if (!secretKey || !verifyWebhookSignature(raw, signature, secretKey)) {
    throw new UnauthorizedError('invalid_signature', 'The webhook signature does not match');
  }
  const body = parseWebhookBody(raw);
  if (!body) throw new BadRequestError('validation_failed', 'A webhook body is a JSON object {event, data}');
  return { event: body.event, ...(await storeWebhookEvent(db, body, raw)) };
}
