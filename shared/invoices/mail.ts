import type { AttachmentContext, MailAttachment } from '../mail/attachments.js';
import { loadInvoicePdf } from './service.js';
import { createInvoiceStore } from './storage.js';

/**
 * The mail pipeline's `attachInvoiceOf` hook: the stored PDF of an order's invoice, read back from the
 * invoice store; null while it is not rendered yet (the mail job then retries with backoff).
 */
export async function invoiceAttachment(
  orderId: string,
  ctx: AttachmentContext,
): Promise<MailAttachment | null> {
  const pdf = await loadInvoicePdf(ctx.db, createInvoiceStore(ctx.config.MEDIA_DIR), orderId);
  return pdf ? { filename: pdf.filename, content: pdf.content, contentType: pdf.contentType } : null;
}
