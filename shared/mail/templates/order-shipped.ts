import { Type } from 'typebox';
import { addressLines } from '../../format.js';
import { defineTemplate } from '../define.js';
import { button, html, paragraph } from '../html.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) =>
  Type.Optional(Type.Union([t, Type.Null()]));

/** To the customer when staff mark the order shipped (shared/orders/lifecycle.ts). */
export default defineTemplate({
  schema: Type.Object({
    orderId: Type.String(),
    number: Type.String(),
    customerName: Nullable(Type.String()),
    trackingNumber: Nullable(Type.String()),
    carrier: Nullable(Type.String()),
    shippingMethod: Nullable(Type.String()),
    shippingAddress: Type.Optional(Type.Unknown()),
    orderUrl: Type.String(),
  }),
  subject: (d, ctx) => `Order ${d.number} is on its way – ${ctx.shopName}`,
  html: (d) => {
    const tracking = d.trackingNumber
      ? `Tracking number: ${d.trackingNumber}${d.carrier ? ` (${d.carrier})` : ''}`
      : '';
    const address = addressLines(d.shippingAddress).join(', ');
    return html`${paragraph(`Hello ${d.customerName || 'there'},`)}
    ${paragraph(`Good news: order ${d.number} has shipped${d.shippingMethod ? ` by ${d.shippingMethod}` : ''}.`)}
    ${tracking ? paragraph(tracking) : ''} ${address ? paragraph(`It is going to: ${address}`) : ''}
    ${button(d.orderUrl, 'Track your order')}`;
  },
  text: (d) => {
    const address = addressLines(d.shippingAddress).join(', ');
    return [
      `Hello ${d.customerName || 'there'},`,
      '',
      `Good news: order ${d.number} has shipped${d.shippingMethod ? ` by ${d.shippingMethod}` : ''}.`,
      d.trackingNumber ? `Tracking number: ${d.trackingNumber}${d.carrier ? ` (${d.carrier})` : ''}` : '',
      address ? `It is going to: ${address}` : '',
      '',
      `Track your order: ${d.orderUrl}`,
    ]
      .filter((l, i, all) => l !== '' || all[i - 1] !== '')
      .join('\n');
  },
});
