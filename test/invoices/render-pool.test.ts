import t from 'tap';
import { renderInvoicePdf, type InvoiceDocument } from '../../shared/invoices/pdf.js';
import { createRenderPool } from '../../shared/invoices/render-pool.js';

const doc = (n: number): InvoiceDocument => ({
  shop: { name: 'Agape', address: '1 Marina, Lagos' },
  number: `INV-2026-${String(n).padStart(6, '0')}`,
  issuedAt: new Date('2026-12-01T10:00:00Z'),
  orderNumber: `AGP-${String(n).padStart(6, '0')}`,
  currency: 'NGN',
  customer: { name: 'Ada Obi', email: 'ada@example.com', address: ['1 Marina', 'Lagos'] },
  items: [{ title: 'Adire kaftan', variantTitle: 'L', sku: 'ADR-L', quantity: 2, unitPrice: 1_850_000, lineTotal: 3_700_000 }],
  subtotal: 3_700_000,
  discount: 0,
  couponCode: null,
  shipping: 150_000,
  shippingMethodName: 'Standard',
  tax: 277_500,
  vatRate: 0.075,
  total: 4_127_500,
  amountPaid: 4_127_500,
});

t.test('the render threads make the same PDFs as the inline render, many at once', async (t) => {
  const pool = createRenderPool(2);
  t.teardown(() => pool.close());
  const docs = Array.from({ length: 9 }, (_, i) => doc(i + 1));
  const pdfs = await Promise.all(docs.map((d) => pool.render(d)));
  for (const [i, pdf] of pdfs.entries()) {
    t.ok(Buffer.isBuffer(pdf));
    t.equal(pdf.subarray(0, 5).toString(), '%PDF-');
    t.ok(pdf.includes(Buffer.from(docs[i].number)), `PDF ${i + 1} is its own document`);
  }
  const inline = await renderInvoicePdf(docs[0]);
  t.ok(inline.equals(pdfs[0]), 'byte for byte what the event loop would render');

  await pool.close();
  const after = await pool.render(docs[1]);
  t.ok(after.equals(pdfs[1]), 'a closed pool renders inline');
});
