import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import PDFDocument from 'pdfkit';
import { formatMoney } from '../format.js';

/**
 * The invoice PDF. Text is set in DejaVu Sans (embedded, subset) because PDFKit's built-in Helvetica
 * has no ₦ (U+20A6). The fonts are parsed once per process with PDFKit's own fontkit and the parsed
 * objects handed to every document (PDFKit accepts them), and the document's default font is ours, so
 * PDFKit never loads Helvetica's metrics: that keeps a render at a few milliseconds instead of ~100.
 */
const require = createRequire(import.meta.url);
interface ParsedFont {
  layout(text: string): unknown;
}
let fonts: { regular: ParsedFont; bold: ParsedFont } | undefined;
function loadFonts() {
  if (!fonts) {
    // fontkit is PDFKit's dependency; resolving it from there guarantees the version PDFKit understands.
    const fontkit = require(require.resolve('fontkit', { paths: [require.resolve('pdfkit')] })) as {
      create(buffer: Buffer): ParsedFont;
    };
    const load = (file: string) =>
      fontkit.create(readFileSync(require.resolve(`dejavu-fonts-ttf/ttf/${file}`)));
    fonts = { regular: load('DejaVuSans.ttf'), bold: load('DejaVuSans-Bold.ttf') };
  }
  return fonts;
}

export interface InvoiceLine {
  title: string;
  variantTitle: string;
  sku: string;
  quantity: number;
  unitPrice: number;
  lineTotal: number;
}

export interface InvoiceDocument {
  shop: { name: string; address: string };
  number: string;
  issuedAt: Date;
  orderNumber: string;
  currency: string;
  customer: { name: string; email: string; address: string[] };
  items: InvoiceLine[];
  subtotal: number;
  discount: number;
  couponCode: string | null;
  shipping: number;
  shippingMethodName: string | null;
  tax: number;
  /** e.g. 0.075, printed as "VAT (7.5%)". */
  vatRate: number;
  total: number;
  amountPaid: number;
}

const dateFmt = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Africa/Lagos',
  day: 'numeric',
  month: 'long',
  year: 'numeric',
});
const percent = (rate: number) => `${Number((rate * 100).toFixed(2))}%`;

export function renderInvoicePdf(inv: InvoiceDocument): Promise<Buffer> {
  const { regular, bold } = loadFonts();
  const doc = new PDFDocument({
    size: 'A4',
    margin: 50,
    info: { Title: `Invoice ${inv.number}`, Author: inv.shop.name, CreationDate: inv.issuedAt },
    font: regular as unknown as string,
    // Deflating the content and font streams took half of each render; invoices are ~30 KB either way.
    compress: false,
  });
  doc.registerFont('body', regular as unknown as Buffer);
  doc.registerFont('bold', bold as unknown as Buffer);
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  const money = (v: number) => formatMoney(v, inv.currency);
  const left = 50;
  const right = doc.page.width - 50;
  const width = right - left;

  // Header: shop on the left, invoice facts on the right.
  doc.font('bold').fontSize(18).text(inv.shop.name, left, 50);
  doc.font('body').fontSize(9).fillColor('#444').text(inv.shop.address, left, 74, { width: 260 });
  doc.fillColor('#000').font('bold').fontSize(16).text('INVOICE', left, 50, { width, align: 'right' });
  doc.font('body').fontSize(9);
  doc.text(`Invoice number: ${inv.number}`, left, 72, { width, align: 'right' });
  doc.text(`Date: ${dateFmt.format(inv.issuedAt)}`, { width, align: 'right' });
  doc.text(`Order: ${inv.orderNumber}`, { width, align: 'right' });

  // Bill to.
  let y = 140;
  doc.font('bold').fontSize(10).text('Bill to', left, y);
  doc.font('body').fontSize(9);
  doc.text(inv.customer.name || inv.customer.email, left, y + 14);
  if (inv.customer.name) doc.text(inv.customer.email);
  for (const line of inv.customer.address) doc.text(line);

  // Items table.
  y = Math.max(doc.y + 20, 230);
  const cols = { item: left, qty: left + 280, unit: left + 320, total: left + 410 };
  const colWidth = { item: 270, qty: 35, unit: 85, total: width - 410 };
  doc.font('bold').fontSize(9);
  doc.text('Item', cols.item, y, { width: colWidth.item });
  doc.text('Qty', cols.qty, y, { width: colWidth.qty, align: 'right' });
  doc.text('Unit price', cols.unit, y, { width: colWidth.unit, align: 'right' });
  doc.text('Amount', cols.total, y, { width: colWidth.total, align: 'right' });
  y += 14;
  doc.moveTo(left, y).lineTo(right, y).lineWidth(0.5).stroke();
  y += 6;
  doc.font('body');
  for (const item of inv.items) {
    if (y > doc.page.height - 200) {
      doc.addPage();
      y = 50;
    }
    const label = `${item.title}${item.variantTitle ? ` (${item.variantTitle})` : ''}\nSKU ${item.sku}`;
    doc.text(label, cols.item, y, { width: colWidth.item });
    const rowBottom = doc.y;
    doc.text(String(item.quantity), cols.qty, y, { width: colWidth.qty, align: 'right' });
    doc.text(money(item.unitPrice), cols.unit, y, { width: colWidth.unit, align: 'right' });
    doc.text(money(item.lineTotal), cols.total, y, { width: colWidth.total, align: 'right' });
    y = rowBottom + 6;
  }
  doc.moveTo(left, y).lineTo(right, y).lineWidth(0.5).stroke();
  y += 8;

  // Totals.
  const totals: [string, string][] = [['Subtotal', money(inv.subtotal)]];
  if (inv.discount > 0)
    totals.push([`Discount${inv.couponCode ? ` (${inv.couponCode})` : ''}`, `-${money(inv.discount)}`]);
  totals.push([
    `Shipping${inv.shippingMethodName ? ` (${inv.shippingMethodName})` : ''}`,
    money(inv.shipping),
  ]);
  totals.push([`VAT (${percent(inv.vatRate)})`, money(inv.tax)]);
  for (const [label, value] of totals) {
    doc.font('body').text(label, cols.qty - 100, y, { width: 200, align: 'left' });
    doc.text(value, cols.total, y, { width: colWidth.total, align: 'right' });
    y += 14;
  }
  doc
    .font('bold')
    .fontSize(11)
    .text('Total', cols.qty - 100, y + 2, { width: 200 });
  doc.text(money(inv.total), cols.total - 40, y + 2, { width: colWidth.total + 40, align: 'right' });
  y += 22;
  doc
    .font('body')
    .fontSize(9)
    .text(`Paid: ${money(inv.amountPaid)} (${inv.currency})`, cols.qty - 100, y, { width: 300 });

  doc
    .fontSize(8)
    .fillColor('#666')
    .text(`Thank you for shopping with ${inv.shop.name}.`, left, doc.page.height - 80, {
      width,
      align: 'center',
    });
  doc.end();
  return done;
}
