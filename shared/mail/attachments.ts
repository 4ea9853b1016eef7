import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import type { Logger } from '../logger.js';

export interface MailAttachment {
  filename: string;
  content: Buffer;
  contentType: string;
}

export interface AttachmentContext {
  db: Db;
  config: Config;
  log: Logger;
}

/**
 * Turns an `email.send` payload's references into files, in the worker. `invoice` answers the payload's
 * `attachInvoiceOf` (an order id) with the invoice PDF, or null while the invoice is not rendered yet
 * (the mail job then retries with backoff). The worker plugs in the invoices domain's loader
 * (shared/invoices/mail.ts): mail sits below the domains that send mail, so it never imports them.
 */
export interface AttachmentResolvers {
  invoice?: (orderId: string, ctx: AttachmentContext) => Promise<MailAttachment | null>;
}

/** Thrown while an attachment is not available yet: the job retries. */
export class AttachmentNotReadyError extends Error {
  override name = 'AttachmentNotReadyError';
}

export async function resolveAttachments(
  payload: { attachInvoiceOf?: string },
  ctx: AttachmentContext,
  resolvers: AttachmentResolvers = {},
): Promise<MailAttachment[]> {
  const files: MailAttachment[] = [];
  if (payload.attachInvoiceOf) {
    if (!resolvers.invoice) throw new AttachmentNotReadyError('no invoice attachment resolver is configured');
    const invoice = await resolvers.invoice(payload.attachInvoiceOf, ctx);
    if (!invoice) throw new AttachmentNotReadyError(`invoice of order ${payload.attachInvoiceOf} is not ready`);
    files.push(invoice);
  }
  return files;
}
