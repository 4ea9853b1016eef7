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

/** One event waiting for its statement, with the request's id and the promise its route awaits. */
interface PendingEvent {
  eventKey: string;
  event: string;
  payload: string;
  handled: boolean;
  requestId: string | null;
  resolve: (result: StoreResult) => void;
  reject: (err: unknown) => void;
}

/** Statements of one inbox in flight at once: the rest of the API keeps the pool's other connections. */
const MAX_IN_FLIGHT = 4;
/** Events per statement at most (a burst after an outage is sent in several). */
const MAX_BATCH = 200;

/**
 * Inserts the events (distinct keys) and, for those we act on, their outbox jobs in ONE statement, which
 * is its own transaction: the inbox row and its job commit together or not at all. Returns the ids of
 * the events that were new, by key; a key already stored hits the unique key and is left out.
 */
async function insertEvents(db: Db, batch: readonly PendingEvent[]): Promise<Map<string, string>> {
  const job = jobs['payment.webhook'];
  const { rows } = await sql<{ id: string; eventKey: string }>`
    WITH input AS (
      SELECT * FROM unnest(${batch.map((p) => p.eventKey)}::text[], ${batch.map((p) => p.event)}::text[],
                           ${batch.map((p) => p.payload)}::text[], ${batch.map((p) => p.handled)}::bool[],
                           ${batch.map((p) => p.requestId)}::text[])
        AS i(event_key, event, payload, handled, request_id)
    ), event AS (
      INSERT INTO webhook_events (provider, event_key, event, payload, processed_at, result)
      SELECT 'paystack', event_key, event, payload::jsonb,
             CASE WHEN handled THEN NULL ELSE now() END, CASE WHEN handled THEN NULL ELSE 'ignored' END
      FROM input
      ON CONFLICT (provider, event_key) DO NOTHING
      RETURNING id, event_key
    ), job AS (
      INSERT INTO outbox (queue, name, payload, request_id)
      SELECT ${job.queue}, 'payment.webhook', jsonb_build_object('eventId', event.id), input.request_id
      FROM event JOIN input USING (event_key)
      WHERE input.handled
      RETURNING id
    )
    SELECT event.id, event.event_key, (SELECT count(pg_notify(${OUTBOX_CHANNEL}, '')) FROM job) AS notified
    FROM event`.execute(db);
  return new Map(rows.map((r) => [r.eventKey, r.id]));
}

/**
 * The webhook inbox of one database handle: events arriving while its statements are in flight wait
 * and go together in the next one (application-side group commit). A lone event goes at once, so at a
 * trickle each webhook costs exactly its one statement and no added wait; under a burst, one commit
 * acknowledges many. Each route still answers only after its own event has committed.
 */
class WebhookInbox {
  private waiting: PendingEvent[] = [];
  private inFlight = 0;

  constructor(private readonly db: Db) {}

  store(event: Omit<PendingEvent, 'resolve' | 'reject'>): Promise<StoreResult> {
    return new Promise<StoreResult>((resolve, reject) => {
      this.waiting.push({ ...event, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < MAX_IN_FLIGHT && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, MAX_BATCH);
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async flush(batch: PendingEvent[]): Promise<void> {
    // Two deliveries of one event in the same batch: the first is stored, the other is its duplicate.
    const first = new Map<string, PendingEvent>();
    for (const p of batch) if (!first.has(p.eventKey)) first.set(p.eventKey, p);
    const distinct = [...first.values()];
    let stored: Map<string, string>;
    try {
      stored = await insertEvents(this.db, distinct);
    } catch (err) {
      // A body PostgreSQL refuses as jsonb (SQLSTATE class 22, e.g. \u0000) must not fail the events
      // beside it: each goes alone, and only the bad one answers 500. Anything else fails them all.
      const code = (err as { code?: unknown }).code;
      const dataError = typeof code === 'string' && code.startsWith('22');
      if (distinct.length > 1 && dataError) {
        await Promise.all(distinct.map((p) => this.flush(batch.filter((q) => q.eventKey === p.eventKey))));
      } else {
        for (const p of batch) p.reject(err);
      }
      return;
    }
    for (const p of batch) {
      const id = first.get(p.eventKey) === p ? stored.get(p.eventKey) : undefined;
      p.resolve(id ? { eventId: id, duplicate: false } : { eventId: null, duplicate: true });
    }
  }
}

const inboxes = new WeakMap<Db, WebhookInbox>();

/**
 * Stores the event in the inbox and, for events we act on, its outbox job, atomically: after this the
 * work cannot be lost, and a second delivery of the same event hits the unique key and does nothing.
 *
 * One statement instead of `db.transaction()` + `enqueue()`: a single statement is its own transaction,
 * and this is the hot path Paystack waits on. It writes exactly the outbox row `enqueue` would (same
 * queue, name, payload shape, request id) and the same NOTIFY. Concurrent events share the statement
 * (see WebhookInbox): at most one statement per webhook, fewer under load.
 */
export function storeWebhookEvent(db: Db, body: WebhookBody, rawBody: Buffer): Promise<StoreResult> {
  let inbox = inboxes.get(db);
  if (!inbox) inboxes.set(db, (inbox = new WebhookInbox(db)));
  return inbox.store({
    eventKey: webhookEventKey(body, rawBody),
    event: body.event,
    payload: rawBody.toString('utf8'),
    handled: HANDLED_EVENTS.has(body.event),
    requestId: currentRequestId() ?? null,
  });
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
