import { sql } from 'kysely';
import type { Static } from 'typebox';
import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import type { Logger } from '../logger.js';
import type { EmailPayload } from '../queues.js';
import { resolveAttachments, type AttachmentResolvers } from './attachments.js';
import { renderMail } from './render.js';
import type { MailTransport } from './transport.js';

export interface DeliverDeps {
  db: Db;
  config: Config;
  log: Logger;
  transport: MailTransport;
  resolvers?: AttachmentResolvers;
  /**
   * The signed link to an order (shared/orders/links.ts), for a payload's `orderLinkOf`. Handed in by the
   * worker rather than imported: orders send mail, so mail never imports orders.
   */
  orderUrl?: (orderId: string) => string;
}

/** Another attempt of the same job holds the claim right now: retry later rather than send twice. */
export class DeliveryInFlightError extends Error {
  override name = 'DeliveryInFlightError';
}

/** A claim older than this belongs to an attempt that died mid-send (worker crash); a new one may take it. */
const STALE_CLAIM_SECONDS = 120;

/**
 * Sends the mail of one job at most once per acceptance:
 * 1. claim: insert the `email_deliveries` row (transport_id NULL = in flight) keyed by the job id;
 *    an existing row with a transport id means the transport accepted it already: done.
 * 2. render + send; a failure deletes the claim (nothing was accepted) and rethrows (BullMQ retries).
 * 3. record the provider's id on the row.
 * Only a crash between the provider's acceptance and step 3 can lead to a second send; the stable
 * idempotency key (Resend's Idempotency-Key, the SMTP Message-ID) lets the provider or receiver drop it.
 */
export async function deliverEmail(
  deps: DeliverDeps,
  jobId: string,
  payload: Static<typeof EmailPayload>,
): Promise<{ sent: boolean; transportId: string | null }> {
  const { db, config, log, transport } = deps;
  const claimed = await db
    .insertInto('emailDeliveries')
    .values({ jobId, template: payload.template, recipient: payload.to, transportId: null })
    .onConflict((oc) =>
      // Take over only a stale claim (a dead attempt); a fresh one or a finished one stays.
      oc
        .column('jobId')
        .doUpdateSet({ sentAt: sql`now()` })
        .where('emailDeliveries.transportId', 'is', null)
        .where('emailDeliveries.sentAt', '<', sql<Date>`now() - make_interval(secs => ${STALE_CLAIM_SECONDS})`),
    )
    .returning('jobId')
    .executeTakeFirst();
  if (!claimed) {
    const existing = await db
      .selectFrom('emailDeliveries')
      .select('transportId')
      .where('jobId', '=', jobId)
      .executeTakeFirst();
    if (existing?.transportId) {
      log.info({ template: payload.template }, 'mail already sent for this job: skipping');
      return { sent: false, transportId: existing.transportId };
    }
    throw new DeliveryInFlightError(`job ${jobId} is being sent by another attempt`);
  }

  let transportId: string;
  try {
    // The order link is signed here, at send time, by the one link builder: the payload only names the order.
    let data = payload.data;
    if (payload.orderLinkOf) {
      if (!deps.orderUrl) throw new Error('deliverEmail: a mail with orderLinkOf needs the orderUrl builder');
      data = { ...data, orderUrl: deps.orderUrl(payload.orderLinkOf) };
    }
    const rendered = renderMail(config, payload.template, data);
    const attachments = await resolveAttachments(payload, { db, config, log }, deps.resolvers);
    transportId = await transport.send({
      from: config.MAIL_FROM,
      to: payload.to,
      ...rendered,
      attachments,
      idempotencyKey: `email-${jobId}`,
    });
  } catch (err) {
    await db.deleteFrom('emailDeliveries').where('jobId', '=', jobId).where('transportId', 'is', null).execute();
    throw err;
  }
  await db
    .updateTable('emailDeliveries')
    .set({ transportId, sentAt: sql`now()` })
    .where('jobId', '=', jobId)
    .execute();
  log.info({ template: payload.template, transport: transport.kind, transportId }, 'mail sent');
  return { sent: true, transportId };
}
