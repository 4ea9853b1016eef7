import { Type } from 'typebox';
import { formatMoney } from '../../format.js';
import { defineTemplate } from '../define.js';
import { button, html, paragraph } from '../html.js';

/** To the customer when the payment is confirmed (enqueued by the verify path with the order paid). */
export default defineTemplate({
  schema: Type.Object({
    orderId: Type.String(),
    orderNumber: Type.String(),
    name: Type.String(),
    total: Type.Integer(),
    currency: Type.String(),
    orderUrl: Type.String(),
  }),
  subject: (d, ctx) => `Order ${d.orderNumber} confirmed – ${ctx.shopName}`,
  html: (d) =>
    html`${paragraph(`Hello ${d.name || 'there'},`)}
    ${paragraph(`Thank you! We received your payment of ${formatMoney(d.total, d.currency)} for order ${d.orderNumber}. We are getting it ready and will mail you when it ships.`)}
    ${button(d.orderUrl, 'View your order')} ${paragraph('Your invoice follows in a separate mail.')}`,
  text: (d) => `Hello ${d.name || 'there'},

Thank you! We received your payment of ${formatMoney(d.total, d.currency)} for order ${d.orderNumber}.
We are getting it ready and will mail you when it ships.

View your order: ${d.orderUrl}

Your invoice follows in a separate mail.`,
});
