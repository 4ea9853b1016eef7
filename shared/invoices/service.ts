import type { Config } from '../config.js';
import type { Db, DbOrTrx } from '../db/index.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { enqueueMail } from '../mail/enqueue.js';
import { wasEverPaid, type OrderStatus } from '../orders/state.js';
import { assignInvoiceNumber } from './numbering.js';
import { addressLines } from '../format.js';
import type { InvoiceDocument } from './pdf.js';
import { invoiceKey, type InvoiceStore } from './storage.js';

export class OrderNotPaidError extends ConflictError {
  constructor() {
    super('order_not_paid', 'The order has not been paid; its invoice is issued once payment is confirmed');
  }
}

export type InvoiceRenderResult = 'rendered' | 'already_rendered';

/**
 * The `invoice.render` job: number (once, gap-free), render, store, then mark rendered and queue the
 * receipt mail in one transaction. Safe to run any number of times: the number is assigned once, the
 * file name is fixed per invoice (a retry overwrites the same file), and only the run that flips
 * `rendered_at` queues the receipt. `render` makes the PDF: inline by default; the worker hands in its
 * thread pool's (render-pool.ts) so the layout runs off its event loop.
 */
export async function renderOrderInvoice(
  db: Db,
  store: InvoiceStore,
  config: Pick<Config, 'SHOP_NAME' | 'SHOP_ADDRESS' | 'VAT_RATE'>,
  orderId: string,
  // PDFKit (and its fonts) load on the first render, not in every process that imports invoices (the API).
  render: (doc: InvoiceDocument) => Promise<Buffer> = async (doc) => (await import('./pdf.js')).renderInvoicePdf(doc),
): Promise<{ result: InvoiceRenderResult; number: string }> {
  const invoice = await db.transaction().execute(async (trx) => {
    // The order lock serialises two renders of one order; the counter lock serialises numbering.
    const order = await trx
      .selectFrom('orders')
      .select(['id', 'status', 'paidAt'])
      .where('id', '=', orderId)
      .forUpdate()
      .executeTakeFirst();
    if (!order) throw new NotFoundError('Order');
    if (!order.paidAt && !wasEverPaid(order.status)) throw new OrderNotPaidError();
    return (await assignInvoiceNumber(trx, order.id, order.paidAt ? new Date(order.paidAt) : new Date()))
      .invoice;
  });
  if (invoice.renderedAt) return { result: 'already_rendered', number: invoice.number };

  const order = await db.selectFrom('orders').selectAll().where('id', '=', orderId).executeTakeFirstOrThrow();
  const items = await db
    .selectFrom('orderItems')
    .select(['title', 'variantTitle', 'sku', 'quantity', 'unitPrice', 'lineTotal'])
    .where('orderId', '=', orderId)
    .orderBy('title')
    .orderBy('id')
    .execute();
  const pdf = await render({
    shop: { name: config.SHOP_NAME, address: config.SHOP_ADDRESS },
    number: invoice.number,
    issuedAt: order.paidAt ? new Date(order.paidAt) : new Date(invoice.createdAt),
    orderNumber: order.number,
    currency: order.currency,
    customer: {
      name: order.customerName ?? '',
      email: order.email,
      address: addressLines(order.shippingAddress),
    },
    items,
    subtotal: order.subtotal,
    discount: order.discount,
    couponCode: order.couponCode,
    shipping: order.shipping,
    shippingMethodName: order.shippingMethodName,
    tax: order.tax,
    vatRate: config.VAT_RATE,
    total: order.total,
    amountPaid: order.amountPaid || order.total,
  });
  const key = invoiceKey(invoice);
  await store.put(key, pdf);

  const first = await db.transaction().execute(async (trx) => {
    const marked = await trx
      .updateTable('invoices')
      .set({ storageKey: key, renderedAt: new Date() })
      .where('id', '=', invoice.id)
      .where('renderedAt', 'is', null)
      .executeTakeFirst();
    if (Number(marked.numUpdatedRows) === 0) return false;
    await enqueueMail(
      trx,
      null,
      'payment-receipt',
      order.email,
      {
        name: order.customerName ?? '',
        orderId: order.id,
        orderNumber: order.number,
        invoiceNumber: invoice.number,
        amount: order.amountPaid || order.total,
        currency: order.currency,
      },
      { attachInvoiceOf: order.id },
    );
    return true;
  });
  return { result: first ? 'rendered' : 'already_rendered', number: invoice.number };
}

export async function findInvoice(db: DbOrTrx, orderId: string) {
  return db.selectFrom('invoices').selectAll().where('orderId', '=', orderId).executeTakeFirst();
}

/** Where an order's rendered invoice is stored and the name to download it as; undefined until rendered. */
export async function findRenderedInvoice(db: DbOrTrx, orderId: string) {
  const invoice = await findInvoice(db, orderId);
  if (!invoice?.storageKey || !invoice.renderedAt) return undefined;
  return { key: invoice.storageKey, filename: `${invoice.number}.pdf`, number: invoice.number };
}

/**
 * Why an order has no invoice to hand out yet: 409 `order_not_paid` before payment, 409 `invoice_pending`
 * (with Retry-After) for the seconds between payment and rendering.
 */
export function invoiceNotReady(orderStatus: OrderStatus): ConflictError {
  if (!wasEverPaid(orderStatus)) return new OrderNotPaidError();
  return new ConflictError('invoice_pending', 'The invoice is being prepared; try again in a few seconds', {
    headers: { 'retry-after': '5' },
  });
}

/** GET /orders/:id/invoice, for an order the caller may see: its rendered invoice, or the 409 saying why not yet. */
export async function invoiceForDownload(db: DbOrTrx, order: { id: string; status: OrderStatus }) {
  const invoice = await findRenderedInvoice(db, order.id);
  if (!invoice) throw invoiceNotReady(order.status);
  return invoice;
}

/** The stored PDF of an order's invoice, for mail attachments and downloads; undefined until rendered. */
export async function loadInvoicePdf(db: DbOrTrx, store: InvoiceStore, orderId: string) {
  const invoice = await findInvoice(db, orderId);
  if (!invoice?.storageKey || !invoice.renderedAt) return undefined;
  const content = await store.get(invoice.storageKey);
  if (!content) return undefined;
  return {
    filename: `${invoice.number}.pdf`,
    contentType: 'application/pdf',
    content,
    number: invoice.number,
  };
}
