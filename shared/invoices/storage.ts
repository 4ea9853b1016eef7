import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Where invoice PDFs live. The media storage (shared/media) is for images (it derives presets with
 * sharp), so invoices get this small store of their own: files under `MEDIA_DIR/invoices/`. Keys hold
 * the invoice's random id, so a file is unguessable even if that folder were ever served publicly.
 * A Cloudinary "raw" upload could implement the same two methods for multi-host deployments.
 */
export interface InvoiceStore {
  put(key: string, bytes: Buffer): Promise<void>;
  get(key: string): Promise<Buffer | undefined>;
}

export function invoiceKey(invoice: { year: number; number: string; id: string }) {
  return `invoices/${invoice.year}/${invoice.number}-${invoice.id}.pdf`;
}

export function createInvoiceStore(mediaDir: string): InvoiceStore {
  const root = path.resolve(mediaDir);
  const fileOf = (key: string) => {
    const file = path.resolve(root, key);
    if (!file.startsWith(`${root}${path.sep}invoices${path.sep}`))
      throw new Error(`invalid invoice key ${key}`);
    return file;
  };
  return {
    async put(key, bytes) {
      const file = fileOf(key);
      await mkdir(path.dirname(file), { recursive: true });
      // Write then rename: a reader never sees half a PDF, a retried job just replaces the file.
      const tmp = `${file}.${randomUUID()}.tmp`;
      await writeFile(tmp, bytes);
      await rename(tmp, file);
    },
    async get(key) {
      try {
        return await readFile(fileOf(key));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
  };
}
