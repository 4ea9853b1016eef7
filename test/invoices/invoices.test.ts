import { randomUUID } from 'node:crypto';
import { PDFParse } from 'pdf-parse';
import t from 'tap';
import { createDb, type Db } from '../../shared/db/index.js';
import { assignInvoiceNumber, invoiceYear } from '../../shared/invoices/numbering.js';
import { formatMoney } from '../../shared/format.js';
import { renderOrderInvoice } from '../../shared/invoices/service.js';
import { createInvoiceStore } from '../../shared/invoices/storage.js';
import { testEnv, tokenFor } from '../support/harness.js';
import { createPendingOrder, startPaymentStack, until } from '../support/payment-fixtures.js';
import { createPaidOrder } from '../support/fleet-fixtures.js';
import { createUser } from '../support/fixtures.js';
import { startSmtpSink } from '../support/smtp-sink.js';

const pdfText = async (data: Buffer) => {
  const parser = new PDFParse({ data: new Uint8Array(data) });
  try {
    return (await parser.getText()).text;
  } finally {
    await parser.destroy();
  }
};

/** A paid order written directly (numbering does not care how it was paid). */
async function paidOrder(db: Db) {
  const o = await createPendingOrder(db);
  await db
    .updateTable('orders')
    .set({ status: 'paid', paidAt: new Date(), amountPaid: o.total })
    .where('id', '=', o.orderId)
    .execute();
  return o;
}

t.test('money is printed in Naira with the ₦ sign, integers only', async (t) => {
  t.equal(formatMoney(1_250_000), '₦12,500.00');
  t.equal(formatMoney(5), '₦0.05');
  t.equal(formatMoney(123_456_789_01), '₦123,456,789.01');
  t.equal(formatMoney(-150_000), '-₦1,500.00');
  t.equal(formatMoney(1000, 'USD'), '$10.00');
});

t.test('invoice numbers are gap-free per year under concurrency, one per order', async (t) => {
  const { config, db } = await testEnv(t);
  const store = createInvoiceStore(config.MEDIA_DIR);
  const orders: Awaited<ReturnType<typeof paidOrder>>[] = [];
  for (let i = 0; i < 8; i++) orders.push(await paidOrder(db));

  // A transaction that takes a number and then rolls back must not leave a hole.
  await t.rejects(
    db.transaction().execute(async (trx) => {
      await assignInvoiceNumber(trx, orders[0].orderId, new Date());
      throw new Error('crash after numbering');
    }),
  );

  // Every order rendered twice at once (a duplicated job), all orders in parallel.
  // Its own pool as big as the worker's: renders queue on the counter row, not on connections.
  const pool = createDb(config.DATABASE_URL, { poolSize: 16 });
  t.teardown(() => pool.destroy());
  const results = await Promise.all(
    orders.flatMap((o) => [o, o]).map((o) => renderOrderInvoice(pool, store, config, o.orderId)),
  );
  const rows = await db
    .selectFrom('invoices')
    .select(['orderId', 'number', 'sequence', 'year', 'renderedAt'])
    .orderBy('sequence')
    .execute();
  const year = invoiceYear(new Date());
  t.equal(rows.length, 8, 'one invoice per order');
  t.same(
    rows.map((r) => r.sequence),
    Array.from({ length: 8 }, (_, i) => i + 1),
    'sequences 1..8 without gaps',
  );
  t.equal(rows[0].number, `INV-${year}-000001`);
  t.equal(rows[7].number, `INV-${year}-000008`);
  t.ok(
    rows.every((r) => r.renderedAt),
    'all rendered',
  );
  t.equal(
    results.filter((r) => r.result === 'rendered').length,
    8,
    'each order rendered (and its receipt queued) once',
  );
  const receipts = await db.selectFrom('outbox').select('payload').where('name', '=', 'email.send').execute();
  t.equal(receipts.length, 8, 'one receipt mail per order');
  const counter = await db
    .selectFrom('invoiceCounters')
    .selectAll()
    .where('year', '=', year)
    .executeTakeFirstOrThrow();
  t.equal(counter.lastValue, 8);

  const unpaid = await createPendingOrder(db);
  await t.rejects(renderOrderInvoice(db, store, config, unpaid.orderId), { code: 'order_not_paid' });
  t.equal(
    (await db.selectFrom('invoiceCounters').selectAll().executeTakeFirstOrThrow()).lastValue,
    8,
    'no number for unpaid orders',
  );
});

