import { UnrecoverableError } from 'bullmq';
import { invoiceRenderPool } from '../../shared/invoices/render-pool.js';
import { OrderNotPaidError, renderOrderInvoice } from '../../shared/invoices/service.js';
import { privateFiles } from '../../shared/media/files.js';
import type { ProcessorDefinition } from '../context.js';

const renderer = invoiceRenderPool();

/**
 * Invoices. The PDF layout (~15–25 ms of PDFKit CPU each) runs in the render pool's threads, one per core
 * (shared/invoices/render-pool.ts), so it neither stalls this process's event loop (other queues' jobs,
 * lock renewals) nor leaves cores idle. Four jobs per thread run at once: while one job's PDF is
 * being laid out, another does its statements and file write, so the threads never wait on the database.
 * More PDFs per second beyond the cores come from more worker replicas (`WORKER_QUEUES=invoices`).
 */
export const invoiceProcessor: ProcessorDefinition<'invoice'> = {
  concurrency: renderer.size * 4,
  handlers: {
    'invoice.render': async ({ orderId }, { db, config, log }) => {
      try {
        const out = await renderOrderInvoice(db, await privateFiles(config), config, orderId, (doc) =>
          renderer.render(doc),
        );
        log.info({ orderId, ...out }, 'invoice rendered');
        return out;
      } catch (err) {
        // Only a paid order gets an invoice; the verify path enqueues this job when it commits "paid".
        if (err instanceof OrderNotPaidError) throw new UnrecoverableError(err.message);
        throw err;
      }
    },
  },
};
