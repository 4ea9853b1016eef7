import { createLocalFiles } from '../media/files.js';

/**
 * Where invoice PDFs live: the private file store (shared/media/files.ts), i.e. Cloudinary private raw
 * resources when CLOUDINARY_URL is set, `MEDIA_DIR/invoices/` otherwise. The worker that renders an
 * invoice and the API that serves it need not share a disk. Keys hold the invoice's random id, so a file
 * is unguessable even if a folder were ever served publicly.
 */
export interface InvoiceStore {
  put(key: string, bytes: Buffer): Promise<void>;
  get(key: string): Promise<Buffer | undefined>;
}

export function invoiceKey(invoice: { year: number; number: string; id: string }) {
  return `invoices/${invoice.year}/${invoice.number}-${invoice.id}.pdf`;
}

/** The local-disk store alone (tests and tools that work on one MEDIA_DIR). */
export function createInvoiceStore(mediaDir: string): InvoiceStore {
  return createLocalFiles(mediaDir);
}