t.test(
  'paid order → invoice job → readable PDF, receipt mail with the PDF attached, download route',
  async (t) => {
    const sink = await startSmtpSink();
    t.teardown(() => sink.close());
    const stack = await startPaymentStack(t, {
      queues: ['invoice', 'email'],
      env: { SMTP_URL: sink.url, SHOP_NAME: 'Agape Test Boutique', SHOP_ADDRESS: '7 Marina Road, Lagos' },
    });
    const { db, app } = stack;
    const { id: ownerId } = await createUser(db, { name: 'Ada' });
    // Before payment: 409.
    const pending = await createPendingOrder(db, { userId: ownerId });
    const early = await app.inject({
      method: 'GET',
      url: `/api/v1/orders/${pending.orderId}/invoice`,
      headers: { authorization: tokenFor(app, 'customer', ownerId) },
    });
    t.equal(early.statusCode, 409);
    t.equal(early.json().code, 'order_not_paid');

    // ₦12,500.00 × 2 = ₦25,000.00; discount ₦2,000.00; shipping ₦1,500.00; VAT 7.5% of ₦23,000.00 = ₦1,725.00.
    const order = await createPaidOrder(db, stack, {
      price: 1_250_000,
      quantity: 2,
      userId: ownerId,
      totals: { discount: 200_000, shipping: 150_000, tax: 172_500, couponCode: 'WELCOME' },
    });
    t.equal(order.total, 2_622_500);

    const mail = await sink.waitFor((m) => m.to.includes(order.email) && /Receipt/.test(m.subject), 20_000);
    t.equal(mail.attachments.length, 1, 'the receipt carries one attachment');
    t.equal(mail.attachments[0].contentType, 'application/pdf');
    const invoice = await db
      .selectFrom('invoices')
      .selectAll()
      .where('orderId', '=', order.orderId)
      .executeTakeFirstOrThrow();
    t.equal(mail.attachments[0].filename, `${invoice.number}.pdf`);
    t.match(mail.subject, invoice.number);
    const attached = mail.parsed.attachments[0].content;
    const text = await pdfText(attached);
    t.match(text, invoice.number, 'invoice number in the PDF');
    t.match(text, 'Agape Test Boutique');
    t.match(text, '7 Marina Road, Lagos');
    t.match(text, order.number, 'order number');
    t.match(text, /Ankara dress [0-9a-f]{8}/, 'item title');
    t.match(text, '₦12,500.00', 'unit price with the Naira sign');
    t.match(text, '₦25,000.00', 'subtotal');
    t.match(text, 'Discount (WELCOME)');
    t.match(text, '-₦2,000.00');
    t.match(text, '₦1,500.00', 'shipping');
    t.match(text, 'VAT (7.5%)');
    t.match(text, '₦1,725.00', 'VAT amount');
    t.match(text, '₦26,225.00', 'total');
    t.notMatch(text, '¦', 'no broken glyph for ₦');
    t.match(text, 'Ada Obi', 'customer');

    // The download route: owner and staff get the same PDF; other customers and strangers 404.
    const own = await app.inject({
      method: 'GET',
      url: `/api/v1/orders/${order.orderId}/invoice`,
      headers: { authorization: tokenFor(app, 'customer', ownerId) },
    });
    t.equal(own.statusCode, 200);
    t.equal(own.headers['content-type'], 'application/pdf');
    t.match(String(own.headers['content-disposition']), `${invoice.number}.pdf`);
    t.same(own.rawPayload, attached, 'the downloaded PDF is the mailed one');
    const staff = await app.inject({
      method: 'GET',
      url: `/api/v1/orders/${order.orderId}/invoice`,
      headers: { authorization: tokenFor(app, 'support') },
    });
    t.equal(staff.statusCode, 200);
    const other = await app.inject({
      method: 'GET',
      url: `/api/v1/orders/${order.orderId}/invoice`,
      headers: { authorization: tokenFor(app, 'customer', randomUUID()) },
    });
    t.equal(other.statusCode, 404);
    const anonymous = await app.inject({ method: 'GET', url: `/api/v1/orders/${order.orderId}/invoice` });
    t.equal(anonymous.statusCode, 404);
    const bad = await app.inject({
      method: 'GET',
      url: `/api/v1/orders/not-a-uuid/invoice`,
      headers: { authorization: tokenFor(app, 'support') },
    });
    t.equal(bad.statusCode, 400);

    // The job is idempotent: running it again neither renumbers nor mails again.
    await db.transaction().execute(async (trx) => {
      const { enqueue } = await import('../../shared/outbox.js');
      await enqueue(trx, 'invoice.render', { orderId: order.orderId });
    });
    await until(async () => {
      const jobs = await stack.worker!.deps.queues.invoice.getJobs(['completed']);
      return jobs.length >= 2;
    });
    const again = await db
      .selectFrom('invoices')
      .selectAll()
      .where('orderId', '=', order.orderId)
      .executeTakeFirstOrThrow();
    t.equal(again.number, invoice.number);
    t.equal(sink.messages.filter((m) => /Receipt/.test(m.subject)).length, 1, 'one receipt');
  },
);
