import type { AttachmentContext, MailAttachment } from '../mail/attachments.js';
import { loadInvoicePdf } from './service.js';
import { privateFiles } from '../media/files.js';

/**
 * The mail pipeline's `attachInvoiceOf` hook: the stored PDF of an order's invoice, read back from the
 * private file store (disk or media host); null while it is not rendered yet (the mail job then retries with backoff).
 */
export async function invoiceAttachment(
  orderId: string,
  ctx: AttachmentContext,
): Promise<MailAttachment | null> {
  const pdf = await loadInvoicePdf(ctx.db, await privateFiles(ctx.config), orderId);
  return pdf ? { filename: pdf.filename, content: pdf.content, contentType: pdf.contentType } : null;
}
