import { Type } from 'typebox';
import { formatMoney } from '../../format.js';
import { defineTemplate } from '../define.js';
import { html, paragraph } from '../html.js';

/** The receipt with the invoice PDF attached (`attachInvoiceOf`), sent once the invoice is rendered. */
export default defineTemplate({
  schema: Type.Object({
    name: Type.String(),
    orderId: Type.String(),
    orderNumber: Type.String(),
    invoiceNumber: Type.String(),
    amount: Type.Integer(),
    currency: Type.String(),
  }),
  subject: (d, ctx) => `Receipt for order ${d.orderNumber} (invoice ${d.invoiceNumber}) – ${ctx.shopName}`,
  html: (d) =>
    html`${paragraph(`Hello ${d.name || 'there'},`)}
    ${paragraph(`This is your receipt for order ${d.orderNumber}: ${formatMoney(d.amount, d.currency)} paid.`)}
    ${paragraph(`Invoice ${d.invoiceNumber} is attached as a PDF.`)}`,
  text: (d) => `Hello ${d.name || 'there'},

This is your receipt for order ${d.orderNumber}: ${formatMoney(d.amount, d.currency)} paid.
Invoice ${d.invoiceNumber} is attached as a PDF.`,
});
