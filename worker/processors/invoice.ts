import { UnrecoverableError } from 'bullmq';
import { OrderNotPaidError, renderOrderInvoice } from '../../shared/invoices/service.js';
import { privateFiles } from '../../shared/media/files.js';
import type { ProcessorDefinition } from '../context.js';

/**
 * Invoices. Rendering is CPU work on the event loop (~15 ms of PDFKit layout and font subsetting per
 * invoice), so this queue runs ONE job at a time per worker process: at most one render sits between
 * any two turns of the event loop, far below the 30 s lock duration of the other queues' jobs, so they
 * keep renewing locks and running. A BullMQ sandboxed processor would need its own Worker construction
 * in worker/main.ts for one queue; at these render times concurrency 1 gives the same guarantee, and
 * more PDFs per second come from more worker replicas (`WORKER_QUEUES=invoices`).
 */
export const invoiceProcessor: ProcessorDefinition<'invoice'> = {
  concurrency: 1,
  handlers: {
    'invoice.render': async ({ orderId }, { db, config, log }) => {
      try {
        const out = await renderOrderInvoice(db, await privateFiles(config), config, orderId);
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
