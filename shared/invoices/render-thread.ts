import { parentPort } from 'node:worker_threads';
import { renderInvoicePdf, type InvoiceDocument } from './pdf.js';

/**
 * One invoice renderer thread (see render-pool.ts): renders the documents it is sent one at a time and
 * hands each PDF back by transfer.
 */
parentPort?.on('message', (message: { id: number; doc: InvoiceDocument }) => {
  renderInvoicePdf(message.doc).then(
    (pdf) => {
      // Its own ArrayBuffer (a Buffer may sit in a shared slab), moved to the pool rather than cloned again.
      const owned = new Uint8Array(pdf);
      parentPort!.postMessage({ id: message.id, pdf: owned }, [owned.buffer]);
    },
    (err: unknown) =>
      parentPort!.postMessage({ id: message.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
// Loaded (fonts parse on the first render): the pool may count on this thread.
parentPort?.postMessage({ ready: true });
